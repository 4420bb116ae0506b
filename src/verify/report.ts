/**
 * Rendering of `verify` results: the tally of statuses, the JSON objects of
 * `--json`, the summary table and the problem lines. Pure functions: the
 * command prints what they return.
 *
 * @module
 */

import type { VerifyResult } from "./result.ts";
import { isFileStatus, isProblem, STATUSES, type VerifyStatus } from "./status.ts";

/** Totals of a run. */
export interface VerifySummary {
  /** Results reported (files audited plus scan findings). */
  results: number;
  /** Files audited. */
  files: number;
  /** File bytes read. */
  bytes: number;
  /** Decompressed content bytes validated. */
  decompressedBytes: number;
  /** Results per status (every status, 0 when none). */
  counts: Record<VerifyStatus, number>;
  /** Results that are not `ok`. */
  problems: number;
  /** Problems that `--fix` resolved (or, with `--dry-run`, would resolve). */
  resolved: number;
  /** Problems left. */
  unresolved: number;
  /** Seconds since the tally started. */
  seconds: number;
}

/**
 * Counts results as they come, keeping none of them.
 *
 * @example
 * ```ts
 * import { Tally } from "./report.ts";
 * const tally = new Tally();
 * tally.add({ path: "/d/matchID=a/raw.json.gz", matchId: "a", status: "ok", detail: "", bytes: 10, decompressedBytes: 40, seconds: 0 });
 * if (tally.summary().counts.ok !== 1) throw new Error("unexpected");
 * ```
 */
export class Tally {
  #summary: VerifySummary;
  #now: () => number;
  #started: number;

  /** @param now Clock in milliseconds (default `performance.now`). */
  constructor(now: () => number = () => performance.now()) {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<VerifyStatus, number>;
    this.#summary = {
      results: 0,
      files: 0,
      bytes: 0,
      decompressedBytes: 0,
      counts,
      problems: 0,
      resolved: 0,
      unresolved: 0,
      seconds: 0,
    };
    this.#now = now;
    this.#started = now();
  }

  /**
   * Counts one result.
   *
   * @param result A result.
   */
  add(result: VerifyResult): void {
    const s = this.#summary;
    s.results++;
    s.counts[result.status]++;
    if (isFileStatus(result.status)) {
      s.files++;
      s.bytes += result.bytes ?? 0;
      s.decompressedBytes += result.decompressedBytes ?? 0;
    }
    if (!isProblem(result.status)) return;
    s.problems++;
    if (result.fix?.resolved === true) s.resolved++;
    else s.unresolved++;
  }

  /**
   * The totals so far.
   *
   * @returns A copy of the summary.
   */
  summary(): VerifySummary {
    const seconds = (this.#now() - this.#started) / 1000;
    return { ...this.#summary, counts: { ...this.#summary.counts }, seconds };
  }
}

/**
 * The `--json` object of one result.
 *
 * @param result A result.
 * @returns A plain object with snake_case keys (null for unknown values).
 */
export function resultJson(result: VerifyResult): Record<string, unknown> {
  const json: Record<string, unknown> = {
    path: result.path,
    match_id: result.matchId ?? null,
    status: result.status,
    detail: result.detail,
    bytes: result.bytes ?? null,
    decompressed_bytes: result.decompressedBytes ?? null,
  };
  if (result.events !== undefined) json.events = result.events;
  json.seconds = round(result.seconds);
  if (result.offset !== undefined) json.offset = result.offset;
  if (result.gzipLayers !== undefined) json.gzip_layers = result.gzipLayers;
  if (result.fix !== undefined) json.fix = { ...result.fix };
  return json;
}

/**
 * The final `--json` object.
 *
 * @param summary The totals.
 * @returns `{ summary: {...} }` (only non-zero statuses are listed).
 */
export function summaryJson(summary: VerifySummary): Record<string, unknown> {
  const statuses = Object.fromEntries(Object.entries(summary.counts).filter(([, n]) => n > 0));
  return {
    summary: {
      results: summary.results,
      files: summary.files,
      bytes: summary.bytes,
      decompressed_bytes: summary.decompressedBytes,
      seconds: round(summary.seconds),
      statuses,
      problems: summary.problems,
      resolved: summary.resolved,
      unresolved: summary.unresolved,
    },
  };
}

/**
 * The summary table: one row per status seen (always `ok`), then totals.
 *
 * @param summary The totals.
 * @param options Whether `--fix` or `--dry-run` ran (adds the resolved counts).
 * @returns The lines.
 */
export function summaryTable(
  summary: VerifySummary,
  options: { fix?: boolean; dryRun?: boolean } = {},
): string[] {
  const rows = STATUSES.filter((s) => s === "ok" || summary.counts[s] > 0)
    .map((s) => `  ${s.padEnd(14)}${String(summary.counts[s]).padStart(8)}`);
  const mb = (summary.decompressedBytes / 1e6).toFixed(1);
  const rate = (summary.decompressedBytes / 1e6 / Math.max(summary.seconds, 1e-3)).toFixed(1);
  const lines = [
    `  ${"status".padEnd(14)}${"count".padStart(8)}`,
    ...rows,
    `  ${"total".padEnd(14)}${String(summary.results).padStart(8)}`,
    `${summary.files} file${summary.files === 1 ? "" : "s"}, ${mb} MB decompressed in ${
      summary.seconds.toFixed(1)
    } s (${rate} MB/s); ${summary.problems} problem${summary.problems === 1 ? "" : "s"}`,
  ];
  if (options.dryRun === true) {
    lines.push(`dry run: --fix would resolve ${summary.resolved}, leave ${summary.unresolved}`);
  } else if (options.fix === true) {
    lines.push(`--fix resolved ${summary.resolved}, left ${summary.unresolved} unresolved`);
  }
  return lines;
}

/**
 * One line for a problem: status, path, what is wrong and where, and what
 * `--fix` did.
 *
 * @param result A result that is not `ok`.
 * @returns The line.
 */
export function problemLine(result: VerifyResult): string {
  const fix = result.fix === undefined ? "" : `  -> ${result.fix.detail}`;
  return `${result.status.padEnd(14)}${result.path}: ${result.detail}${fix}`;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
