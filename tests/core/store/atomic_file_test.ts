import assert from "node:assert/strict";
import { recordingFs, withTempDir } from "../../support/helpers.ts";
import { join } from "node:path";
import { createAtomicFile } from "../../../src/core/store/atomic_file.ts";
import { TelemetryError } from "../../../src/core/errors.ts";
import { StoreFaultError } from "../../../src/core/store/store_fault.ts";
import { denoFileSystem, type FileSystem } from "../../../src/core/store/file_system.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("createAtomicFile() commits every byte, including the tail under 64 KiB", async () => {
  await withTempDir(async (dir) => {
    const data = new Uint8Array(65_536 * 3 + 123).map((_, i) => (i * 7919) % 251);
    const file = await createAtomicFile(join(dir, "m"));
    await ReadableStream.from([data.subarray(0, 1000), data.subarray(1000)]).pipeTo(file.writable);
    const final = join(dir, "m", "raw.json.gz");
    assert.deepEqual(await names(join(dir, "m")), [file.tempPath.split("/").pop()]);
    await file.commit(final);
    assert.deepEqual(await Deno.readFile(final), data);
    assert.equal(file.bytesWritten, data.length);
    assert.deepEqual(await names(join(dir, "m")), ["raw.json.gz"]);
    await file.abort(); // no-op after commit
    assert.deepEqual(await names(join(dir, "m")), ["raw.json.gz"]);
  });
});

