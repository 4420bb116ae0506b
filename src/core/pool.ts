/**
 * Running async work over a stream of items with bounded concurrency.
 *
 * @module
 */

/** Options of {@linkcode runPool}. */
export interface PoolOptions<T> {
  /** Items processed at once, at most. */
  concurrency: number;
  /** Processes one item; its rejection is not caught here, so handle errors inside. */
  worker: (item: T, index: number) => Promise<void>;
  /**
   * Stops taking items: once aborted, no new item is started (also not one
   * the source is still producing), and the pool resolves when the running
   * workers are done. Aborting the workers themselves is up to them.
   */
  signal?: AbortSignal;
}

/**
 * Takes items one at a time from `source` (so a huge or endless input is
 * never read ahead) and runs at most `concurrency` workers at once.
 *
 * @param source The items.
 * @param options Concurrency and the worker.
 * @returns When every item was processed.
 * @throws {RangeError} When `concurrency` is not a positive integer; the first worker error otherwise.
 *
 * @example
 * ```ts
 * import { runPool } from "./pool.ts";
 * let sum = 0;
 * await runPool([1, 2, 3], { concurrency: 2, worker: (n) => Promise.resolve(void (sum += n)) });
 * if (sum !== 6) throw new Error("unexpected");
 * ```
 */
export async function runPool<T>(
  source: Iterable<T> | AsyncIterable<T>,
  options: PoolOptions<T>,
): Promise<void> {
  const { concurrency, worker, signal } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot run as 'concurrency' must be a positive integer: current value is ${concurrency}`,
    );
  }
  const iterator = Symbol.asyncIterator in source
    ? source[Symbol.asyncIterator]()
    : source[Symbol.iterator]();
  let index = 0;
  // Resolves with `done` on abort, so a lane waiting for the source (stdin) stops too.
  const stopped = new Promise<IteratorResult<T>>((resolve) => {
    const stop = () => resolve({ done: true, value: undefined });
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
  });
  async function lane(): Promise<void> {
    while (signal?.aborted !== true) {
      const next = signal === undefined
        ? await iterator.next()
        : await Promise.race([iterator.next(), stopped]);
      if (next.done || signal?.aborted) return;
      await worker(next.value, index++);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => lane()));
}
