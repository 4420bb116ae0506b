/**
 * Where `telemetry dlq export` writes its NDJSON records: a file, written
 * to a temp file beside it and renamed when complete, or stdout, written
 * asynchronously so that a slow reader pauses the export instead of the
 * whole process (the broker connection's heartbeats keep flowing).
 *
 * The temp file is named for the export: `.<name>.<hex>.partial` beside
 * `<name>`. It is removed when the export fails or is interrupted (SIGINT,
 * SIGTERM); only a `kill -9` or a crash leaves it, and then its name says
 * what it is: delete it by hand.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { errorLine } from "../core/errors.ts";

/** Where `dlq export` writes its records. */
export interface ExportSink {
  /**
   * Writes one record (a line, without the newline). Waits while the
   * destination is behind; never waits past the sink's signal.
   */
  write(line: string): Promise<void>;
  /** Writes what is left and makes the output final (renames a file into place). */
  commit(): Promise<void>;
  /** Drops the output: a temp file is removed. Safe after commit (a no-op) and more than once. */
  abort(): Promise<void>;
}

/** Anything with an asynchronous `write`, like `Deno.stdout`. */
export interface AsyncWriter {
  /** Writes some of `p` and resolves with how many bytes it took. */
  write(p: Uint8Array): Promise<number>;
}

/** Bytes a sink gathers before it waits for the destination: 64 KiB. */
export const EXPORT_BUFFER_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/**
 * The temp file of an export into `path`: `.<name>.<hex>.partial` in the
 * same directory (so the rename is atomic).
 *
 * @param path The output file.
 * @returns The temp path, different on every call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportTempPath } from "./dlq_export_sink.ts";
 * assert.match(exportTempPath("/tmp/dlq.ndjson"), /^\/tmp\/\.dlq\.ndjson\.[0-9a-f]{12}\.partial$/);
 * ```
 */
export function exportTempPath(path: string): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return join(dirname(path), `.${basename(path)}.${hex}.partial`);
}

/**
 * A sink that writes into {@linkcode exportTempPath}`(path)` in batches of
 * {@linkcode EXPORT_BUFFER_BYTES}, and renames it onto `path` on commit
 * (after an fsync of the file, then of the directory). The directory must
 * exist: a typo does not create one.
 *
 * @param path The output file.
 * @returns The sink; `abort()` it unless it was committed.
 * @throws {Error} When the directory does not exist or the temp file cannot be created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportFileSink } from "./dlq_export_sink.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = await exportFileSink(`${dir}/out.ndjson`);
 * await sink.write('{"n":1}');
 * await sink.commit();
 * assert.equal(await Deno.readTextFile(`${dir}/out.ndjson`), '{"n":1}\n');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function exportFileSink(path: string): Promise<ExportSink> {
  const dir = dirname(path);
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info?.isDirectory) throw new Error(`no such directory: ${dir}`);
  const tempPath = exportTempPath(path);
  const file = await Deno.open(tempPath, { write: true, createNew: true });
  let closed = false;
  let renamed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  let batch: string[] = [];
  let size = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const bytes = encoder.encode(batch.join(""));
    batch = [];
    size = 0;
    await writeAll(file, bytes);
  };
  return {
    async write(line) {
      if (closed) throw new Error(`write after the end: ${tempPath}`);
      batch.push(line, "\n");
      size += line.length + 1;
      if (size >= EXPORT_BUFFER_BYTES) await flush();
    },
    async commit() {
      if (closed) throw new Error(`commit after the end: ${tempPath}`);
      await flush();
      await file.sync();
      close();
      await Deno.rename(tempPath, path);
      renamed = true;
      const handle = await Deno.open(dir);
      try {
        await handle.sync();
      } finally {
        handle.close();
      }
    },
    async abort() {
      if (renamed) return;
      batch = [];
      close();
      await Deno.remove(tempPath).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
    },
  };
}

/**
 * A sink that writes each record to `target` (stdout) as it comes, without
 * blocking the process: up to {@linkcode EXPORT_BUFFER_BYTES} wait in memory
 * while a write is under way, and past that {@linkcode ExportSink.write}
 * waits for the reader, or for `signal`. A write error (a reader that went
 * away: `Broken pipe`) comes back from the next `write` or from `commit`.
 *
 * @param target Where the records go, e.g. `Deno.stdout`.
 * @param options `signal` ends the waits (Ctrl-C while the reader stalls).
 * @returns The sink; `commit()` waits until everything was written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportStreamSink } from "./dlq_export_sink.ts";
 * const chunks: string[] = [];
 * const sink = exportStreamSink({
 *   write: (p) => {
 *     chunks.push(new TextDecoder().decode(p));
 *     return Promise.resolve(p.length);
 *   },
 * });
 * await sink.write('{"n":1}');
 * await sink.commit();
 * assert.equal(chunks.join(""), '{"n":1}\n');
 * ```
 */
