/**
 * The statuses `telemetry verify` gives: one per audited file, plus the
 * findings of the directory scan. {@linkcode STATUS_TABLE} is the one place
 * a status is defined; the status types, the list of statuses, what `--fix`
 * does, the `--help` text and the table in `docs/verify.md` are all derived
 * from it.
 *
 * @module
 */

/** Where a status comes from: reading one file, or walking the data dir. */
export type StatusKind = "file" | "scan";

/**
 * What `--fix` does with a status:
 * - `none`: nothing to fix (the status is not a problem);
 * - `rewrite`: rewritten as a single gzip of the same content, atomically;
 * - `quarantine`: moved to the quarantine, never deleted;
 * - `remove_stray`: a stray temp file older than an hour is removed, a
 *   younger one is kept (a write may be in progress);
 * - `leave`: reported only, with `reason` as the fix detail (code spans lose
 *   their backticks, `<id>` becomes the match id when known); stays a problem.
 */
export type FixPlan =
  | { readonly action: "none" }
  | { readonly action: "rewrite" }
  | { readonly action: "quarantine" }
  | { readonly action: "remove_stray" }
  | { readonly action: "leave"; readonly reason: string };

/** The name of a {@linkcode FixPlan}. */
export type FixAction = FixPlan["action"];

/** What the table says about one status. */
export interface StatusInfo {
  /** Whether an audited file or the directory scan gives it. */
  readonly kind: StatusKind;
  /** Whether it is a problem: counted as one, and exit code 1 unless `--fix` resolves it. */
  readonly problem: boolean;
  /** What `--fix` does with it. */
  readonly fix: FixPlan;
  /**
   * One line saying what it means, for operators (`--help`, docs/verify.md);
   * Markdown code spans allowed.
   */
  readonly help: string;
}

const REWRITE = { action: "rewrite" } as const;
const QUARANTINE = { action: "quarantine" } as const;

/** A row of {@linkcode STATUS_TABLE}: every status but `ok` (fix `none`) is a problem. */
function row<const K extends StatusKind, const F extends FixPlan>(
  kind: K,
  fix: F,
  help: string,
): { kind: K; problem: boolean; fix: F; help: string } {
  return { kind, problem: fix.action !== "none", fix, help };
}

/** A `leave` plan: reported only, with `reason` as the fix detail. */
function leave<const R extends string>(reason: R): { action: "leave"; reason: R } {
  return { action: "leave", reason };
}

/**
 * Every status, keyed by name, in the order reports list them: file
 * statuses first, then scan findings.
 */
export const STATUS_TABLE = {
  ok: row(
    "file",
    { action: "none" },
    "single gzip of valid telemetry of this match (multi-member gzip included)",
  ),
  double_gzip: row("file", REWRITE, "gzip inside gzip (any depth), content valid"),
  not_gzip: row("file", REWRITE, "plain JSON stored under the `.gz` name, content valid"),
  truncated: row("file", QUARANTINE, "the gzip stream ends early (a worker crashed while writing)"),
  corrupt: row(
    "file",
    QUARANTINE,
    "bad gzip header, bad deflate data, CRC or length mismatch, data after the last gzip member, or bytes that are neither gzip nor JSON",
  ),
  invalid_json: row(
    "file",
    QUARANTINE,
    "the content is not well-formed JSON (the detail gives the byte offset)",
  ),
  empty: row("file", QUARANTINE, "zero-byte file, or gzip of nothing"),
  not_telemetry: row("file", QUARANTINE, "valid JSON, but not a non-empty array of objects"),
  wrong_match: row(
    "file",
    QUARANTINE,
    "the `MatchId` of `LogMatchDefinition` belongs to another match",
  ),
  too_large: row(
    "file",
    leave("left in place: it may be valid but bigger than --max-decompressed-bytes"),
    "decompresses beyond `--max-decompressed-bytes` (it may be valid: rerun with a higher limit)",
  ),
  unreadable: row(
    "file",
    leave("left in place: cannot be read"),
    "the file, or its match directory, cannot be read (permissions, I/O error)",
  ),
  not_regular: row(
    "file",
    leave("left as it is: never followed, opened or changed; replace it by hand"),
    "a symlink, directory, FIFO, socket or device where a `matchID=` directory or `raw.json.gz` should be: never followed nor opened",
  ),
  missing: row(
    "scan",
    leave(
      "left as it is: re-queue it with `telemetry enqueue --env <env> --match-id <id> <telemetry-url>`",
    ),
    "a `matchID=` directory without `raw.json.gz` (the detail says when `part-0.parquet` is there), or a `--match-id` without a directory",
  ),
  stray_temp: row(
    "scan",
    { action: "remove_stray" },
    "a leftover `.raw.json.gz.<hex>.tmp` of an interrupted write, in a match directory or in the data dir",
  ),
  bad_dir_name: row(
    "scan",
    leave("left as it is: rename or remove the directory by hand"),
    "a `matchID=` directory whose name is not a valid match id; its content is not audited",
  ),
} as const satisfies Record<string, StatusInfo>;

