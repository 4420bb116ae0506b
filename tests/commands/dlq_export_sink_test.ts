import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AsyncWriter,
  EXPORT_BUFFER_BYTES,
  exportFileSink,
  exportStreamSink,
  exportTempPath,
  writeExport,
} from "../../src/commands/dlq_export_sink.ts";

const decoder = new TextDecoder();
const PARTIAL = /^\.dlq\.ndjson\.[0-9a-f]{12}\.partial$/;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "export-sink-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}

/** A writer that takes nothing until `release()`, like a pipe nobody reads. */
class StalledWriter implements AsyncWriter {
  readonly chunks: Uint8Array[] = [];
  #release: () => void = () => {};
  #released = new Promise<void>((resolve) => this.#release = resolve);
  writes = 0;

  async write(p: Uint8Array): Promise<number> {
    this.writes++;
    await this.#released;
    this.chunks.push(p.slice());
    return p.length;
  }

  release(): void {
    this.#release();
  }

  text(): string {
    return this.chunks.map((chunk) => decoder.decode(chunk)).join("");
  }
}

/** Settles `promise` or gives up after a few turns of the event loop. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return settled;
}

Deno.test("exportTempPath() names the temp file after the export, beside it", () => {
  const a = exportTempPath("/srv/out/dlq.ndjson");
  assert.match(a, /^\/srv\/out\/\.dlq\.ndjson\.[0-9a-f]{12}\.partial$/);
  assert.notEqual(a, exportTempPath("/srv/out/dlq.ndjson"));
  assert.doesNotMatch(a, /raw\.json\.gz|\.tmp$/);
});

Deno.test("exportFileSink() writes into .<name>.<hex>.partial and renames it on commit", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "dlq.ndjson");
    const sink = await exportFileSink(path);
    const line = "x".repeat(1000);
    for (let i = 0; i < 100; i++) await sink.write(line);
    const during = names(dir);
    assert.equal(during.length, 1);
    assert.match(during[0] ?? "", PARTIAL);
    await sink.commit();
    await sink.abort(); // a no-op after the commit
    assert.deepEqual(names(dir), ["dlq.ndjson"]);
    assert.equal(await Deno.readTextFile(path), `${line}\n`.repeat(100));
  });
});

Deno.test("exportFileSink() abort removes the temp file and leaves no output", async () => {
  await withDir(async (dir) => {
    const sink = await exportFileSink(join(dir, "dlq.ndjson"));
    for (let i = 0; i < 200; i++) await sink.write("y".repeat(1000));
    await sink.abort();
    await sink.abort();
    assert.deepEqual(names(dir), []);
  });
});

Deno.test("exportFileSink() a failed commit leaves nothing once aborted", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "dlq.ndjson");
    await Deno.mkdir(join(path, "occupied"), { recursive: true }); // rename onto a non-empty dir fails
    const sink = await exportFileSink(path);
    await sink.write("{}");
    await assert.rejects(sink.commit());
    await sink.abort();
    assert.deepEqual(names(dir), ["dlq.ndjson"]);
    assert.ok((await Deno.stat(path)).isDirectory);
  });
});

Deno.test("exportFileSink() refuses a directory that does not exist", async () => {
  await withDir(async (dir) => {
    await assert.rejects(exportFileSink(join(dir, "no", "x.ndjson")), /no such directory/);
  });
});

Deno.test("exportStreamSink() waits for a stalled reader without blocking the event loop", async () => {
  const target = new StalledWriter();
  const sink = exportStreamSink(target);
  const line = "z".repeat(1023); // 1 KiB with its newline
  // Below the buffer's size nothing waits, although the reader takes nothing.
  for (let i = 0; i < EXPORT_BUFFER_BYTES / 1024 - 1; i++) await sink.write(line);
  assert.equal(target.writes, 1, "the first record is on its way, the rest wait in memory");
  // Past it, write() waits for the reader, and timers (the broker's heartbeats) still run.
  const waiting = sink.write(line).then(() => sink.write(line));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const settled = await settledSoon(waiting);
  clearInterval(timer);
  assert.equal(settled, false, "write() must wait for the reader");
  assert.ok(ticks > 0, "the event loop must keep running while the reader stalls");
  target.release();
  await waiting;
  await sink.commit();
  assert.equal(target.text(), `${line}\n`.repeat(EXPORT_BUFFER_BYTES / 1024 + 1));
});

Deno.test("exportStreamSink() stops waiting for a stalled reader when its signal aborts", async () => {
  const target = new StalledWriter();
  const controller = new AbortController();
  const sink = exportStreamSink(target, { signal: controller.signal });
  const line = "w".repeat(4095);
  let writing = Promise.resolve();
  for (let i = 0; i < 40; i++) writing = writing.then(() => sink.write(line));
  assert.equal(await settledSoon(writing), false);
  controller.abort();
  await writing;
  await assert.rejects(sink.commit(), /interrupted before all of the output was written/);
  await sink.abort();
  target.release();
});

Deno.test("exportStreamSink() reports a reader that went away on the next write or commit", async () => {
  const sink = exportStreamSink({
    write: () => Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)")),
  });
  await sink.write("{}");
  await new Promise((resolve) => setTimeout(resolve, 0));
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 3; i++) await sink.write("{}");
      await sink.commit();
    })(),
    /Broken pipe/,
  );
  await sink.abort();
});

Deno.test("writeExport() commits a complete read and drops an incomplete one", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "dlq.ndjson");
    const read = async (write: (line: string) => Promise<void>) => {
      await write('{"n":1}');
      return { failure: undefined as string | undefined };
    };
    const complete = (result: { failure: string | undefined }) => result.failure === undefined;
    const written = await writeExport(path, read, { complete });
    assert.deepEqual(written, { read: { failure: undefined } });
    assert.equal(await Deno.readTextFile(path), '{"n":1}\n');
    await Deno.remove(path);
    const stopped = await writeExport(path, read, { complete: () => false });
    assert.equal(stopped.error, undefined, "the read's own failure is the caller's to report");
    assert.deepEqual(names(dir), [], "no output, no temp file");
  });
});

Deno.test("writeExport() says whether the output could not be opened or written", async () => {
  await withDir(async (dir) => {
    const nowhere = await writeExport(join(dir, "no/x.ndjson"), () => Promise.resolve(1), {
      complete: () => true,
    });
    assert.equal(nowhere.error?.kind, "open");
    assert.match(nowhere.error?.message ?? "", /^no such directory: /);
    const broken = await writeExport("-", async (write) => {
      await write("x");
      throw new Error("Broken pipe\n(os error 32)");
    }, { complete: () => true, stdout: { write: () => Promise.resolve(1) } });
    assert.deepEqual(broken.error, { kind: "write", message: "Broken pipe (os error 32)" });
  });
});
