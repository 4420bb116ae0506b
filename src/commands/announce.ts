/**
 * `telemetry announce`: re-sends the processing message of stored files.
 * This file turns flags into settings, renders results and maps the end to
 * an exit code; the work is `src/queue/announce.ts`.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "commander";
import { hostname } from "node:os";
import { addBrokerOptions, confirmTimeoutOption } from "../cli/broker_options.ts";
import { addSomeDownloadOptions } from "../cli/download_options.ts";
import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { collectList, parsePositiveInt } from "../cli/parse.ts";
import { plural } from "../cli/plural.ts";
import { publishSummaryText } from "../cli/publish_summary.ts";
import { DEFAULT_AUDIT_CONCURRENCY } from "../core/defaults.ts";
import { TelemetryError } from "../core/errors.ts";
import { parseMatchId } from "../core/store/match_id.ts";
import type { AnnounceResult, AnnounceSettings, AnnounceSummary } from "../queue/announce.ts";
import { resolveBrokerSettings } from "../queue/broker_settings.ts";
import { scanPaths, type ScanResult } from "../verify/scan.ts";
import { operatorHelp, renderJson, startFailure, summaryJson, terminalBar } from "./operator.ts";
import { runOperator } from "./operator_run.ts";

/**
 * The `announce` command's flags and arguments, without its action.
 *
 * @returns The typed command.
 */
function defineAnnounceCommand() {
  return addSomeDownloadOptions(
    addBrokerOptions(
      new Command("announce")
        .description("re-send the processing message of stored files (only files that audit ok)")
        .argument(
          "[path...]",
          "a data dir (every match in it), one matchID=<id> directory or one raw.json.gz",
        ),
    )
      .addOption(
        new Option(
          "--match-id <id>",
          "announce this match of --data-dir (repeatable, comma-separated)",
        )
          .argParser(collectList),
      )
      .option(
        "--publish-queue <name>",
        "queue of the processing messages (default: match.processing.telemetry.{env})",
      )
      .option("--worker-id <id>", "worker_id of the messages (default: hostname-pid)")
      .option("--dry-run", "audit and count; publish nothing")
      .option("--json", "print one JSON object per file, then a summary object")
      .addOption(
        new Option("--concurrency <n>", "files audited at once").argParser(parsePositiveInt)
          .default(DEFAULT_AUDIT_CONCURRENCY, "number of CPU cores"),
      )
      .addOption(confirmTimeoutOption()),
    ["dataDir", "maxDecompressedBytes"] as const,
  );
}

/** Flags of `telemetry announce`, as commander infers them. */
export type AnnounceFlags = ReturnType<ReturnType<typeof defineAnnounceCommand>["opts"]>;

const HELP = operatorHelp({
  about: `Each file is audited first, as 'telemetry verify' does (gzip, JSON, match id);
only ok files are announced, every other one is reported with its status. The
message is the one 'consume' sends (match_id, file_path, file_size_mb, ...;
map_name, game_mode and match_datetime are null: the store does not keep them;
downloaded_at is the file's modification time), persistent JSON to
match.processing.telemetry.{env}; a file counts as announced once the broker
confirmed it. Name what to announce: a PATH, or --match-id (looked up in
--data-dir); a data dir as PATH announces every match in it.`,
  examples: [
    "telemetry announce --env prod --match-id fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c",
    "telemetry announce --env prod --match-id id1,id2 --data-dir /opt/pewstats-platform/data/telemetry",
    "telemetry announce --env prod /opt/pewstats-platform/data/telemetry --dry-run",
    "telemetry announce --env prod /opt/pewstats-platform/data/telemetry/matchID=fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c --json",
  ],
  environment: "  TELEMETRY_DATA_DIR           default for --data-dir",
  exitCodes: `Exit codes: 0 every file named was ok and announced (with --dry-run: ok); 1 a
file was not ok or missing, a publish was not confirmed, or the broker was
unreachable, lost or lacks the queue; 2 usage error (bad flag, missing --env,
nothing named, a PATH that does not exist, an invalid --match-id); 130/143
stopped by Ctrl-C/SIGTERM (what was sent is confirmed first).`,
});

