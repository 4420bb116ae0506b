/**
 * Look at the first bytes of a byte stream without losing them: the peeked
 * chunks are replayed, then the rest of the source follows.
 *
 * @module
 */

import { concatBytes } from "./byte_streams.ts";

/** Options of {@linkcode peekUntil}. */
export interface PeekUntilOptions {
  /** Stop reading once this returns true for the bytes buffered so far. */
  done: (head: Uint8Array) => boolean;
  /** Stop reading once at least this many bytes are buffered. */
  maxBytes: number;
}

/** What {@linkcode peekUntil} returns. */
export interface PeekResult {
  /** The bytes read so far, concatenated (whole chunks, so it may exceed the bound asked for). */
  head: Uint8Array;
  /** The whole content again: the peeked chunks, then the rest of the source. */
  stream: ReadableStream<Uint8Array>;
}

/**
 * Reads chunks from `stream` until `done(head)` returns true, at least
 * `maxBytes` are buffered, or the stream ends; returns the head and a stream
 * that replays it before the rest, replaying the head before the rest.
 *
 * `done` is called with the whole head after each chunk, so keep `maxBytes`
 * small (a few KiB).
 *
 * @param stream The source; it gets locked.
 * @param options The `done` test and the `maxBytes` bound (a positive integer).
 * @returns The head and the replaying stream.
 * @throws {RangeError} when `maxBytes` is not a positive integer.
 * @throws {unknown} whatever reading the source or `done` throws.
 *
 * @example Read until a newline
 * ```ts
 * import { peekUntil } from "./peek_stream.ts";
 * const source = ReadableStream.from(["ab", "c\nd", "ef"].map((s) => new TextEncoder().encode(s)));
 * const { head } = await peekUntil(source, { done: (h) => h.includes(10), maxBytes: 1024 });
 * if (head.length !== 5) throw new Error("unexpected");
 * ```
 */
export async function peekUntil(
  stream: ReadableStream<Uint8Array>,
  options: PeekUntilOptions,
): Promise<PeekResult> {
  const { done, maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(
      `Cannot peek as 'maxBytes' must be a positive integer: current value is ${maxBytes}`,
    );
  }
  return await peek(stream, (head, total) => total >= maxBytes || done(head()));
}

/** Reads until `enough` says so, then builds the replaying stream. */
async function peek(
  stream: ReadableStream<Uint8Array>,
  enough: (head: () => Uint8Array, total: number) => boolean,
): Promise<PeekResult> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  function head(): Uint8Array {
    return concatBytes(chunks, total);
  }
  while (!enough(head, total)) {
    const result = await reader.read();
    if (result.done) {
      ended = true;
      break;
    }
    chunks.push(result.value);
    total += result.value.length;
  }
  let next = 0;
  const replay = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = chunks[next];
      if (chunk !== undefined) {
        chunks[next++] = EMPTY;
        controller.enqueue(chunk);
        return;
      }
      if (ended) {
        controller.close();
        return;
      }
      const result = await reader.read();
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { head: concatBytes(chunks, total), stream: replay };
}

const EMPTY = new Uint8Array(0);