/** Any status `verify` reports. */
export type VerifyStatus = keyof typeof STATUS_TABLE;

/** The statuses of one kind. */
type StatusOfKind<K extends StatusKind> = {
  [S in VerifyStatus]: (typeof STATUS_TABLE)[S]["kind"] extends K ? S : never;
}[VerifyStatus];

/** Status of an audited file, decided by one streaming read. */
export type FileStatus = StatusOfKind<"file">;

/** Status of a scan finding, found without reading any content. */
export type ScanStatus = StatusOfKind<"scan">;

/** Every status, in the order of {@linkcode STATUS_TABLE} (the order reports list them). */
export const STATUSES: readonly VerifyStatus[] = Object.keys(STATUS_TABLE).filter(isVerifyStatus);

function isVerifyStatus(name: string): name is VerifyStatus {
  return Object.hasOwn(STATUS_TABLE, name);
}

/**
 * Whether a status is the status of an audited file (rather than a finding
 * of the directory scan).
 *
 * @param status A status.
 * @returns True for a file status.
 *
 * @example
 * ```ts
 * import { isFileStatus } from "./status.ts";
 * if (!isFileStatus("corrupt") || isFileStatus("missing")) throw new Error("unexpected");
 * ```
 */
export function isFileStatus(status: VerifyStatus): status is FileStatus {
  return STATUS_TABLE[status].kind === "file";
}

/**
 * Whether a status is a problem (anything but `ok`).
 *
 * @param status A status.
 * @returns The `problem` column of {@linkcode STATUS_TABLE}.
 *
 * @example
 * ```ts
 * import { isProblem } from "./status.ts";
 * if (isProblem("ok") || !isProblem("missing")) throw new Error("unexpected");
 * ```
 */
export function isProblem(status: VerifyStatus): boolean {
  return STATUS_TABLE[status].problem;
}

/**
 * The statuses for `verify --help`: one per status with what it means,
 * wrapped at `width` columns under a hanging indent. Code spans lose their
 * backticks.
 *
 * @param width The widest line, in characters.
 * @returns The lines, indented by two spaces.
 *
 * @example
 * ```ts
 * import { statusHelpLines } from "./status.ts";
 * const lines = statusHelpLines(80);
 * if (!lines[0]!.startsWith("  ok ") || lines.some((l) => l.length > 80)) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function statusHelpLines(width = 80): string[] {
  const nameWidth = Math.max(...STATUSES.map((status) => status.length)) + 2;
  const indent = " ".repeat(2 + nameWidth);
  const lines: string[] = [];
  for (const status of STATUSES) {
    const words = STATUS_TABLE[status].help.replaceAll("`", "").split(" ");
    let line = `  ${status.padEnd(nameWidth)}`;
    let lineHasWord = false;
    for (const word of words) {
      if (lineHasWord && line.length + 1 + word.length > width) {
        lines.push(line);
        line = indent;
        lineHasWord = false;
      }
      line += lineHasWord ? ` ${word}` : word;
      lineHasWord = true;
    }
    lines.push(line);
  }
  return lines;
}

/**
 * The Markdown table of statuses in `docs/verify.md` ("Statuses, and what
 * `--fix` does with each"), laid out exactly as `deno fmt` lays it out, so
 * that `tests/verify/status_test.ts` can compare it with that page.
 *
 * @returns The table's lines, header first.
 *
 * @example
 * ```ts
 * import { statusMarkdownTable } from "./status.ts";
 * const [header, , ok] = statusMarkdownTable();
 * if (!header!.startsWith("| status ") || !ok!.startsWith("| `ok` ")) throw new Error("unexpected");
 * ```
 */
export function statusMarkdownTable(): string[] {
  const header = ["status", "meaning", "`--fix`"];
  const rows = STATUSES.map((status) => {
    const info = STATUS_TABLE[status];
    return [`\`${status}\``, info.help, fixHelp(info.fix)].map(escapeCell);
  });
  const widths = header.map((cell, column) =>
    Math.max(cell.length, 3, ...rows.map((row) => row[column]!.length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** The `--fix` column of the table in `docs/verify.md`: what `--fix` does with a status. */
function fixHelp(fix: FixPlan): string {
  switch (fix.action) {
    case "none":
      return "nothing";
    case "rewrite":
      return "rewritten as a single gzip of the same JSON";
    case "quarantine":
      return "moved to the quarantine";
    case "remove_stray":
      return "removed when older than one hour; a younger one is kept (a write may be in progress) and does not count as a problem left";
    case "leave":
      return `${fix.reason}; stays a problem`;
  }
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|");
}
