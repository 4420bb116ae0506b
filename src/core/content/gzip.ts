/**
 * Gzip detection and streaming decompression (multi-member aware).
 *
 * {@linkcode GunzipStream} reads the gzip framing itself (member headers and
 * trailers, see `gzip_header.ts`) and inflates the deflate data of each
 * member with `node:zlib`'s raw inflater. So it accepts several concatenated
 * members, knows where each one ends, and can say exactly what is wrong: a
 * bad CRC, a cut file, or data after the last member at which byte.
 *
 * @module
 */

import { constants, crc32, createInflateRaw, gunzipSync } from "node:zlib";
import type { InflateRaw } from "node:zlib";
import { TelemetryError } from "../errors.ts";
import {
  GZIP_TRAILER_BYTES,
  magicMismatch,
  MAX_GZIP_HEADER_BYTES,
  parseGzipHeader,
  readGzipTrailer,
} from "./gzip_header.ts";
import { concatBytes } from "./byte_streams.ts";

/** zlib output buffer size: large buffers are markedly faster. */
const ZLIB_CHUNK_SIZE = 256 * 1024;

/**
 * Compressed bytes handed to zlib at a time, so that one input chunk cannot
 * expand without bound before the size limit is checked.
 */
const MAX_INPUT_SLICE = 64 * 1024;

const EMPTY = new Uint8Array(0);

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
  maxOutputBytes: number;
  controller: TransformStreamDefaultController<Uint8Array> | undefined;
  /** Which part of a member the next input byte belongs to. */
  phase: "header" | "body" | "trailer";
  /** Header or trailer bytes read so far, when they span input chunks. */
  pending: Uint8Array;
  /** The raw inflater of the current member's deflate data (body phase). */
  inflater: InflateRaw | undefined;
  /** Set once the inflater emitted `end`: the member's deflate data is complete. */
  inflaterEnded: boolean;
  /** Called when the inflater emits `end`. */
  onInflaterEnd: (() => void) | undefined;
  /** CRC-32 and length of the current member's output, for its trailer. */
  memberCrc: number;
  memberBytesOut: number;
  /** Complete members read. */
  members: number;
  /** Input offset of the current member's first byte. */
  memberStart: number;
  /** Compressed bytes consumed. */
  bytesIn: number;
  /** Compressed bytes handed to the stream (consumed or being consumed). */
  bytesFed: number;
  bytesOut: number;
  /** Set when the stream was cancelled or aborted. */
  cancelled: boolean;
  /** The first failure; once set, every callback rejects with it. */
  error: TelemetryError | undefined;
  /** Called when zlib fails, to wake up whoever waits on zlib. */
  onError: ((err: unknown) => void) | undefined;
}

