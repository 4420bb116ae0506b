/**
 * Small pass-through stream stages: counting, capping and copying bytes.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";

/**
 * Counts the bytes that pass through and reports them.
 *
 * @example
 * ```ts
 * import { CountingStream } from "./byte_streams.ts";
 * const counter = new CountingStream();
 * await ReadableStream.from([new Uint8Array(3)]).pipeThrough(counter).pipeTo(new WritableStream());
 * if (counter.bytes !== 3) throw new Error("unexpected");
 * ```
 */
export class CountingStream extends TransformStream<Uint8Array, Uint8Array> {
  #bytes = 0;

  /** @param onBytes Called with the running total after each chunk. */
  constructor(onBytes?: (total: number) => void) {
    super({
      transform: (chunk, controller) => {
        this.#bytes += chunk.length;
        onBytes?.(this.#bytes);
        controller.enqueue(chunk);
      },
    });
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }
}

/** Options of {@linkcode ByteLimitStream}. */
export interface ByteLimitStreamOptions {
  /** What is being limited, for the message. @default {"content"} */
  what?: string;
}

/**
 * Errors with a permanent `too_large` {@linkcode TelemetryError} once more
 * than `maxBytes` bytes passed.
 */
export class ByteLimitStream extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * @param maxBytes The largest number of bytes allowed.
   * @param options Error code and wording.
   */
  constructor(maxBytes: number, options: ByteLimitStreamOptions = {}) {
    const { what = "content" } = options;
    let seen = 0;
    super({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > maxBytes) {
          throw new TelemetryError(
            "permanent",
            "too_large",
            `${what} exceeds the limit of ${maxBytes} bytes`,
          );
        }
        controller.enqueue(chunk);
      },
    });
  }
}

/**
 * Passes chunks through after writing each one to a second sink, waiting for
 * that write: a tee whose slower side slows the faster one, so nothing piles
 * up in memory (unlike `ReadableStream.tee()`). The sink is closed on flush.
 * Counts what it copied.
 */
export class CopyToSinkStream extends TransformStream<Uint8Array, Uint8Array> {
  #bytes = 0;

  /** @param sink Receives a copy of every chunk. */
  constructor(sink: WritableStream<Uint8Array>) {
    const writer = sink.getWriter();
    super({
      transform: async (chunk, controller) => {
        await writer.write(chunk);
        this.#bytes += chunk.length;
        controller.enqueue(chunk);
      },
      async flush() {
        await writer.close();
      },
    });
  }

  /** Bytes copied so far. */
  get bytes(): number {
    return this.#bytes;
  }
}

/**
 * Joins byte chunks into one array; a single chunk is returned as it is.
 *
 * @param chunks The chunks, in order.
 * @param total Their total length, when the caller already counted it.
 * @returns The joined bytes.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./byte_streams.ts";
 * const joined = concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]);
 * if (joined.length !== 3 || joined[2] !== 3) throw new Error("unexpected");
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total ?? chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