export function exportStreamSink(
  target: AsyncWriter,
  options: { signal?: AbortSignal | undefined } = {},
): ExportSink {
  const { signal } = options;
  const stream = new WritableStream<Uint8Array>(
    { write: (chunk) => writeAll(target, chunk) },
    new ByteLengthQueuingStrategy({ highWaterMark: EXPORT_BUFFER_BYTES }),
  );
  const writer = stream.getWriter();
  let ended = false;
  return {
    async write(line) {
      await untilAborted(writer.ready, signal);
      if (signal?.aborted) return;
      // Its failure errors the stream, which the next `ready` or `close` reports.
      writer.write(encoder.encode(line + "\n")).catch(() => {});
    },
    async commit() {
      ended = true;
      let written = false;
      await untilAborted(writer.close().then(() => written = true), signal);
      if (!written) throw new Error("interrupted before all of the output was written");
    },
    abort() {
      if (!ended) {
        ended = true;
        // Not awaited: a reader that stalls would hold the command forever.
        writer.abort().catch(() => {});
      }
      return Promise.resolve();
    },
  };
}

/** What became of an export: the read's result, or why its output was not written. */
export type ExportResult<T> =
  | { read: T; error?: undefined }
  | { read?: undefined; error: { kind: "open" | "write"; message: string } };

/** Options of {@linkcode writeExport}. */
export interface WriteExportOptions<T> {
  /** Whether the read went through: only then is the output committed. */
  complete: (read: T) => boolean;
  /** Where `-` writes. @default {Deno.stdout} */
  stdout?: AsyncWriter | undefined;
  /** Ends the waits for a slow reader of stdout (Ctrl-C). */
  signal?: AbortSignal | undefined;
}

/**
 * Writes an export: opens the output before anything is read (a file that
 * cannot be written fails before the broker is touched), runs `read` with a
 * writer of records, commits when the read went through, and drops the
 * output otherwise (a temp file goes, also on Ctrl-C or SIGTERM).
 *
 * @param output The file, or `-` for stdout.
 * @param read Reads the records, handing each line to `write`; it throws only when `write` does.
 * @param options When to commit, stdout, and the stop signal.
 * @returns The read's result, or the error (kind `open` or `write`) of an output not written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeExport } from "./dlq_export_sink.ts";
 * const dir = await Deno.makeTempDir();
 * const result = await writeExport(`${dir}/out.ndjson`, async (write) => {
 *   await write('{"n":1}');
 *   return 1;
 * }, { complete: () => true });
 * assert.equal(result.read, 1);
 * assert.equal(await Deno.readTextFile(`${dir}/out.ndjson`), '{"n":1}\n');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeExport<T>(
  output: string,
  read: (write: (line: string) => Promise<void>) => Promise<T>,
  options: WriteExportOptions<T>,
): Promise<ExportResult<T>> {
  const { complete, stdout = Deno.stdout, signal } = options;
  let sink: ExportSink;
  try {
    sink = output === "-"
      ? exportStreamSink(stdout, { signal })
      : await exportFileSink(resolve(output));
  } catch (err) {
    return { error: { kind: "open", message: errorLine(err) } };
  }
  try {
    const result = await read((line) => sink.write(line));
    if (complete(result)) await sink.commit();
    return { read: result };
  } catch (err) {
    return { error: { kind: "write", message: errorLine(err) } };
  } finally {
    await sink.abort(); // a no-op after a commit
  }
}

/** Writes all of `bytes`, looping on partial writes. */
async function writeAll(target: AsyncWriter, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const written = await target.write(bytes.subarray(offset));
    if (written <= 0) throw new Deno.errors.WriteZero("Cannot write: the target took 0 bytes");
    offset += written;
  }
}

/** Waits for `promise`, or until `signal` aborts (then resolves). */
async function untilAborted(promise: Promise<unknown>, signal: AbortSignal | undefined) {
  if (signal === undefined) {
    await promise;
    return;
  }
  if (signal.aborted) {
    promise.catch(() => {});
    return;
  }
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => onAbort = resolve);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    promise.catch(() => {});
  }
}
