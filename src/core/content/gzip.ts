/**
 * Gzip detection and streaming decompression (multi-member aware).
 *
 * {@linkcode GunzipStream} runs on `node:zlib`, which (unlike
 * `DecompressionStream`) accepts several concatenated gzip members and
 * reports the reason of a failure (bad CRC, cut file, trailing garbage).
 *
 * @module
 */

import { constants, createGunzip, gunzipSync } from "node:zlib";
import type { Gunzip } from "node:zlib";
import { TelemetryError } from "../errors.ts";

/** zlib output buffer size: large buffers are markedly faster. */
const ZLIB_CHUNK_SIZE = 256 * 1024;

/**
 * Compressed bytes handed to zlib at a time, so that one input chunk cannot
 * expand without bound before the size limit is checked.
 */
const MAX_INPUT_SLICE = 64 * 1024;

/**
 * Whether bytes start with the gzip magic `1f 8b`.
 *
 * @param head The first bytes of some content (at least 2 for a true answer).
 * @returns True when the magic is there.
 *
 * @example
 * ```ts
 * import { isGzip } from "./gzip.ts";
 * if (!isGzip(new Uint8Array([0x1f, 0x8b, 8]))) throw new Error("unexpected");
 * ```
 */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Options of {@linkcode GunzipStream}. */
export interface GunzipStreamOptions {
  /**
   * Fail with code `too_large` once more than this many bytes were produced.
   * @default {Infinity}
   */
  maxOutputBytes?: number;
}

/** Mutable state shared by the transformer callbacks and the getters. */
interface GunzipState {
  zlib: Gunzip | undefined;
  /** Compressed bytes zlib has consumed. */
  bytesIn: number;
  /** Compressed bytes handed to zlib (consumed or being consumed). */
  bytesFed: number;
  bytesOut: number;
  /** Set when the stream was cancelled or aborted. */
  cancelled: boolean;
  /** Set once zlib was told that the input is complete. */
  flushing: boolean;
  /** Called when zlib reports the end of its output after the input was complete. */
  onEnd: (() => void) | undefined;
  /** The first failure; once set, every callback rejects with it. */
  error: TelemetryError | undefined;
  /** Called when zlib fails, to wake up whoever waits on zlib. */
  onError: ((err: unknown) => void) | undefined;
}

/**
 * Decompresses gzip: one member or several concatenated ones (their outputs
 * are concatenated, as `gzip -d` does). Any data after the last member is
 * an error, zero padding included (zlib would stop at zero bytes and ignore
 * everything after them).
 *
 * Flow control: a chunk is written to zlib in slices of at most 64 KiB and
 * {@linkcode TransformStream}'s `transform` resolves only once zlib has
 * consumed it, so memory stays flat. Cancelling or aborting the stream
 * destroys the zlib handle.
 *
 * Errors are {@linkcode TelemetryError}s of kind `permanent`, with `offset`
 * set to the decompressed bytes produced before the failure:
 * - `truncated`: the input is empty or ends inside a member;
 * - `corrupt`: not gzip (bad magic), bad header, invalid deflate data, CRC or
 *   length mismatch, or trailing garbage;
 * - `too_large`: more than `maxOutputBytes` bytes of output.
 *
 * @example Round trip
 * ```ts
 * import { GunzipStream } from "./gzip.ts";
 * const gz = ReadableStream.from([new TextEncoder().encode("[{}]")]).pipeThrough(new CompressionStream("gzip"));
 * const text = await new Response(gz.pipeThrough(new GunzipStream())).text();
 * if (text !== "[{}]") throw new Error("unexpected");
 * ```
 */
export class GunzipStream extends TransformStream<Uint8Array, Uint8Array> {
  #state: GunzipState;

