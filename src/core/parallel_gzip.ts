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

/** Bytes sent to the worker but not yet consumed, beyond which we wait. */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;

type WorkerMessage =
  | { type: "data"; data: Uint8Array }
  | { type: "ack"; bytes: number }
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
    let inFlight = 0;
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
            inFlight -= message.bytes;
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
        if (failure !== undefined) throw failure;
        if (worker === undefined) return;
        // Structured clone copies a view's whole buffer: send an exact copy,
        // transferred so it is not copied twice.
        const data = chunk.slice();
        worker.postMessage({ type: "chunk", data }, [data.buffer]);
        inFlight += chunk.length;
        while (inFlight > MAX_IN_FLIGHT && failure === undefined && worker !== undefined) {
          await new Promise<void>((resolve) => wake = resolve);
        }
        if (failure !== undefined) throw failure;
      },
      async flush() {
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
