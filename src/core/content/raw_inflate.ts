/**
 * Synchronous raw inflate of deflate data held in memory, through public
 * `node:zlib` APIs only: `inflateRawSync` with `info: true`, whose engine's
 * `bytesWritten` (the input it consumed) says where the deflate data ends.
 *
 * Each call opens a zlib handle and closes it before returning: no handle
 * outlives a call. What a closed handle leaves behind (some hundreds of bytes,
 * mostly outside the JavaScript heap) is freed only by a full collection,
 * which V8 runs rarely while its heap stays small, so over many small files
 * it piles up: `verify --jobs 1` peaked 10-20 MB higher at 30,000 files than
 * at 3,000, and about 40 MB higher at 100,000. So every
 * {@linkcode FULL_GC_EVERY_CALLS} calls, when the runtime exposes `gc()`
 * (the binary runs with `--expose-gc`, see `src/core/content/memory.ts`),
 * one full collection runs: measured, the growth from 3,000 to 30,000 files
 * fell to 2-10 MB, and the peak at 100,000 from 111-118 MB to 92-93 MB, for
 * 12-18% more CPU time over such small files (a forced full collection took
 * 50-90 ms of CPU there). Large files are streamed and never come here.
 *
 * @module
 */

import { inflateRawSync } from "node:zlib";

/** Calls of {@linkcode inflateRawWhole} between two forced full collections. */
export const FULL_GC_EVERY_CALLS = 4096;

/** Output buffer size without a size hint (zlib's default chunk). */
const DEFAULT_CHUNK_BYTES = 16 * 1024;
/** Smallest output buffer for a size hint. */
const MIN_CHUNK_BYTES = 4 * 1024;

type GcFunction = (options?: { type?: "minor" | "major" }) => void;

/** Calls since the last forced full collection, in this thread. */
let callsSinceFullGc = 0;

/** What {@linkcode inflateRawWhole} gives. */
export interface RawInflateResult {
  /** The inflated bytes. */
  output: Uint8Array;
  /** Input bytes the deflate data took; what follows is not deflate data (a gzip trailer). */
  used: number;
}

/** Options of {@linkcode inflateRawWhole}. */
export interface RawInflateOptions {
  /** Give up beyond this many output bytes. */
  maxOutputBytes: number;
  /** The expected output size (a gzip trailer says it), to size the output at once. */
  sizeHint?: number;
}

/** What `inflateRawSync` gives with `info: true` (Node.js documents both fields). */
interface InflateInfo {
  /** A `Buffer`: given on as a plain `Uint8Array` view of the same bytes. */
  buffer: Uint8Array;
  engine: { bytesWritten: number };
}

/**
 * Inflates one complete raw deflate stream from the start of `input`.
 *
 * @param input Deflate data, possibly followed by other bytes.
 * @param options Output limit and size hint.
 * @returns The output and the input bytes used; undefined when the data is
 * not one complete valid deflate stream, or gives more than `maxOutputBytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deflateRawSync } from "node:zlib";
 * import { inflateRawWhole } from "./raw_inflate.ts";
 * const data = deflateRawSync(new TextEncoder().encode("[{}]"));
 * const result = inflateRawWhole(data, { maxOutputBytes: 1024 });
 * assert.equal(result?.output.length, 4);
 * assert.equal(result?.used, data.length);
 * assert.equal(inflateRawWhole(data.subarray(0, 2), { maxOutputBytes: 1024 }), undefined);
 * ```
 */
export function inflateRawWhole(
  input: Uint8Array,
  options: RawInflateOptions,
): RawInflateResult | undefined {
  const { maxOutputBytes, sizeHint = 0 } = options;
  if (++callsSinceFullGc >= FULL_GC_EVERY_CALLS) {
    callsSinceFullGc = 0;
    (globalThis as { gc?: GcFunction }).gc?.({ type: "major" });
  }
  // Output buffers of the hinted size, plus one spare byte (a stream that
  // fills its buffer exactly then ends in one); never tiny, as a hint may be
  // wrong (the last member's size, given for every member).
  const chunkSize = sizeHint > 0
    ? Math.max(MIN_CHUNK_BYTES, Math.min(sizeHint, maxOutputBytes, 64 * input.length + 65536) + 1)
    : DEFAULT_CHUNK_BYTES;
  try {
    // finishFlush stays Z_FINISH: a stream cut short throws ("unexpected end of file").
    const { buffer, engine } = inflateRawSync(input, {
      info: true,
      chunkSize,
      maxOutputLength: Math.max(1, maxOutputBytes),
    }) as unknown as InflateInfo;
    if (buffer.length > maxOutputBytes) return undefined;
    // A runtime that counted bytesWritten otherwise would put the trailer
    // elsewhere: the caller's CRC and length check would fail, never pass.
    const output = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
    return { output, used: engine.bytesWritten };
  } catch {
    return undefined;
  }
}