  /**
   * Creates the stage; the zlib handle is opened when the stream starts.
   *
   * @param options The output limit.
   * @throws {RangeError} when `maxOutputBytes` is not a positive number.
   */
  constructor(options: GunzipStreamOptions = {}) {
    const { maxOutputBytes = Infinity } = options;
    if (!(maxOutputBytes > 0)) {
      throw new RangeError(
        `Cannot decompress as 'maxOutputBytes' must be a positive number: current value is ${maxOutputBytes}`,
      );
    }
    const state: GunzipState = {
      zlib: undefined,
      bytesIn: 0,
      bytesFed: 0,
      bytesOut: 0,
      cancelled: false,
      flushing: false,
      onEnd: undefined,
      error: undefined,
      onError: undefined,
    };

    function fail(err: TelemetryError): void {
      if (state.error !== undefined) return;
      state.error = err;
      state.zlib?.destroy();
      state.onError?.(err);
    }

    super({
      start(controller) {
        const zlib = createGunzip({ chunkSize: ZLIB_CHUNK_SIZE });
        state.zlib = zlib;
        zlib.on("data", (data: Uint8Array) => {
          if (state.error !== undefined || state.cancelled) return;
          state.bytesOut += data.length;
          if (state.bytesOut > maxOutputBytes) {
            fail(
              new TelemetryError(
                "permanent",
                "too_large",
                `decompressed content exceeds ${maxOutputBytes} bytes`,
                { offset: maxOutputBytes },
              ),
            );
            return;
          }
          try {
            controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
          } catch (err) {
            // The readable side is gone (cancelled or errored): stop zlib.
            state.cancelled = true;
            state.zlib?.destroy();
            state.onError?.(err);
          }
        });
        zlib.on("error", (err: unknown) => fail(toTelemetryError(err, state)));
        zlib.on("end", () => {
          if (state.flushing) {
            state.onEnd?.();
            return;
          }
          // zlib stops by itself only at zero bytes where a next member
          // should start, and then ignores whatever follows: refuse it.
          fail(
            new TelemetryError(
              "permanent",
              "corrupt",
              `corrupt gzip data (zero bytes after the end of a member) within the first ${state.bytesFed} compressed bytes, after ${state.bytesOut} decompressed bytes`,
              { offset: state.bytesOut },
            ),
          );
        });
      },

      async transform(chunk) {
        if (state.error !== undefined) throw state.error;
        const zlib = state.zlib!;
        if (state.bytesIn < 2 && chunk.length > 0) {
          const bad = checkMagic(chunk, state.bytesIn);
          if (bad !== undefined) {
            fail(bad);
            throw bad;
          }
        }
        for (let offset = 0; offset < chunk.length; offset += MAX_INPUT_SLICE) {
          const slice = chunk.subarray(offset, offset + MAX_INPUT_SLICE);
          state.bytesFed += slice.length;
          await untilDoneOrFailed(state, (resolve) => {
            zlib.write(slice, () => resolve());
          });
          state.bytesIn += slice.length;
        }
      },

      async flush() {
        if (state.error !== undefined) throw state.error;
        if (state.bytesIn === 0) {
          fail(
            new TelemetryError("permanent", "truncated", "gzip stream is empty", {
              offset: 0,
              endOfInput: true,
            }),
          );
          throw state.error;
        }
        const zlib = state.zlib!;
        state.flushing = true;
        await untilDoneOrFailed(state, (resolve) => {
          state.onEnd = resolve;
          zlib.end();
        });
        zlib.destroy();
      },

      cancel() {
        state.cancelled = true;
        state.zlib?.destroy();
      },
    });
    this.#state = state;
  }

  /** Compressed bytes consumed so far. */
  get bytesIn(): number {
    return this.#state.bytesIn;
  }

  /** Decompressed bytes produced so far. */
  get bytesOut(): number {
    return this.#state.bytesOut;
  }
}

/** Input sizes tried, smallest first, by {@linkcode decodeGzipPrefix}. */
const PREFIX_PROBE_SIZES = [512, 4096, 32_768];

