/**
 * Synchronous raw inflate of deflate data held in memory, on one zlib handle
 * per thread, reset for each stream. `inflateRawSync` opens a handle per
 * call: over many small files that costs about as much as the inflate, and
 * each handle leaves a few hundred bytes outside the JavaScript heap that
 * only a full collection frees — which V8 runs rarely while its heap stays
 * small (30,000 files left about 10 MB behind).
 *
 * The handle of a `node:zlib` `InflateRaw` is driven the way
 * `inflateRawSync` drives it inside `node:zlib` (its `_handle.writeSync` and
 * `_writeState`, as in Node.js). Where a runtime does not have them,
 * {@linkcode inflateRawWhole} falls back to `inflateRawSync`.
 *
 * @module
 */

import { constants, createInflateRaw, inflateRawSync } from "node:zlib";
import { concatBytes } from "./byte_streams.ts";

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

/** The parts of a zlib handle of `node:zlib` used here. */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): unknown;
  reset(): unknown;
  onerror: unknown;
}

/** This thread's handle: undefined until first use, null when the runtime has none to drive. */
let shared: { handle: ZlibHandle; state: Uint32Array; failed: boolean } | null | undefined;

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
 * import { inflateRawWhole } from "./raw_inflate.ts";
 * import { deflateRawSync } from "node:zlib";
 * const data = deflateRawSync(new TextEncoder().encode("[{}]"));
 * const result = inflateRawWhole(data, { maxOutputBytes: 1024 });
 * if (result?.output.length !== 4 || result.used !== data.length) throw new Error("unexpected");
 * ```
 */
export function inflateRawWhole(
  input: Uint8Array,
  options: RawInflateOptions,
): RawInflateResult | undefined {
  const { maxOutputBytes, sizeHint = 0 } = options;
  const engine = sharedEngine();
  if (engine === null) return withInflateRawSync(input, maxOutputBytes);
  const { handle, state } = engine;
  handle.reset();
  engine.failed = false;
  const parts: Uint8Array[] = [];
  let total = 0;
  let offset = 0;
  // One spare byte: a stream that fills its output exactly ends in one call.
  let size = Math.max(64, Math.min(sizeHint, maxOutputBytes, 64 * input.length + 65536) + 1);
  for (;;) {
    const out = new Uint8Array(size);
    const available = input.length - offset;
    handle.writeSync(constants.Z_FINISH, input, offset, available, out, 0, size);
    if (engine.failed) return undefined;
    const outLeft = state[0]!;
    const inLeft = state[1]!;
    const produced = size - outLeft;
    total += produced;
    if (total > maxOutputBytes) return undefined;
    parts.push(out.subarray(0, produced));
    offset += available - inLeft;
    if (outLeft !== 0) break;
    size = Math.max(64, Math.min(size * 2, maxOutputBytes - total + 1));
  }
  return { output: concatBytes(parts, total), used: offset };
}

function sharedEngine(): { handle: ZlibHandle; state: Uint32Array; failed: boolean } | null {
  if (shared !== undefined) return shared;
  shared = null;
  try {
    const inflater = createInflateRaw() as unknown as {
      _handle?: Partial<ZlibHandle>;
      _writeState?: unknown;
    };
    const handle = inflater._handle;
    const state = inflater._writeState;
    if (
      handle !== undefined && typeof handle.writeSync === "function" &&
      typeof handle.reset === "function" && state instanceof Uint32Array && state.length >= 2
    ) {
      const engine = { handle: handle as ZlibHandle, state, failed: false };
      // zlib reports a failure through this callback, during writeSync().
      engine.handle.onerror = () => engine.failed = true;
      shared = engine;
    }
  } catch {
    // No handle to drive: inflateRawSync it is.
  }
  return shared;
}

function withInflateRawSync(
  input: Uint8Array,
  maxOutputBytes: number,
): RawInflateResult | undefined {
  try {
    const inflated = inflateRawSync(input, {
      info: true,
      maxOutputLength: Math.max(1, maxOutputBytes),
    }) as unknown as { buffer: Uint8Array; engine: { bytesWritten: number } };
    if (inflated.buffer.length > maxOutputBytes) return undefined;
    return { output: inflated.buffer, used: inflated.engine.bytesWritten };
  } catch {
    return undefined;
  }
}