/**
 * Decompresses gzip: one member or several concatenated ones (their outputs
 * are concatenated, as `gzip -d` does). Any data after the last member is
 * an error, zero padding included.
 *
 * Flow control: a chunk is inflated in slices of at most 64 KiB and
 * {@linkcode TransformStream}'s `transform` resolves only once zlib has
 * consumed it, so memory stays flat. Cancelling or aborting the stream
 * destroys the zlib handle.
 *
 * Errors are {@linkcode TelemetryError}s of kind `permanent`, with `offset`
 * set to the decompressed bytes produced before the failure:
 * - `truncated`: the input is empty or ends inside a member;
 * - `corrupt`: not gzip (bad magic), bad header, invalid deflate data, CRC or
 *   length mismatch, or `trailing data after the gzip stream at compressed
 *   byte N` (N: the size of the valid gzip before it);
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
   * Creates the stage; a zlib handle is opened for each member.
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
      maxOutputBytes,
      controller: undefined,
      phase: "header",
      pending: EMPTY,
      inflater: undefined,
      inflaterEnded: false,
      onInflaterEnd: undefined,
      memberCrc: 0,
      memberBytesOut: 0,
      members: 0,
      memberStart: 0,
      bytesIn: 0,
      bytesFed: 0,
      bytesOut: 0,
      cancelled: false,
      error: undefined,
      onError: undefined,
    };

    super({
      start(controller) {
        state.controller = controller;
      },

      async transform(chunk) {
        if (state.error !== undefined) throw state.error;
        for (let offset = 0; offset < chunk.length; offset += MAX_INPUT_SLICE) {
          const slice = chunk.subarray(offset, offset + MAX_INPUT_SLICE);
          state.bytesFed += slice.length;
          let rest = slice;
          while (rest.length > 0) {
            if (state.phase === "header") rest = readHeader(state, rest);
            else if (state.phase === "body") rest = await inflate(state, rest);
            else rest = readTrailer(state, rest);
          }
        }
      },

      async flush() {
        if (state.error !== undefined) throw state.error;
        if (state.bytesIn === 0) {
          throw fail(
            state,
            new TelemetryError("permanent", "truncated", "gzip stream is empty", {
              offset: 0,
              endOfInput: true,
            }),
          );
        }
        if (state.phase === "body") {
          // zlib fails here (Z_BUF_ERROR) when the deflate data is incomplete.
          const inflater = state.inflater!;
          await untilDoneOrFailed(state, (resolve) => {
            if (state.inflaterEnded) return resolve();
            state.onInflaterEnd = resolve;
            inflater.end();
          });
          endBody(state);
        }
        if (state.phase === "header" && state.pending.length === 0) return;
        throw fail(state, truncated(state));
      },

      cancel() {
        state.cancelled = true;
        state.inflater?.destroy();
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

/** Records the first failure, stops zlib, wakes up its waiter; returns the failure. */
function fail(state: GunzipState, err: TelemetryError): TelemetryError {
  if (state.error !== undefined) return state.error;
  state.error = err;
  state.inflater?.destroy();
  state.onError?.(err);
  return err;
}

/**
 * Reads member header bytes from the start of `rest`; at a complete header,
 * opens the member's inflater. Returns what follows the header bytes.
 */
function readHeader(state: GunzipState, rest: Uint8Array): Uint8Array {
  const buffered = state.pending.length;
  const head = buffered === 0 ? rest : concatBytes([state.pending, rest]);
  const mismatch = magicMismatch(head);
  if (mismatch !== undefined) {
    throw fail(state, state.members === 0 ? badMagic(head, mismatch) : trailingData(state));
  }
  const header = parseGzipHeader(head);
  if (header.state === "invalid") throw fail(state, corrupt(state, header.reason));
  if (header.state === "incomplete") {
    if (head.length > MAX_GZIP_HEADER_BYTES) {
      throw fail(state, corrupt(state, `header longer than ${MAX_GZIP_HEADER_BYTES} bytes`));
    }
    state.pending = head.slice();
    state.bytesIn += rest.length;
    return EMPTY;
  }
  const used = header.length - buffered;
  state.pending = EMPTY;
  state.bytesIn += used;
  startBody(state);
  return rest.subarray(used);
}

