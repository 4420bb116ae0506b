/**
 * A one-line progress bar for terminals (stderr), redrawn at most every
 * 100 ms. Commands create it only when stderr is a TTY.
 *
 * @module
 */

import { writeAllSync } from "./write_all.ts";

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Text before the bar. */
  label?: string;
  /** What is counted: bytes are shown as MB with a rate. @default {"bytes"} */
  unit?: "bytes" | "items";
  /** Receives each frame (already starting with `\r`). @default {write to stderr} */
  write?: (frame: string) => void;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
  /** Width of the bar in characters. @default {30} */
  width?: number;
}

/**
 * Draws `label [#####-----]  45%  12.3/40.0 MB  85.1 MB/s`; without a total,
 * only the count and the rate.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress_bar.ts";
 * const frames: string[] = [];
 * const bar = new ProgressBar({ write: (f) => frames.push(f), now: () => 0 });
 * bar.update(5, 10);
 * bar.finish();
 * ```
 */
export class ProgressBar {
  #label: string;
  #unit: "bytes" | "items";
  #write: (frame: string) => void;
  #now: () => number;
  #width: number;
  #started: number;
  #lastDraw = -Infinity;
  #lastLength = 0;

  /** @param options Label, unit, output and clock. */
  constructor(options: ProgressBarOptions = {}) {
    const {
      label = "",
      unit = "bytes",
      write = writeStderr,
      now = () => performance.now(),
      width = 30,
    } = options;
    this.#label = label;
    this.#unit = unit;
    this.#write = write;
    this.#now = now;
    this.#width = width;
    this.#started = now();
  }

  /**
   * Records progress; redraws when 100 ms passed since the last frame.
   *
   * @param done Units done.
   * @param total Units expected, when known.
   * @param extra Text appended to the line.
   */
  update(done: number, total?: number, extra = ""): void {
    const t = this.#now();
    if (t - this.#lastDraw < 100) return;
    this.#lastDraw = t;
    const frame = this.render(done, total, extra);
    const pad = Math.max(0, this.#lastLength - frame.length);
    this.#lastLength = frame.length;
    this.#write(`\r${frame}${" ".repeat(pad)}`);
  }

  /**
   * Renders a frame without drawing it.
   *
   * @param done Units done.
   * @param total Units expected, when known.
   * @param extra Text appended to the line.
   * @returns The frame text.
   */
  render(done: number, total?: number, extra = ""): string {
    const elapsed = Math.max(0.001, (this.#now() - this.#started) / 1000);
    const parts: string[] = [];
    if (this.#label !== "") parts.push(this.#label);
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, done / total);
      const filled = Math.round(ratio * this.#width);
      parts.push(`[${"#".repeat(filled)}${"-".repeat(this.#width - filled)}]`);
      parts.push(`${(ratio * 100).toFixed(0).padStart(3)}%`);
    }
    if (this.#unit === "bytes") {
      const amount = total !== undefined && total > 0
        ? `${mb(done)}/${mb(total)} MB`
        : `${mb(done)} MB`;
      parts.push(amount, `${mb(done / elapsed)} MB/s`);
    } else {
      parts.push(total !== undefined ? `${done}/${total}` : `${done}`);
    }
    if (extra !== "") parts.push(extra);
    return parts.join("  ");
  }

  /**
   * Ends the line, leaving the last frame on screen, so that what follows
   * (the `interrupted` line after a Ctrl-C) starts on a line of its own.
   */
  end(): void {
    if (this.#lastLength > 0) this.#write("\n");
    this.#lastLength = 0;
  }

  /** Clears the line. */
  finish(): void {
    if (this.#lastLength > 0) this.#write(`\r${" ".repeat(this.#lastLength)}\r`);
    this.#lastLength = 0;
  }
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function writeStderr(frame: string): void {
  writeAllSync(Deno.stderr, frame);
}
