/**
 * Reading a stored file as a byte stream, in large chunks, and telling
 * whether it changed since it was read.
 *
 * @module
 */

import type { FileIdentity } from "./result.ts";

/** Bytes read from a file at a time: large reads are markedly faster than 64 KiB ones. */
export const READ_CHUNK_SIZE = 256 * 1024;

/** Options of {@linkcode readFileStream}. */
export interface ReadFileStreamOptions {
  /** Called with the count of bytes read so far, after each read. */
  onBytes?: (bytesRead: number) => void;
  /** Called once with the first chunk read (not called for an empty file). */
  onFirstChunk?: (chunk: Uint8Array) => void;
}

/**
 * The bytes of an open file as a stream, counted as they are read. The stream
 * never closes the file: its opener does.
 *
 * @param file An open file, positioned at its start.
 * @param options Callbacks for the count of bytes read and for the first chunk.
 * @returns A pull-based stream (nothing is read ahead).
 *
 * @example
 * ```ts ignore
 * import { readFileStream } from "./file_stream.ts";
 * using file = await Deno.open("raw.json.gz");
 * const bytes = await new Response(readFileStream(file)).bytes();
 * ```
 */
export function readFileStream(
  file: Deno.FsFile,
  options: ReadFileStreamOptions = {},
): ReadableStream<Uint8Array> {
  const { onBytes, onFirstChunk } = options;
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(READ_CHUNK_SIZE);
      const n = await file.read(buffer);
      if (n === null) {
        controller.close();
        return;
      }
      const chunk = buffer.subarray(0, n);
      if (total === 0) onFirstChunk?.(chunk);
      total += n;
      onBytes?.(total);
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/**
 * Reads a small file whole, synchronously: one read for its bytes, one that
 * finds the end. A sync read is markedly cheaper than an async one for a
 * file of a few KiB in the page cache (no hop to a thread pool).
 *
 * @param file An open file, positioned at its start.
 * @param size Its size when opened (from `stat`).
 * @returns Its bytes; undefined when it holds more than `size` bytes (it
 * grew since), with the file positioned at its start again.
 *
 * @example
 * ```ts ignore
 * import { readWholeFileSync } from "./file_stream.ts";
 * using file = Deno.openSync("raw.json.gz");
 * const bytes = readWholeFileSync(file, file.statSync().size);
 * ```
 */
export function readWholeFileSync(file: Deno.FsFile, size: number): Uint8Array | undefined {
  const buffer = new Uint8Array(size + 1);
  let total = 0;
  while (total < buffer.length) {
    const n = file.readSync(buffer.subarray(total));
    if (n === null) return buffer.subarray(0, total);
    total += n;
  }
  file.seekSync(0, Deno.SeekMode.Start);
  return undefined;
}

/**
 * The identity of a file: inode, size and modification time.
 *
 * @param info The file's `stat`.
 * @returns Its identity.
 */
export function fileIdentity(info: Deno.FileInfo): FileIdentity {
  return { ino: info.ino, size: info.size, mtimeMs: info.mtime?.getTime() ?? null };
}

/**
 * Throws unless the file at `path` is still the one that was audited: a
 * download may have replaced it meanwhile, and that one must not be touched.
 *
 * @param path The file.
 * @param expected Its identity when audited; nothing is checked when undefined.
 * @returns When it is unchanged.
 * @throws {Error} when it changed, is gone, or is no longer a regular file.
 */
export async function assertUnchanged(
  path: string,
  expected: FileIdentity | undefined,
): Promise<void> {
  if (expected === undefined) return;
  // lstat: a symlink put in the file's place is a change, never followed.
  const info = await Deno.lstat(path);
  const now = fileIdentity(info);
  if (
    !info.isFile || now.ino !== expected.ino || now.size !== expected.size ||
    now.mtimeMs !== expected.mtimeMs
  ) {
    throw new Error(`${path} changed since it was audited (another writer?): left as it is`);
  }
}