/** Options of {@linkcode decodeGzipPrefix}. */
export interface DecodeGzipPrefixOptions {
  /** Stop once at least this many bytes are decoded. @default {2} */
  minBytes?: number;
}

/**
 * Decodes the start of a (possibly incomplete) gzip stream, to see what the
 * content starts with (for example gzip inside gzip). It decodes as little
 * as it can: the first 512 input bytes, then 4 KiB, 32 KiB, then all of
 * `head`, stopping as soon as `minBytes` came out — a job's worth of
 * decompression would otherwise be spent just to read two bytes.
 *
 * @param head The first bytes of a gzip stream.
 * @param options How many decoded bytes are enough.
 * @returns The decompressed bytes the tried prefix yields (at least
 * `minBytes` when `head` allows), or undefined when it cannot be decoded
 * (not gzip, corrupt).
 *
 * @example Peek inside a gzip prefix
 * ```ts
 * import { decodeGzipPrefix } from "./gzip.ts";
 * import { gzipSync } from "node:zlib";
 * const gz = gzipSync(new TextEncoder().encode("[{}]".repeat(1000)));
 * const start = decodeGzipPrefix(gz.subarray(0, 20));
 * if (start === undefined) throw new Error("unexpected");
 * ```
 */
export function decodeGzipPrefix(
  head: Uint8Array,
  options: DecodeGzipPrefixOptions = {},
): Uint8Array | undefined {
  const { minBytes = 2 } = options;
  if (!isGzip(head)) return undefined;
  const sizes = [...PREFIX_PROBE_SIZES.filter((n) => n < head.length), head.length];
  let out: Uint8Array | undefined;
  for (const size of sizes) {
    try {
      const decoded = gunzipSync(head.subarray(0, size), { finishFlush: constants.Z_SYNC_FLUSH });
      out = new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
    } catch {
      return undefined;
    }
    if (out.length >= minBytes) return out;
  }
  return out;
}

/**
 * Runs `start`, which calls `resolve` when zlib is done, and settles when
 * that happens or when zlib fails first (rejecting with the failure).
 */
function untilDoneOrFailed(
  state: GunzipState,
  start: (resolve: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    state.onError = reject;
    start(resolve);
  }).finally(() => {
    state.onError = undefined;
  }).then(() => {
    if (state.error !== undefined) throw state.error;
  });
}

/** A `corrupt` error when the first two bytes (at input offsets 0 and 1) are not the gzip magic. */
function checkMagic(chunk: Uint8Array, bytesIn: number): TelemetryError | undefined {
  const expected = [0x1f, 0x8b];
  for (let k = 0; k + bytesIn < 2 && k < chunk.length; k++) {
    if (chunk[k] !== expected[k + bytesIn]) {
      return new TelemetryError(
        "permanent",
        "corrupt",
        `not gzip: bad magic (byte ${k + bytesIn} is 0x${
          chunk[k]!.toString(16).padStart(2, "0")
        }, expected 0x${expected[k + bytesIn]!.toString(16)})`,
        { offset: 0 },
      );
    }
  }
  return undefined;
}

/** Maps a zlib error to a {@linkcode TelemetryError}. */
function toTelemetryError(err: unknown, state: GunzipState): TelemetryError {
  const code = (err as { code?: unknown }).code;
  const reason = err instanceof Error ? err.message : String(err);
  if (code === "Z_BUF_ERROR") {
    return new TelemetryError(
      "permanent",
      "truncated",
      `gzip stream ends early after ${state.bytesFed} compressed bytes (file truncated?)`,
      { offset: state.bytesOut, cause: err, endOfInput: true },
    );
  }
  return new TelemetryError(
    "permanent",
    "corrupt",
    `corrupt gzip data (${reason}) within the first ${state.bytesFed} compressed bytes, after ${state.bytesOut} decompressed bytes`,
    { offset: state.bytesOut, cause: err },
  );
}
