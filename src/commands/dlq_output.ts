/**
 * What the `telemetry dlq` commands print: one line (or JSON object) per
 * dead letter, the counts by `x-error-kind`, and the one line that says why
 * a run stopped and where the dead letters are.
 *
 * @module
 */

import type { DeadLetterInfo } from "../queue/dead_letter.ts";
import type { DlqSummary } from "../queue/dlq.ts";
import { plural } from "../cli/plural.ts";

/** The header of {@linkcode letterLine}'s columns. */
export const LETTER_HEADER = [
  "MATCH ID".padEnd(36),
  "KIND".padEnd(11),
  "ATTEMPTS",
  "FAILED AT".padEnd(24),
  "WORKER".padEnd(16),
  "ORIGINAL QUEUE".padEnd(24),
  "ERROR",
].join("  ");

/**
 * One dead letter as a text line, in the columns of {@linkcode LETTER_HEADER}; `-` where unknown.
 *
 * @param info The dead letter.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { letterLine } from "./dlq_output.ts";
 * const line = letterLine({
 *   matchId: "abc", kind: "permanent", code: "http_status", error: "HTTP 404", attempts: 1,
 *   failedAt: "2026-11-28T12:00:00.000Z", worker: "w1", originalQueue: "match.telemetry.prod",
 * });
 * if (!line.startsWith("abc ") || !line.endsWith("HTTP 404")) throw new Error(line);
 * ```
 */
export function letterLine(info: DeadLetterInfo): string {
  return [
    (info.matchId ?? "-").padEnd(36),
    (info.kind ?? "-").padEnd(11),
    String(info.attempts ?? "-").padStart(8),
    (info.failedAt ?? "-").padEnd(24),
    (info.worker ?? "-").padEnd(16),
    (info.originalQueue ?? "-").padEnd(24),
    oneLine(info.error ?? "-"),
  ].join("  ");
}

/**
 * One dead letter as a JSON object (`--json`); `null` where unknown.
 *
 * @param info The dead letter.
 * @param position Its position in the queue (1 for the head).
 * @returns The object.
 */
export function letterJson(info: DeadLetterInfo, position: number): Record<string, unknown> {
  return {
    position,
    match_id: info.matchId,
    error_kind: info.kind,
    error_code: info.code,
    error: info.error,
    attempts: info.attempts,
    failed_at: info.failedAt,
    worker: info.worker,
    original_queue: info.originalQueue,
  };
}

/**
 * The counts by kind, one indented line each, most frequent first.
 *
 * @param byKind Dead letters by `x-error-kind`.
 * @returns The lines (none when there are no dead letters).
 */
export function kindLines(byKind: Record<string, number>): string[] {
  return Object.entries(byKind)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([kind, count]) => `  ${kind.padEnd(14)}${String(count).padStart(8)}`);
}

/**
 * "3 of 340 dead letters", or "340 dead letters" when every one counts.
 *
 * @param count The dead letters concerned.
 * @param total The dead letters in the queue.
 * @returns The phrase.
 */
export function ofTotal(count: number, total: number): string {
  return count === total
    ? `${plural(total, "dead letter")}`
    : `${count} of ${plural(total, "dead letter")}`;
}

/**
 * The summary object of `--json` output.
 *
 * @param summary What the run did.
 * @param fields The command's own fields (e.g. `replayed`).
 * @returns `{ summary: {...} }`.
 */
export function summaryJson(
  summary: DlqSummary,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return {
    summary: {
      queue: summary.queue,
      total: summary.total,
      matched: summary.matched,
      ...fields,
      by_kind: summary.byKind,
      ...(summary.short ? { short: true } : {}),
      ...(summary.failure === undefined
        ? {}
        : { error: summary.failure.message, error_kind: summary.failure.kind }),
    },
  };
}

/**
 * The line printed when the queue held fewer dead letters than counted at
 * the start (another client took some during the run).
 *
 * @param summary What the run did.
 * @returns The warning, or undefined.
 */
export function shortWarning(summary: DlqSummary): string | undefined {
  if (!summary.short) return undefined;
  return `warning: ${summary.queue} held ${summary.total} dead letters at the start but only ` +
    `${summary.scanned} could be read: another client removed some meanwhile`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