/**
 * Builds the `announce` command.
 *
 * @param onExit Receives the exit code when the action ends.
 * @returns The commander command.
 */
export function announceCommand(onExit: (code: ExitCodeValue) => void): CommandUnknownOpts {
  return defineAnnounceCommand().addHelpText("after", HELP).action(async (paths, flags) => {
    onExit(await runAnnounceCommand(paths, flags, { io: processIo, env: Deno.env.toObject() }));
  });
}

/**
 * Runs `announce` with parsed flags.
 *
 * @param paths The path arguments (may be empty).
 * @param flags The parsed flags.
 * @param context Output, environment variables and an optional stop signal
 * (the command stops on SIGINT/SIGTERM when none is given).
 * @returns The exit code.
 */
export async function runAnnounceCommand(
  paths: string[],
  flags: AnnounceFlags,
  context: { io: CommandIo; env: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<ExitCodeValue> {
  const { io, env } = context;
  let settings: AnnounceSettings;
  let scan: ScanResult;
  try {
    const matchIds = [...new Set((flags.matchId ?? []).map((id) => parseMatchId(id)))];
    if (paths.length === 0 && matchIds.length === 0) {
      throw new TelemetryError(
        "usage",
        "bad_option",
        "nothing to announce: name a PATH (a data dir announces every match in it) or --match-id ID",
      );
    }
    settings = {
      broker: resolveBrokerSettings(flags, env),
      workerId: flags.workerId ?? `${hostname()}-${Deno.pid}`,
      dryRun: flags.dryRun === true,
      concurrency: flags.concurrency,
      maxDecompressedBytes: flags.maxDecompressedBytes,
      confirmTimeoutMs: Math.round(flags.confirmTimeout * 1000),
    };
    scan = await scanPaths(paths, { dataDir: flags.dataDir, matchIds });
  } catch (err) {
    return startFailure(io, err);
  }
  const json = flags.json === true;
  const bar = terminalBar(io, { label: "announce" });
  const { runAnnounce } = await import("../queue/announce.ts");
  return await runOperator(context, {
    run: (signal) =>
      runAnnounce(scan, settings, {
        signal,
        onProgress: (p) => bar?.update(p.bytes, p.totalBytes, `${p.files}/${p.totalFiles} files`),
        onResult: (result) => {
          const line = json
            ? JSON.stringify(renderJson(result, "outcome matchId path status detail bytes"))
            : resultText(result);
          if (line === undefined) return;
          bar?.finish();
          io.print(line);
        },
      }),
    bar,
    summary: (summary) =>
      json
        ? summaryJson(
          summary,
          "queue dryRun announced wouldAnnounce notAnnounced reasons unconfirmed " +
            "notSent:not_audited seconds error",
        )
        : summaryText(summary),
    failure: failureText,
    verdict: (summary) =>
      summary.notAnnounced > 0 || summary.unconfirmed > 0 ? ExitCode.Failed : ExitCode.Ok,
  });
}

function resultText(result: AnnounceResult): string | undefined {
  if (result.outcome !== "not_announced") return undefined; // counted in the summary
  return `${(result.status ?? "no_match_id").padEnd(14)}${result.path}: ${result.detail}`;
}

function summaryText(summary: AnnounceSummary): string {
  const reasons = Object.entries(summary.reasons).map(([status, n]) => `${status} ${n}`);
  return publishSummaryText(summary, {
    done: `announced ${summary.announced}`,
    wouldBe: `${plural(summary.wouldAnnounce, "ok file")} would be announced`,
    rest: `not announced ${summary.notAnnounced}${
      reasons.length > 0 ? ` (${reasons.join(", ")})` : ""
    }`,
  });
}

/** The one error line of a run that stopped early. */
function failureText(summary: AnnounceSummary): string {
  return [
    summary.error,
    `announced ${summary.announced} (confirmed)`,
    ...(summary.unconfirmed > 0 ? [`${summary.unconfirmed} sent but unconfirmed`] : []),
    ...(summary.notSent > 0 ? [`${plural(summary.notSent, "file")} not audited`] : []),
    "run the same command again to finish (a file may then be announced twice, as consume may)",
  ].join("; ");
}
