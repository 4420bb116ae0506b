/**
 * The last line of a run that publishes to a queue (`enqueue`, `announce`):
 * what it sent, or would send in a dry run, what it left out, what the
 * broker did not confirm, and how long it took.
 *
 * @module
 */

/** The totals every publishing run has. */
export interface PublishTotals {
  /** The queue. */
  queue: string;
  /** Whether nothing was published. */
  dryRun: boolean;
  /** Sent but not confirmed. */
  unconfirmed: number;
  /** Seconds the run took. */
  seconds: number;
}

/** The words of one command for its own counts. */
export interface PublishWords {
  /** What was confirmed, e.g. `queued 3`. */
  done: string;
  /** What a dry run found, e.g. `3 valid jobs would be queued`. */
  wouldBe: string;
  /** What was left out, e.g. `refused 1, skipped 0`. */
  rest: string;
}

/**
 * Writes the summary line of a publishing run.
 *
 * @param totals The queue, dry run, unconfirmed count and time.
 * @param words The command's counts, in its words.
 * @returns One line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishSummaryText } from "./publish_summary.ts";
 * const totals = { queue: "q", dryRun: false, unconfirmed: 1, seconds: 2 };
 * const words = { done: "queued 3", wouldBe: "3 jobs would be queued", rest: "refused 0" };
 * assert.equal(publishSummaryText(totals, words), "queued 3 to q; refused 0, unconfirmed 1 (2.0 s)");
 * ```
 */
export function publishSummaryText(totals: PublishTotals, words: PublishWords): string {
  const { queue, dryRun, unconfirmed, seconds } = totals;
  const time = `(${seconds.toFixed(1)} s)`;
  if (dryRun) return `dry run: ${words.wouldBe} to ${queue}; ${words.rest} ${time}`;
  const notConfirmed = unconfirmed > 0 ? `, unconfirmed ${unconfirmed}` : "";
  return `${words.done} to ${queue}; ${words.rest}${notConfirmed} ${time}`;
}
