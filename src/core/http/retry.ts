/**
 * Retrying an async operation with exponential backoff.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { exponentialDelay } from "../backoff.ts";
import { TelemetryError } from "../errors.ts";

/** Sleeps for a number of milliseconds; rejects when the signal aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * The real sleep (`node:timers/promises`).
 *
 * @param ms Milliseconds.
 * @param signal Aborts the sleep.
 * @returns A promise resolved after `ms`.
 * @throws The signal's reason when it aborts.
 */
export async function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal === undefined ? {} : { signal });
  } catch (err) {
    // An `AbortError` of node's: the signal's own reason, as every other abort gives.
    throw signal?.aborted ? signal.reason : err;
  }
}

/** Information about a retry, for logs. */
export interface RetryEvent {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Milliseconds until the next attempt. */
  delayMs: number;
  /** The error of the failed attempt. */
  error: unknown;
}

/** How often and how patiently to retry: the `--attempts`, `--backoff` and `--max-retry-after` flags. */
export interface RetrySettings {
  /** Attempts in all, the first included. @default {3} */
  attempts?: number;
  /** The wait after attempt n is `backoffMs * 2^n`. @default {1000} */
  backoffMs?: number;
  /** Upper bound on a server-requested delay (`Retry-After`). @default {60000} */
  maxRetryAfterMs?: number;
}

/** The defaults of {@linkcode RetrySettings}, which the flags show too. */
export const DEFAULT_RETRY: Required<RetrySettings> = {
  attempts: 3,
  backoffMs: 1000,
  maxRetryAfterMs: 60_000,
};

/** Options of {@linkcode retry}. */
export interface RetryOptions extends RetrySettings {
  /** Whether an error is worth another attempt. @default {transient TelemetryError} */
  isRetriable?: (err: unknown) => boolean;
  /** Called before each wait. */
  onRetry?: (event: RetryEvent) => void;
  /** Stops waiting and retrying. */
  signal?: AbortSignal;
  /** How to wait. @default {realSleep} */
  sleep?: Sleep;
}

/**
 * Runs `fn` until it succeeds, the error is not retriable, or the attempts
 * are used up; the last error is rethrown as is.
 *
 * @param fn The operation; receives the 1-based attempt number.
 * @param options Attempts, backoff, and the injected sleep.
 * @returns What `fn` returned.
 * @throws The last error of `fn`, or `RangeError` for bad options.
 *
 * @example
 * ```ts
 * import { retry } from "./retry.ts";
 * const value = await retry(() => Promise.resolve(42), { sleep: () => Promise.resolve() });
 * if (value !== 42) throw new Error("unexpected");
 * ```
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const {
    attempts = DEFAULT_RETRY.attempts,
    backoffMs = DEFAULT_RETRY.backoffMs,
    maxRetryAfterMs = DEFAULT_RETRY.maxRetryAfterMs,
    isRetriable = isTransient,
    onRetry,
    signal,
    sleep = realSleep,
  } = options;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `Cannot retry as 'attempts' must be a positive integer: current value is ${attempts}`,
    );
  }
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isRetriable(err) || signal?.aborted) throw err;
      const delayMs = backoffDelay(attempt, { backoffMs, maxRetryAfterMs, error: err });
      onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * The wait after a failed attempt: `base * 2^attempt`, or the server's
 * `Retry-After` (capped) when that is longer.
 *
 * @param attempt The 1-based attempt that failed.
 * @param options Base delay, Retry-After cap, and the error.
 * @returns Milliseconds to wait.
 */
export function backoffDelay(
  attempt: number,
  options: { backoffMs: number; maxRetryAfterMs: number; error?: unknown },
): number {
  const exponential = exponentialDelay(attempt, { initialMs: options.backoffMs });
  const err = options.error;
  if (err instanceof TelemetryError && err.retryAfterSeconds !== undefined) {
    return Math.max(exponential, Math.min(err.retryAfterSeconds * 1000, options.maxRetryAfterMs));
  }
  return exponential;
}

function isTransient(err: unknown): boolean {
  return err instanceof TelemetryError && err.kind === "transient";
}