Deno.test("createAtomicFile() abort leaves neither the final file nor the temp", async () => {
  await withTempDir(async (dir) => {
    const file = await createAtomicFile(dir);
    const writer = file.writable.getWriter();
    await writer.write(new Uint8Array(10));
    await file.abort();
    await file.abort();
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("createAtomicFile() commit can move the file into a sibling directory", async () => {
  await withTempDir(async (dir) => {
    const file = await createAtomicFile(dir);
    await ReadableStream.from([new Uint8Array([1, 2, 3])]).pipeTo(file.writable);
    await file.commit(join(dir, "matchID=x", "raw.json.gz"));
    assert.deepEqual(
      await Deno.readFile(join(dir, "matchID=x", "raw.json.gz")),
      new Uint8Array([1, 2, 3]),
    );
    assert.deepEqual(await names(dir), ["matchID=x"]);
  });
});

/** A file system whose writes fail as on a full disk (ENOSPC); the rest is real. */
const FULL_DISK: FileSystem = {
  ...denoFileSystem,
  async create(path) {
    const real = await denoFileSystem.create(path);
    return {
      write: () => Promise.reject(new Error("No space left on device (os error 28)")),
      sync: () => real.sync(),
      close: () => real.close(),
    };
  },
};

Deno.test("createAtomicFile() turns a failing write (disk full) into a transient io error", async () => {
  await withTempDir(async (dir) => {
    const file = await createAtomicFile(dir, { fs: FULL_DISK });
    await assert.rejects(
      ReadableStream.from([new Uint8Array(5)]).pipeTo(file.writable),
      (err: unknown) =>
        err instanceof TelemetryError && err.kind === "transient" && err.code === "io",
    );
    await file.abort();
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("createAtomicFile() with dataDir turns a full disk into a store fault naming the temp and the free space", async () => {
  await withTempDir(async (dir) => {
    const file = await createAtomicFile(join(dir, "matchID=m"), { fs: FULL_DISK, dataDir: dir });
    await assert.rejects(
      ReadableStream.from([new Uint8Array(5)]).pipeTo(file.writable),
      (err: unknown) => {
        assert.ok(err instanceof StoreFaultError);
        assert.equal(err.kind, "store");
        assert.equal(err.code, "store_full");
        assert.equal(err.fault.op, "write");
        assert.equal(err.fault.path, file.tempPath);
        assert.match(err.message, /: no space left on device \(ENOSPC\); .* free of /);
        return true;
      },
    );
    await file.abort();
  });
});

Deno.test("createAtomicFile() with dataDir turns a read-only rename and a failing directory fsync into store faults", async () => {
  await withTempDir(async (dir) => {
    const readOnly: FileSystem = {
      ...denoFileSystem,
      rename: () => Promise.reject(new Error("Read-only file system (os error 30)")),
    };
    const file = await createAtomicFile(dir, { fs: readOnly, dataDir: dir });
    await assert.rejects(file.commit(join(dir, "final")), (err: unknown) => {
      assert.ok(err instanceof StoreFaultError);
      assert.equal(err.code, "store_read_only");
      assert.equal(err.fault.op, "rename");
      assert.equal(err.fault.to, join(dir, "final"));
      return true;
    });
    assert.deepEqual(await names(dir), [], "the temp is removed");
    const failingDir: FileSystem = {
      ...denoFileSystem,
      syncDir: () => Promise.reject(new Error("Input/output error (os error 5)")),
    };
    const second = await createAtomicFile(dir, { fs: failingDir, dataDir: dir });
    await assert.rejects(
      second.commit(join(dir, "final")),
      (err: unknown) => err instanceof StoreFaultError && err.code === "store_io",
    );
  });
});

Deno.test("createAtomicFile() removes the temp when the rename fails", async () => {
  await withTempDir(async (dir) => {
    const failingRename: FileSystem = {
      ...denoFileSystem,
      rename: () => Promise.reject(new Error("EXDEV")),
    };
    const file = await createAtomicFile(dir, { fs: failingRename });
    await ReadableStream.from([new Uint8Array(5)]).pipeTo(file.writable);
    await assert.rejects(file.commit(join(dir, "raw.json.gz")), /cannot commit/);
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("createAtomicFile() replaces an existing final file atomically", async () => {
  await withTempDir(async (dir) => {
    const final = join(dir, "raw.json.gz");
    await Deno.writeFile(final, new Uint8Array([9]));
    const file = await createAtomicFile(dir);
    await ReadableStream.from([new Uint8Array([1])]).pipeTo(file.writable);
    await file.commit(final);
    assert.deepEqual(await Deno.readFile(final), new Uint8Array([1]));
  });
});

Deno.test("createAtomicFile() commit fsyncs the file's directory and its parent", async () => {
  await withTempDir(async (dir) => {
    const synced: string[] = [];
    const matchDir = join(dir, "matchID=new");
    const file = await createAtomicFile(matchDir, { fs: recordingFs("syncDir", synced) });
    await ReadableStream.from([new Uint8Array([1])]).pipeTo(file.writable);
    await file.commit(join(matchDir, "raw.json.gz"));
    assert.deepEqual(synced.sort(), [dir, matchDir].sort());
  });
});

Deno.test("createAtomicFile() closes the file and removes the temp when the fsync fails", async () => {
  await withTempDir(async (dir) => {
    let closed = 0;
    const fs: FileSystem = {
      ...denoFileSystem,
      async create(path) {
        const real = await denoFileSystem.create(path);
        return {
          write: (bytes) => real.write(bytes),
          sync: () => Promise.reject(new Error("EIO: fsync failed")),
          close: () => {
            closed++;
            real.close();
          },
        };
      },
    };
    const file = await createAtomicFile(dir, { fs });
    await ReadableStream.from([new Uint8Array(100)]).pipeTo(file.writable);
    const err = await file.commit(join(dir, "raw.json.gz")).catch((e) => e);
    assert.ok(err instanceof TelemetryError && err.code === "io", String(err));
    assert.equal(closed, 1, "the handle is closed once");
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("createAtomicFile() removeOrphans reads a directory that was there, not one it just made", async () => {
  await withTempDir(async (dir) => {
    const scanned: string[] = [];
    const recording = recordingFs("removeOrphanedTemps", scanned);
    const matchDir = join(dir, "matchID=fresh");
    const first = await createAtomicFile(matchDir, { fs: recording, removeOrphans: true });
    assert.deepEqual(scanned, [], "a directory made by this call holds no orphans");
    // A temp file no live writer holds, as a killed process leaves it.
    const orphan = join(matchDir, ".raw.json.gz.0123456789ab.tmp");
    await Deno.writeFile(orphan, new Uint8Array([1]));
    const second = await createAtomicFile(matchDir, { fs: recording, removeOrphans: true });
    assert.deepEqual(scanned, [matchDir]);
    await assert.rejects(Deno.stat(orphan), Deno.errors.NotFound);
    // The live temp file of the first writer is kept.
    assert.ok((await Deno.stat(first.tempPath)).isFile);
    await first.abort();
    await second.abort();
  });
});
