/**
 * Gzip on a second core: a `TransformStream` that hands chunks to a worker
 * running `CompressionStream("gzip")` and yields its output in order.
 *
 * Plain JSON downloads spend most of their CPU compressing; on the main
 * thread that serialises with receiving and validating. In a worker the
 * three overlap (measured in `deno task bench`).
 *
 * @module
 */

/** Size of the buffers that carry input to the worker. */
const BUFFER_SIZE = 256 * 1024;

/** Buffers in the pool: at most this many bytes are in flight (4 MiB). */
const MAX_BUFFERS = 16;

type WorkerMessage =
  | { type: "data"; data: Uint8Array }
  | { type: "ack"; buffer: ArrayBuffer }
  | { type: "done" }
  | { type: "error"; message: string };

/**
 * Gzips a byte stream in a worker; output equals `CompressionStream("gzip")`'s.
 *
 * @example
 * ```ts
 * import { ParallelGzipStream } from "./parallel_gzip.ts";
 * const gz = ReadableStream.from([new TextEncoder().encode("[{}]")]).pipeThrough(new ParallelGzipStream());
 * await new Response(gz).arrayBuffer();
 * ```
 */
export class ParallelGzipStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor() {
    let worker: Worker | undefined;
    // Input travels in pooled buffers that the worker hands back: the main
    // thread makes no garbage per chunk, and memory in flight stays bounded.
    const pool: ArrayBuffer[] = [];
    let created = 0;
    let current: Uint8Array | undefined;
    let filled = 0;
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    const finished = Promise.withResolvers<void>();

    /** The worker failed: the stream errors with this. */
    function fail(error: Error) {
      failure ??= error;
      finished.resolve();
      wake?.();
    }
    /** The stream is going away (cancelled, or its reader is gone): release everything quietly. */
    function stop() {
      worker?.terminate();
      worker = undefined;
      finished.resolve();
      wake?.();
    }
    async function takeBuffer(): Promise<Uint8Array | undefined> {
      while (pool.length === 0 && created >= MAX_BUFFERS) {
        if (failure !== undefined || worker === undefined) return undefined;
        await new Promise<void>((resolve) => wake = resolve);
      }
      const buffer = pool.pop();
      if (buffer !== undefined) return new Uint8Array(buffer);
      created++;
      return new Uint8Array(BUFFER_SIZE);
    }
    function send() {
      if (current === undefined || filled === 0) return;
      const buffer = current.buffer as ArrayBuffer;
      worker?.postMessage({ type: "chunk", buffer, length: filled }, [buffer]);
      current = undefined;
      filled = 0;
    }

    super({
      start(controller) {
        worker = new Worker(new URL("./gzip_worker.ts", import.meta.url), { type: "module" });
        worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
          const message = event.data;
          if (worker === undefined) return;
          if (message.type === "data") {
            try {
              controller.enqueue(message.data);
            } catch {
              // The readable side is closing because the sink failed or the
              // reader cancelled: that error is the one the pipeline reports.
              stop();
            }
          } else if (message.type === "ack") {
            pool.push(message.buffer);
            wake?.();
          } else if (message.type === "done") {
            finished.resolve();
          } else {
            fail(new Error(`gzip worker failed: ${message.message}`));
          }
        };
        worker.onerror = (event: ErrorEvent) => {
          event.preventDefault();
          fail(new Error(`gzip worker failed: ${event.message}`));
        };
      },
      async transform(chunk) {
        let offset = 0;
        while (offset < chunk.length) {
          if (failure !== undefined) throw failure;
          current ??= await takeBuffer();
          if (current === undefined) {
            if (failure !== undefined) throw failure;
            return; // stopped: the pipeline is going away
          }
          const n = Math.min(chunk.length - offset, BUFFER_SIZE - filled);
          current.set(chunk.subarray(offset, offset + n), filled);
          filled += n;
          offset += n;
          if (filled === BUFFER_SIZE) send();
        }
      },
      async flush() {
        send();
        worker?.postMessage({ type: "end" });
        await finished.promise;
        worker?.terminate();
        worker = undefined;
        if (failure !== undefined) throw failure;
      },
      cancel() {
        stop();
      },
    });
  }
}
