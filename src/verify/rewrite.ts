/**
 * Repair of `double_gzip` and `not_gzip` files: the same JSON, stored as one
 * gzip layer, validated again, and committed atomically over the original.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { createAtomicFile } from "../core/store/atomic_file.ts";
import { DEFAULT_MAX_DECOMPRESSED_BYTES, ingest } from "../core/content/ingest.ts";
import { assertUnchanged, readFileStream } from "./file_stream.ts";
import type { FileIdentity } from "./result.ts";

/** Options of {@linkcode rewriteSingleGzip}. */
export interface RewriteOptions {
  /** The match the content must belong to; not checked when undefined. */
  expectedMatchId?: string | undefined;
  /**
   * Decompressed size cap.
   * @default {4 GiB}
   */
  maxDecompressedBytes?: number;
  /** The file's identity when audited: a file that changed since is not replaced. */
  identity?: FileIdentity | undefined;
  /**
   * The data dir the file is in: a write the store refuses (full,
   * read-only, an I/O error) is then a `StoreFaultError` (kind `store`).
   */
  dataDir?: string | undefined;
}

/** What {@linkcode rewriteSingleGzip} wrote. */
export interface RewriteResult {
  /** Size of the new file. */
  bytes: number;
  /** Gzip layers the original had (0 or 2+). */
  fromLayers: number;
  /** Events in the content. */
  events: number;
}

/**
 * Rewrites a file as a single gzip of its JSON content: one streaming pass
 * into a temp file in the same directory (the innermost gzip is copied as
 * is; plain JSON is compressed), a second pass that validates the temp file
 * as single gzip of the same content, then fsync and rename over the
 * original. If anything fails, or the original changed meanwhile, the temp
 * file is removed and the original is left untouched; a crash leaves at worst
 * a temp file that a later `--fix` removes.
 *
 * @param path The `raw.json.gz` to rewrite.
 * @param options Expected match id, size cap, audited identity.
 * @returns What was written.
 * @throws {TelemetryError} when the content is not valid telemetry; {Error}
 * when the file is already single gzip, changed, or cannot be written.
 *
 * @example
 * ```ts ignore
 * import { rewriteSingleGzip } from "./rewrite.ts";
 * await rewriteSingleGzip("/data/matchID=abc/raw.json.gz", { expectedMatchId: "abc" });
 * ```
 */
export async function rewriteSingleGzip(
  path: string,
  options: RewriteOptions = {},
): Promise<RewriteResult> {
  const {
    expectedMatchId,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    identity,
    dataDir,
  } = options;
  const check = {
    ...(expectedMatchId === undefined ? {} : { expectedMatchId }),
    maxDecompressedBytes,
  };
  // Before opening: a file replaced since the audit (by a FIFO, say) is not opened.
  await assertUnchanged(path, identity);
  const temp = await createAtomicFile(dirname(path), { dataDir });
  try {
    const first = await withFile(
      path,
      (stream) => ingest(stream, { ...check, sink: temp.writable }),
    );
    if (first.gzipLayers === 1) throw new Error(`${basename(path)} is already single gzip`);
    const second = await withFile(temp.tempPath, (stream) => ingest(stream, check));
    if (
      second.gzipLayers !== 1 || second.contentBytes !== first.contentBytes ||
      second.events !== first.events
    ) {
      throw new Error(
        `the rewritten file did not validate as the same content in one gzip layer (${second.gzipLayers} layers, ${second.contentBytes} bytes)`,
      );
    }
    await assertUnchanged(path, identity);
    await temp.commit(path);
    return { bytes: temp.bytesWritten, fromLayers: first.gzipLayers, events: first.events };
  } finally {
    await temp.abort();
  }
}

async function withFile<T>(
  path: string,
  use: (stream: ReadableStream<Uint8Array>) => Promise<T>,
): Promise<T> {
  const file = await Deno.open(path, { read: true });
  try {
    return await use(readFileStream(file));
  } finally {
    file.close();
  }
}
