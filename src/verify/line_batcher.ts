/**
 * Output lines written in batches: one write per batch instead of one per
 * line, for `verify --json` over very many files, where a write per file
 * costs as much as auditing a small file. A batch is written once it holds
 * 16 Ki characters, once its first line is 100 ms old (checked as lines
 * come, and by a timer while the event loop runs), and at the end. Small
 * batches die young: lines held longer would outlive collections of the
 * young generation and fill the old one.
 *
 * @module
 */

/** Options of {@linkcode LineBatcher}. */
export interface LineBatcherOptions {
  /** Characters buffered before a write. @default {16384} */
  maxChars?: number;
  /** Milliseconds a line may wait. @default {100} */
  maxDelayMs?: number;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/**
 * Buffers lines and hands them to `print` joined by newlines (`print` adds
 * the last one, as `CommandIo.print` does).
 *
 * @example
 * ```ts
 * import { LineBatcher } from "./line_batcher.ts";
 * const written: string[] = [];
 * // A fixed clock: the batch is written by flush(), never by its age.
 * const batcher = new LineBatcher((text) => written.push(text), { now: () => 0 });
 * batcher.add("a");
 * batcher.add("b");
 * batcher.flush();
 * if (written.join() !== "a\nb") throw new Error("unexpected");
 * ```
 */
export class LineBatcher {
  #print: (text: string) => void;
  #maxChars: number;
  #maxDelayMs: number;
  #now: () => number;
  #lines: string[] = [];
  #chars = 0;
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param print Writes text plus a newline.
   * @param options Batch size, delay, clock.
   */
  constructor(print: (text: string) => void, options: LineBatcherOptions = {}) {
    const { maxChars = 16384, maxDelayMs = 100, now = () => performance.now() } = options;
    this.#print = print;
    this.#maxChars = maxChars;
    this.#maxDelayMs = maxDelayMs;
    this.#now = now;
  }

  /**
   * Adds a line; writes the batch when it is full or old enough.
   *
   * @param line The line, without a newline.
   */
  add(line: string): void {
    if (this.#lines.length === 0) {
      this.#since = this.#now();
      this.#timer = setTimeout(() => this.flush(), this.#maxDelayMs);
    }
    this.#lines.push(line);
    this.#chars += line.length + 1;
    if (this.#chars >= this.#maxChars || this.#now() - this.#since >= this.#maxDelayMs) {
      this.flush();
    }
  }

  /** Writes what is buffered, if anything. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("\n");
    this.#lines = [];
    this.#chars = 0;
    this.#print(text);
  }
}
