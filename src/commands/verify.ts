/**
 * `telemetry verify`: audits the stored telemetry and, with `--fix`, repairs
 * what can be repaired and quarantines what cannot. Shaped like rclone
 * `check`: one status per file, a tally, exit 1 when anything is wrong.
 *
 * @module
 */

import { Command, Option } from "commander";
import { ExitCode, exitCodeFor, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandFactory, commandFactory, type FlagsOf } from "../cli/command_factory.ts";
import { collectList, parsePositiveInt, parseSize } from "../cli/parse.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { ProgressBar } from "../cli/progress_bar.ts";
import { errorLine, isKind } from "../core/errors.ts";
import { DEFAULT_AUDIT_CONCURRENCY, DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/defaults.ts";
import { parseMatchId } from "../core/store/match_id.ts";
import { DEFAULT_DATA_DIR } from "../core/store/storage.ts";
import { LineBatcher } from "../verify/line_batcher.ts";
import { problemLine, resultJson, summaryJson, summaryTable, Tally } from "../verify/report.ts";
import { runVerify } from "../verify/run_verify.ts";
import { isProblem, statusHelpLines } from "../verify/status.ts";

/** Settings of a run, validated. */
export interface VerifySettings {
  /** Data dir audited when no path is given. */
  dataDir: string;
  /** Only these match ids (empty: all). */
  matchIds: string[];
  /** JSON lines output. */
  json: boolean;
  /** Repair and quarantine. */
  fix: boolean;
  /** Only say what `--fix` would do. */
  dryRun: boolean;
  /** Files in parallel. */
  jobs: number;
  /** Decompressed size cap per file. */
  maxDecompressedBytes: number;
}

/**
 * The `verify` command's flags and arguments, without its action.
 *
 * @returns The typed command.
 */
function defineVerifyCommand() {
  return new Command("verify")
    .description("audit stored telemetry (gzip, JSON, match id) and, with --fix, repair it")
    .argument(
      "[path...]",
      "a data dir, one matchID=<id> directory or one raw.json.gz (default: --data-dir)",
    )
    .addOption(
      new Option("--data-dir <dir>", "store root audited when no path is given (a directory)")
        .env("TELEMETRY_DATA_DIR").default(DEFAULT_DATA_DIR),
    )
    .addOption(
      new Option("--match-id <id>", "only audit this match (repeatable, comma-separated)")
        .argParser(collectList),
    )
    .addOption(new Option("--json", "print one JSON object per file, then a summary object"))
    .addOption(
      new Option(
        "--fix",
        "rewrite double/plain raw.json.gz as single gzip, quarantine bad ones, remove old temp files (other files are kept)",
      ),
    )
    .addOption(new Option("--dry-run", "print what --fix would do and change nothing"))
    .addOption(
      new Option("--jobs <n>", "files audited at once (2 or more: on worker threads)")
        .argParser(parsePositiveInt)
        .default(DEFAULT_AUDIT_CONCURRENCY, "number of CPU cores"),
    )
    .addOption(
      new Option(
        "--max-decompressed-bytes <size>",
        "stop decompressing a file beyond this size (too_large)",
      )
        .argParser(parseSize).default(DEFAULT_MAX_DECOMPRESSED_BYTES, "4GiB"),
    );
}

/** Flags of `telemetry verify`, as commander infers them. */
export type VerifyFlags = FlagsOf<typeof defineVerifyCommand>;

/** Builds the `verify` command; its action's exit code goes to `onExit`. */
export const verifyCommand: CommandFactory = commandFactory(defineVerifyCommand, {
  help: `
Statuses:
${statusHelpLines(80).join("\n")}

Examples:
  telemetry verify                                   # audit every matchID=* under the data dir
  telemetry verify /opt/pewstats-platform/data/telemetry --jobs 8
  telemetry verify ./data/telemetry/matchID=fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c
  telemetry verify --match-id fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c --json
  telemetry verify --fix --dry-run                   # show what --fix would do
  telemetry verify --fix                             # repair, quarantine, clean up

Environment:
  TELEMETRY_DATA_DIR  default for --data-dir

Exit codes: 0 every file ok; 1 a problem was found (with --fix: a problem is left
that --fix did not resolve, e.g. a missing raw.json.gz), the data dir is not a
directory, or --fix stopped at a full, read-only or failing store; 2 usage error.`,
  run: (paths, flags) => runVerifyCommand(paths, flags, processIo),
});

/**
 * Validates the flags.
 *
 * @param flags The parsed flags.
 * @returns The settings.
 * @throws {TelemetryError} kind `usage` for an invalid `--match-id`.
 *
 * @example
 * ```ts
 * import { toVerifySettings } from "./verify.ts";
 * const settings = toVerifySettings({ dataDir: "/data", jobs: 2, maxDecompressedBytes: 1024, fix: true });
 * if (!settings.fix || settings.dryRun) throw new Error("unexpected");
 * ```
 */
export function toVerifySettings(flags: VerifyFlags): VerifySettings {
  return {
    dataDir: flags.dataDir,
    matchIds: [...new Set((flags.matchId ?? []).map((id) => parseMatchId(id)))],
    json: flags.json === true,
    fix: flags.fix === true,
    dryRun: flags.dryRun === true,
    jobs: flags.jobs,
    maxDecompressedBytes: flags.maxDecompressedBytes,
  };
}

/**
 * Runs `verify` with parsed flags: walk, audit (and fix), render, exit code.
 * Results are rendered as they come: with `--json`, one object per result
 * (in batches of lines), then the summary; otherwise one line per problem as
 * it is found, then the table of counts.
 *
 * @param paths The path arguments (may be empty).
 * @param flags The parsed flags.
 * @param io Where output goes (injected by tests).
 * @returns 0 all ok, 1 problems (left), 2 usage error.
 */
export async function runVerifyCommand(
  paths: string[],
  flags: VerifyFlags,
  io: CommandIo = processIo,
): Promise<ExitCodeValue> {
  let settings: VerifySettings;
  try {
    settings = toVerifySettings(flags);
  } catch (err) {
    io.error(`error: ${errorLine(err)}`);
    return exitCodeFor(err);
  }
  const bar = io.isTty ? new ProgressBar({ label: "verify", unit: "items" }) : undefined;
  const tally = new Tally();
  const json = settings.json ? new LineBatcher((text) => io.print(text)) : undefined;
  try {
    await runVerify(paths, {
      dataDir: settings.dataDir,
      matchIds: settings.matchIds,
      jobs: settings.jobs,
      maxDecompressedBytes: settings.maxDecompressedBytes,
      fix: settings.fix,
      dryRun: settings.dryRun,
      ...(bar === undefined ? {} : {
        onProgress: (p) => {
          const mb = (p.bytes / 1e6).toFixed(1);
          bar.update(p.files, undefined, `files  ${mb} MB read`);
        },
      }),
      onResult: (result) => {
        tally.add(result);
        if (json !== undefined) {
          json.add(JSON.stringify(resultJson(result)));
        } else if (isProblem(result.status)) {
          bar?.finish();
          io.print(problemLine(result));
        }
      },
    });
  } catch (err) {
    bar?.finish();
    json?.flush();
    if (isKind(err, "store")) {
      // --fix stopped at a store fault: one line, with what it did and did not fix.
      const { resolved, unresolved } = tally.summary();
      io.error(
        `error: verify --fix stopped: ${errorLine(err)}; ` +
          `fixed ${resolved} problem(s) before it, ${unresolved} not fixed, the rest not checked`,
      );
      return ExitCode.Failed;
    }
    io.error(`error: ${errorLine(err)}`);
    return exitCodeFor(err);
  }
  bar?.finish();
  const summary = tally.summary();
  if (json !== undefined) {
    json.flush();
    io.print(JSON.stringify(summaryJson(summary)));
  } else {
    if (summary.problems > 0) io.print("");
    for (const line of summaryTable(summary, settings)) io.print(line);
  }
  if (summary.results === 0) {
    // Most likely the wrong directory: say so rather than report a clean audit of nothing.
    const where = paths.length > 0 ? paths.join(", ") : settings.dataDir;
    io.error(`warning: nothing to verify under ${where} (expected matchID=<id>/raw.json.gz)`);
  }
  const left = settings.fix && !settings.dryRun ? summary.unresolved : summary.problems;
  return left > 0 ? ExitCode.Failed : ExitCode.Ok;
}
