/**
 * The statuses `telemetry verify` gives: one per audited file, plus the
 * findings of the directory scan.
 *
 * @module
 */

/** Statuses of an audited `raw.json.gz`, decided by one streaming read. */
export const FILE_STATUSES = [
  "ok",
  "double_gzip",
  "not_gzip",
  "truncated",
  "corrupt",
  "invalid_json",
  "empty",
  "not_telemetry",
  "wrong_match",
  "too_large",
  "unreadable",
] as const;

/** Statuses found by walking the data dir, without reading any content. */
export const SCAN_STATUSES = ["missing", "stray_temp", "bad_dir_name"] as const;

/** Every status, in the order the summary table lists them. */
export const STATUSES = [...FILE_STATUSES, ...SCAN_STATUSES] as const;

/** Status of an audited file. */
export type FileStatus = typeof FILE_STATUSES[number];

/** Status of a scan finding. */
export type ScanStatus = typeof SCAN_STATUSES[number];

/** Any status `verify` reports. */
export type VerifyStatus = FileStatus | ScanStatus;

/** Content problems that `--fix` moves into the quarantine. */
export const QUARANTINE_STATUSES: readonly VerifyStatus[] = [
  "truncated",
  "corrupt",
  "invalid_json",
  "empty",
  "not_telemetry",
  "wrong_match",
];

/** Problems that `--fix` rewrites as a single gzip of the same content. */
export const REWRITE_STATUSES: readonly VerifyStatus[] = ["double_gzip", "not_gzip"];

/**
 * Whether a status is a problem (anything but `ok`).
 *
 * @param status A status.
 * @returns True unless it is `ok`.
 *
 * @example
 * ```ts
 * import { isProblem } from "./status.ts";
 * if (isProblem("ok") || !isProblem("missing")) throw new Error("unexpected");
 * ```
 */
export function isProblem(status: VerifyStatus): boolean {
  return status !== "ok";
}
