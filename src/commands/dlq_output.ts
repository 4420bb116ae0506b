/**
 * What the `telemetry dlq` commands print: one line (or JSON object) per
 * dead letter, the counts by `x-error-kind`, and how a run ends: its
 * summary, or the one line that says why it stopped and where the dead
 * letters are.
 *
 * @module
 */

import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import type { CommandIo } from "../cli/io.ts";
import { plural } from "../cli/plural.ts";
import type { DeadLetterInfo } from "../queue/dead_letter.ts";
import type { DeadLetter, DlqSummary } from "../queue/dlq.ts";
import { renderJson, summaryJson } from "./operator.ts";

/** The columns of a dead letter's line: title, width (negative: aligned right), field. */
const COLUMNS: [string, number, keyof DeadLetterInfo][] = [
  ["MATCH ID", 36, "matchId"],
  ["KIND", 11, "kind"],
  ["ATTEMPTS", -8, "attempts"],
  ["FAILED AT", 24, "failedAt"],
  ["WORKER", 16, "worker"],
  ["ORIGINAL QUEUE", 24, "originalQueue"],
  ["ERROR", 0, "error"],
];

/** The header of {@linkcode letterLine}'s columns. */
export const LETTER_HEADER = COLUMNS.map(([title, width]) => title.padEnd(Math.abs(width)))
  .join("  ");

/**
 * One dead letter as a text line, in the columns of {@linkcode LETTER_HEADER}; `-` where unknown.
 *
 * @param info The dead letter.
 * @returns The line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { letterLine } from "./dlq_output.ts";
 * const line = letterLine({
 *   matchId: "abc", kind: "permanent", code: "http_status", error: "HTTP 404", attempts: 1,
 *   failedAt: "2026-11-28T12:00:00.000Z", worker: "w1", originalQueue: "match.telemetry.prod",
 * });
 * assert.ok(line.startsWith("abc ") && line.endsWith("HTTP 404"));
 * ```
 */
export function letterLine(info: DeadLetterInfo): string {
  return COLUMNS.map(([, width, field]) => {
    const text = String(info[field] ?? "-").replace(/\s*\n\s*/g, " ");
    return width < 0 ? text.padStart(-width) : text.padEnd(width);
  }).join("  ");
}

/**
 * One dead letter as a JSON object (`--json`); `null` where unknown.
 *
 * @param info The dead letter.
 * @param position Its position in the queue (1 for the head).
 * @returns The object.
 */
export function letterJson(info: DeadLetterInfo, position: number): Record<string, unknown> {
  const fields = "position matchId kind:error_kind code:error_code error attempts failedAt";
  return renderJson({ position, ...info }, `${fields} worker originalQueue`);
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
  return `${count === total ? "" : `${count} of `}${plural(total, "dead letter")}`;
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

/**
 * The output of `list` and `replay --dry-run`: each dead letter as a line
 * (after {@linkcode LETTER_HEADER}) or as a JSON object.
 *
 * @param io Where the lines go.
 * @param json One JSON object per dead letter instead of the columns.
 * @returns The `onDeadLetter` handler of the read.
 */
export function letterPrinter(io: CommandIo, json: boolean): (letter: DeadLetter) => void {
  let first = !json;
  return ({ info, position }) => {
    if (first) io.print(LETTER_HEADER);
    first = false;
    io.print(json ? JSON.stringify(letterJson(info, position)) : letterLine(info));
  };
}

/** How a `dlq` run ends, in the words of its subcommand. */
export interface DlqEnding {
  /** The run, as the error line names it (`list`, `dry run`, `replay`, ...). */
  what: string;
  /** Where the dead letters are after a run that stopped early (after the reason). */
  after: (summary: DlqSummary) => string;
  /** The summary line of a run that went through. */
  line: (summary: DlqSummary) => string;
  /** With `--json`: the subcommand's own fields of the JSON summary (instead of the line). */
  json?: ((summary: DlqSummary) => Record<string, unknown>) | undefined;
  /** Dead letters were printed: a reader that went away (`| head`) is no failure. */
  letters?: boolean;
  /** The run removes dead letters: the line says how many are left (`where`), an error where the rest are. */
  removes?: { where: string } | undefined;
  /** Prints the line alone (no counts by kind); `export` sends it to stderr with `-o -`. */
  lineTo?: ((line: string) => void) | undefined;
}

/**
 * Prints the end of a run: its summary (the line and the counts by kind,
 * or the JSON summary) and the short-queue warning, or the one error line
 * of a run that stopped early.
 *
 * @param io Where the lines go.
 * @param summary What the run did.
 * @param ending The subcommand's words.
 * @returns 0, or 1 for a run that stopped early.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { endDlqRun } from "./dlq_output.ts";
 * const printed: string[] = [];
 * const io = { print: (l: string) => printed.push(l), error: () => {}, isTty: false };
 * const counts = { total: 2, scanned: 2, matched: 2, done: 2, removed: 2 };
 * const summary = { queue: "q", ...counts, byKind: { usage: 2 }, short: false };
 * assert.equal(endDlqRun(io, summary, { what: "purge", after: () => "", line: () => "done" }), 0);
 * assert.deepEqual(printed, ["done", "  usage                2"]);
 * ```
 */
export function endDlqRun(io: CommandIo, summary: DlqSummary, ending: DlqEnding): ExitCodeValue {
  const { failure } = summary;
  if (ending.letters && failure?.kind === "handler" && /broken pipe/i.test(failure.message)) {
    return ExitCode.Ok; // `dlq list | head`: the reader has what it wanted.
  }
  if (failure !== undefined) {
    if (BEFORE_START.has(failure.kind)) {
      io.error(`error: ${failure.message}`);
    } else {
      const where = summary.total > 0 ? ` after ${summary.scanned} of ${summary.total}` : "";
      const reason = failure.kind === "interrupted" ? "interrupted" : failure.message;
      const rest = ending.removes === undefined
        ? ""
        : `; every other dead letter is still in ${summary.queue}, in order`;
      io.error(`error: ${ending.what} stopped${where}: ${reason}; ${ending.after(summary)}${rest}`);
    }
    return ExitCode.Failed;
  }
  const { json, lineTo, removes } = ending;
  const left = summary.total - summary.removed;
  const line = ending.line(summary) +
    (removes !== undefined && left > 0 ? ` (${left} left${removes.where}, in order)` : "");
  if (lineTo !== undefined) {
    lineTo(line);
  } else if (json !== undefined) {
    const own = json(summary);
    const fields = `queue total matched ${Object.keys(own).join(" ")} byKind short?`;
    io.print(summaryJson({ ...summary, ...own, short: summary.short || undefined }, fields));
  } else {
    if (ending.letters && summary.done > 0) io.print("");
    io.print(line);
    for (const kinds of kindLines(summary.byKind)) io.print(kinds);
  }
  const warning = shortWarning(summary);
  if (warning !== undefined) io.error(warning);
  return ExitCode.Ok;
}

/** Failures that happen before a run takes any dead letter: the reason says it all. */
const BEFORE_START = new Set(["unreachable", "refused", "no_queue", "busy"]);
