/**
 * Exponential backoff, the one formula behind every wait between attempts:
 * {@linkcode exponentialDelay} gives the HTTP retries their delays (no
 * jitter, no cap but the attempts), {@linkcode createBackoff} the broker
 * reconnects theirs (capped, with jitter).
 *
 * @module
 */

/** A backoff sequence. */
export interface Backoff {
  /** The next delay in milliseconds; each call doubles the base up to the cap. */
  next(): number;
  /** Starts over from the initial delay (after a healthy session). */
  reset(): void;
}

/** Options of {@linkcode createBackoff}. */
export interface BackoffOptions {
  /** The first delay. @default {500} */
  initialMs?: number;
  /** The largest delay. @default {30000} */
  maxMs?: number;
  /** Growth per step. @default {2} */
  factor?: number;
  /** Random source in [0, 1); the delay is drawn from [d/2, d]. @default {Math.random} */
  random?: () => number;
}

/** Options of {@linkcode exponentialDelay}. */
export interface ExponentialOptions {
  /** The delay of step 0. */
  initialMs: number;
  /** Growth per step. @default {2} */
  factor?: number;
  /** The largest delay. @default {Infinity} */
  maxMs?: number;
}

/**
 * The delay of one step of an exponential sequence: `initialMs * factor^step`, at most `maxMs`.
 *
 * @param step The 0-based step.
 * @param options The first delay, the growth and the cap.
 * @returns Milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exponentialDelay } from "./backoff.ts";
 * assert.deepEqual([0, 1, 2, 3].map((step) => exponentialDelay(step, { initialMs: 100, maxMs: 500 })), [100, 200, 400, 500]);
 * ```
 */
export function exponentialDelay(step: number, options: ExponentialOptions): number {
  const { initialMs, factor = 2, maxMs = Infinity } = options;
  return Math.min(maxMs, initialMs * factor ** step);
}

/**
 * Creates a capped exponential backoff ("equal jitter": half fixed, half random).
 *
 * @param options Initial delay, cap, factor and random source.
 * @returns The backoff.
 * @throws {RangeError} When a delay is negative or the factor below 1.
 *
 * @example
 * ```ts
 * import { createBackoff } from "./backoff.ts";
 * const backoff = createBackoff({ initialMs: 100, maxMs: 400, random: () => 0.999 });
 * const delays = [backoff.next(), backoff.next(), backoff.next(), backoff.next()];
 * if (delays.some((d) => d > 400)) throw new Error("not capped");
 * ```
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const { initialMs = 500, maxMs = 30_000, factor = 2, random = Math.random } = options;
  if (!(initialMs >= 0) || !(maxMs >= initialMs)) {
    throw new RangeError(
      `Cannot create backoff as 'initialMs' and 'maxMs' must satisfy 0 <= initialMs <= maxMs: current values are ${initialMs} and ${maxMs}`,
    );
  }
  if (!(factor >= 1)) {
    throw new RangeError(
      `Cannot create backoff as 'factor' must be at least 1: current value is ${factor}`,
    );
  }
  let step = 0;
  return {
    next() {
      const ceiling = exponentialDelay(step, { initialMs, factor, maxMs });
      if (ceiling < maxMs) step++;
      return Math.round(ceiling / 2 + random() * (ceiling / 2));
    },
    reset() {
      step = 0;
    },
  };
}
