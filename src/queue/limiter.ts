/**
 * Concurrency primitives of the worker: a counting semaphore (downloads at
 * once, across reconnects) and a per-key lock (one job per match at a time,
 * so a redelivered message waits for the download still running for it).
 *
 * @module
 */

/** A counting semaphore. */
export class Semaphore {
  #free: number;
  #waiting: (() => void)[] = [];

  /**
   * @param permits How many holders at once; a positive integer.
   * @throws {RangeError} When `permits` is not a positive integer.
   */
  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(
        `Cannot create semaphore as 'permits' must be a positive integer: current value is ${permits}`,
      );
    }
    this.#free = permits;
  }

  /**
   * Waits for a permit.
   *
   * @returns When the caller holds a permit; it must call {@linkcode Semaphore.release}.
   */
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Returns a permit, handing it to the longest waiter. */
  release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#free++;
    else next();
  }
}

/** Runs tasks one at a time per key. */
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` after every earlier task of the same key has ended.
   *
   * @param key The key (a match id).
   * @param task The work.
   * @returns What `task` returned.
   * @throws What `task` threw.
   *
   * @example
   * ```ts
   * import { KeyedLock } from "./limiter.ts";
   * const lock = new KeyedLock();
   * const order: number[] = [];
   * await Promise.all([
   *   lock.run("a", async () => void order.push(1)),
   *   lock.run("a", async () => void order.push(2)),
   * ]);
   * if (order.join() !== "1,2") throw new Error("unexpected");
   * ```
   */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let done: () => void = () => {};
    const tail = new Promise<void>((resolve) => done = resolve);
    const chained = previous.then(() => tail);
    this.#tails.set(key, chained);
    await previous;
    try {
      return await task();
    } finally {
      done();
      if (this.#tails.get(key) === chained) this.#tails.delete(key);
    }
  }
}