/** Opens the raw inflater of a member's deflate data. */
function startBody(state: GunzipState): void {
  const inflater = createInflateRaw({ chunkSize: ZLIB_CHUNK_SIZE });
  state.inflater = inflater;
  state.inflaterEnded = false;
  state.memberCrc = 0;
  state.memberBytesOut = 0;
  state.phase = "body";
  inflater.on("data", (data: Uint8Array) => {
    if (state.error !== undefined || state.cancelled) return;
    state.bytesOut += data.length;
    if (state.bytesOut > state.maxOutputBytes) {
      fail(
        state,
        new TelemetryError(
          "permanent",
          "too_large",
          `decompressed content exceeds --max-decompressed-bytes ${state.maxOutputBytes}`,
          { offset: state.maxOutputBytes },
        ),
      );
      return;
    }
    state.memberCrc = crc32(data, state.memberCrc);
    state.memberBytesOut += data.length;
    try {
      state.controller!.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (err) {
      // The readable side is gone (cancelled or errored): stop zlib.
      state.cancelled = true;
      state.inflater?.destroy();
      state.onError?.(err);
    }
  });
  inflater.on("error", (err: unknown) => fail(state, toTelemetryError(err, state)));
  inflater.on("end", () => {
    state.inflaterEnded = true;
    state.onInflaterEnd?.();
  });
}

/**
 * Inflates deflate data from the start of `rest`. zlib stops consuming at
 * the end of the member's deflate data; what it left is the trailer and
 * whatever follows. Returns that rest.
 */
async function inflate(state: GunzipState, rest: Uint8Array): Promise<Uint8Array> {
  const inflater = state.inflater!;
  const before = inflater.bytesWritten;
  await untilDoneOrFailed(state, (resolve) => {
    inflater.write(rest, () => resolve());
  });
  const used = inflater.bytesWritten - before;
  state.bytesIn += used;
  if (used >= rest.length) return EMPTY;
  // The deflate data ended: once zlib has emitted all of its output, the trailer follows.
  await untilDoneOrFailed(state, (resolve) => {
    if (state.inflaterEnded) resolve();
    else state.onInflaterEnd = resolve;
  });
  endBody(state);
  return rest.subarray(used);
}

function endBody(state: GunzipState): void {
  state.inflater?.destroy();
  state.inflater = undefined;
  state.onInflaterEnd = undefined;
  state.phase = "trailer";
}

/**
 * Reads member trailer bytes from the start of `rest`; at a complete
 * trailer, checks the member's CRC and length. Returns what follows.
 */
function readTrailer(state: GunzipState, rest: Uint8Array): Uint8Array {
  const take = rest.subarray(0, GZIP_TRAILER_BYTES - state.pending.length);
  state.pending = concatBytes([state.pending, take]);
  state.bytesIn += take.length;
  if (state.pending.length < GZIP_TRAILER_BYTES) return EMPTY;
  const trailer = readGzipTrailer(state.pending);
  if (trailer.crc !== state.memberCrc >>> 0) {
    throw fail(state, corrupt(state, "incorrect data check"));
  }
  if (trailer.size !== state.memberBytesOut % 2 ** 32) {
    throw fail(state, corrupt(state, "incorrect length check"));
  }
  state.members++;
  state.memberStart = state.bytesIn;
  state.pending = EMPTY;
  state.phase = "header";
  return rest.subarray(take.length);
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

/** A `corrupt` error for the first two bytes when they are not the gzip magic. */
function badMagic(head: Uint8Array, at: number): TelemetryError {
  const expected = [0x1f, 0x8b];
  return new TelemetryError(
    "permanent",
    "corrupt",
    `not gzip: bad magic (byte ${at} is 0x${head[at]!.toString(16).padStart(2, "0")}, expected 0x${
      expected[at]!.toString(16)
    })`,
    { offset: 0 },
  );
}

/** A `corrupt` error for bytes after the last member that do not start another one. */
function trailingData(state: GunzipState): TelemetryError {
  return new TelemetryError(
    "permanent",
    "corrupt",
    `trailing data after the gzip stream at compressed byte ${state.memberStart}`,
    { offset: state.bytesOut },
  );
}

/** A `corrupt` error with zlib's wording of the reason. */
function corrupt(state: GunzipState, reason: string, cause?: unknown): TelemetryError {
  return new TelemetryError(
    "permanent",
    "corrupt",
    `corrupt gzip data (${reason}) within the first ${state.bytesFed} compressed bytes, after ${state.bytesOut} decompressed bytes`,
    { offset: state.bytesOut, cause },
  );
}

/** A `truncated` error: the input ended inside a member. */
function truncated(state: GunzipState, cause?: unknown): TelemetryError {
  return new TelemetryError(
    "permanent",
    "truncated",
    `gzip stream ends early after ${state.bytesFed} compressed bytes (file truncated?)`,
    { offset: state.bytesOut, cause, endOfInput: true },
  );
}

/** Maps a zlib error to a {@linkcode TelemetryError}. */
function toTelemetryError(err: unknown, state: GunzipState): TelemetryError {
  const code = (err as { code?: unknown }).code;
  if (code === "Z_BUF_ERROR") return truncated(state, err);
  return corrupt(state, err instanceof Error ? err.message : String(err), err);
}
