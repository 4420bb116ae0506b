/**
 * `telemetry enqueue`: queues download jobs for `consume`. This file turns
 * flags into settings, renders results and maps the end to an exit code;
 * the work is `src/queue/enqueue.ts`.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "commander";
import { addBrokerOptions, confirmTimeoutOption } from "../cli/broker_options.ts";
import { addSomeDownloadOptions, toUrlPolicy } from "../cli/download_options.ts";
import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { plural } from "../cli/plural.ts";
import { publishSummaryText } from "../cli/publish_summary.ts";
import { TelemetryError } from "../core/errors.ts";
import { fsErrorReason } from "../core/store/fs_error.ts";
import { resolveBrokerSettings } from "../queue/broker_settings.ts";
import type {
  EnqueueInput,
  EnqueueResult,
  EnqueueSettings,
  EnqueueSummary,
} from "../queue/enqueue.ts";
import { type JobLines, openJobLines } from "./jobs_file.ts";
import { operatorHelp, renderJson, startFailure, summaryJson, terminalBar } from "./operator.ts";
import { runOperator } from "./operator_run.ts";

/**
 * The `enqueue` command's flags and arguments, without its action.
 *
 * @returns The typed command.
 */
function defineEnqueueCommand() {
  return addSomeDownloadOptions(
    addBrokerOptions(
      new Command("enqueue")
        .description("queue download jobs to match.telemetry.{env} (one URL, or --jobs FILE)")
        .argument("[url]", "telemetry URL of one job (https, allowed host); needs --match-id"),
    )
      .option("--match-id <id>", "match id of the job given as <url> (required)")
      .option(
        "--jobs <file>",
        "newline-delimited JSON jobs ({match_id, telemetry_url, ...}) from a file, or - for stdin",
      )
      .option("--dry-run", "validate and count the jobs; publish nothing")
      .option("--skip-stored", "leave out jobs whose raw.json.gz is in --data-dir already")
      .option("--json", "print one JSON object per job, then a summary object")
      .addOption(confirmTimeoutOption()),
    ["dataDir", "allowHost", "allowHttp"] as const,
  );
}

/** Flags of `telemetry enqueue`, as commander infers them. */
export type EnqueueFlags = ReturnType<ReturnType<typeof defineEnqueueCommand>["opts"]>;

const HELP = operatorHelp({
  about: `Each job is validated as 'consume' will validate it (a JSON object with string
match_id and telemetry_url, a valid match id, a URL the policy allows); a bad
line is reported with its line number and not published. Jobs go to
match.telemetry.{env} through the default exchange, persistent JSON, with
environment and queue_target added; a job counts as queued once the broker
confirmed it. The queue must exist ('telemetry consume' declares it).`,
  examples: [
    "telemetry enqueue --env prod --jobs jobs.ndjson",
    "telemetry enqueue --env prod --jobs jobs.ndjson --dry-run",
    "telemetry enqueue --env prod --jobs jobs.ndjson --skip-stored --data-dir /opt/pewstats-platform/data/telemetry",
    "jq -c '{match_id, telemetry_url, map_name, game_mode, match_datetime}' matches.json | telemetry enqueue --env prod --jobs -",
    `telemetry enqueue --env prod "https://telemetry-cdn.pubg.com/bluehole-pubg/steam/…-telemetry.json" --match-id fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c`,
  ],
  environment: `  TELEMETRY_DATA_DIR           default for --data-dir
  TELEMETRY_ALLOWED_HOSTS      default for --allow-host (comma-separated)`,
  exitCodes: `Exit codes: 0 every job queued (or skipped; with --dry-run: valid); 1 a line was
refused, a publish was not confirmed, or the broker was unreachable, lost or
lacks the queue (the error line says from which line to re-send); 2 usage error
(bad flag, missing --env, unreadable --jobs file, a --skip-stored --data-dir
that does not exist, the <url> job refused);
130/143 stopped by Ctrl-C/SIGTERM (what was sent is confirmed first).`,
});

/**
 * Builds the `enqueue` command.
 *
 * @param onExit Receives the exit code when the action ends.
 * @returns The commander command.
 */
export function enqueueCommand(onExit: (code: ExitCodeValue) => void): CommandUnknownOpts {
  return defineEnqueueCommand().addHelpText("after", HELP).action(async (url, flags) => {
    onExit(await runEnqueueCommand(url, flags, { io: processIo, env: Deno.env.toObject() }));
  });
}

/** What a run of the command works with. */
interface CommandContext {
  /** Where results and errors go. */
  io: CommandIo;
  /** The environment variables. */
  env: Record<string, string | undefined>;
  /** Stops reading jobs; the command adds SIGINT/SIGTERM when absent. */
  signal?: AbortSignal;
}

/**
 * Runs `enqueue` with parsed flags.
 *
 * @param url The URL argument, if given.
 * @param flags The parsed flags.
 * @param context Output, environment variables and an optional stop signal.
 * @returns The exit code.
 */
export async function runEnqueueCommand(
  url: string | undefined,
  flags: EnqueueFlags,
  context: CommandContext,
): Promise<ExitCodeValue> {
  const { io, env } = context;
  let settings: EnqueueSettings;
  let source: JobLines | EnqueueInput[];
  try {
    settings = {
      broker: resolveBrokerSettings(flags, env),
      policy: toUrlPolicy(flags),
      dryRun: flags.dryRun === true,
      skipStoredIn: flags.skipStored === true ? flags.dataDir : undefined,
      confirmTimeoutMs: Math.round(flags.confirmTimeout * 1000),
    };
    if (settings.skipStoredIn !== undefined) await checkSkipStoredDir(settings.skipStoredIn);
    source = await jobSource(url, flags);
  } catch (err) {
    return startFailure(io, err);
  }
  const single = Array.isArray(source);
  const json = flags.json === true;
  const bar = terminalBar(io, { label: "enqueue", unit: "items" });
  const counts = { done: 0, queued: 0, refused: 0, skipped: 0 };
  const onResult = (result: EnqueueResult) => {
    counts.done++;
    if (result.outcome === "queued" || result.outcome === "valid") counts.queued++;
    if (result.outcome === "refused") counts.refused++;
    if (result.outcome === "skipped") counts.skipped++;
    const line = json
      ? JSON.stringify(renderJson(result, "line outcome matchId error? code:error_code? path?"))
      : resultText(result, single);
    if (line !== undefined) {
      bar?.finish();
      if (single && result.outcome === "refused" && !json) io.error(line);
      else io.print(line);
    }
    bar?.update(
      counts.done,
      undefined,
      `${
        flags.dryRun ? "valid" : "queued"
      } ${counts.queued}  refused ${counts.refused}  skipped ${counts.skipped}`,
    );
  };
  const { runEnqueue } = await import("../queue/enqueue.ts");
  return await runOperator(context, {
    run: (signal) =>
      runEnqueue(source, settings, {
        onResult,
        signal,
        onConnected: ({ queue, consumers }) => {
          if (consumers === 0) {
            io.error(
              `warning: nothing consumes ${queue} now: the jobs wait until ` +
                `'telemetry consume --env ${settings.broker.env}' runs`,
            );
          }
        },
      }),
    bar,
    cleanup: async () => {
      if (!Array.isArray(source)) await source.close();
    },
    summary: (summary) =>
      json
        ? summaryJson(
          summary,
          "queue dryRun queued valid refused skipped unconfirmed consumers seconds error resumeLine",
        )
        : summaryText(summary),
    failure: (summary) => failureText(summary, { source: flags.jobs, env: settings.broker.env }),
    verdict: (summary) => {
      if (single && summary.refused > 0) return ExitCode.Usage;
      return summary.refused > 0 || summary.unconfirmed > 0 ? ExitCode.Failed : ExitCode.Ok;
    },
  });
}

/** The jobs: the lines of `--jobs`, or the one job of `<url> --match-id`. */
async function jobSource(
  url: string | undefined,
  flags: EnqueueFlags,
): Promise<JobLines | EnqueueInput[]> {
  if (flags.jobs !== undefined) {
    if (url !== undefined || flags.matchId !== undefined) {
      throw usage("give either --jobs or <url> --match-id, not both");
    }
    return await openJobLines(flags.jobs);
  }
  if (url === undefined) {
    throw usage("nothing to queue: pass --jobs FILE (or - for stdin), or <url> --match-id ID");
  }
  if (flags.matchId === undefined) {
    // The uuid in a telemetry URL is the asset id, not the match id; the worker needs the match id.
    throw usage(
      "missing --match-id: a telemetry URL names the asset, not the match; pass the match id " +
        "from the PUBG API (or use 'telemetry download <url>', which reads it from the content)",
    );
  }
  return [{ text: JSON.stringify({ match_id: flags.matchId, telemetry_url: url }) }];
}

/**
 * Refuses a `--data-dir` that `--skip-stored` cannot look in: a typo would
 * otherwise skip nothing and queue every job again.
 */
async function checkSkipStoredDir(dataDir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dataDir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw usage(
        `--data-dir ${dataDir} does not exist: --skip-stored looks there for stored files`,
      );
    }
    throw usage(`cannot read --data-dir ${dataDir} for --skip-stored: ${fsErrorReason(err)}`);
  }
  if (!info.isDirectory) {
    throw usage(
      `--data-dir ${dataDir} is not a directory: --skip-stored looks there for stored files`,
    );
  }
}

function resultText(result: EnqueueResult, single: boolean): string | undefined {
  if (result.outcome === "refused") {
    return single ? `error: ${result.error}` : `refused  ${result.error}`;
  }
  return undefined; // queued, valid, skipped and failed are counted in the summary
}

function summaryText(summary: EnqueueSummary): string {
  return publishSummaryText(summary, {
    done: `queued ${summary.queued}`,
    wouldBe: `${plural(summary.valid, "valid job")} would be queued`,
    rest: `refused ${summary.refused}, skipped ${summary.skipped}`,
  });
}

/** The one error line of a run that stopped early, with how to finish it. */
function failureText(
  summary: EnqueueSummary,
  context: { source: string | undefined; env: string },
): string {
  const parts = [
    summary.error,
    `queued ${summary.queued} (confirmed)`,
    ...(summary.unconfirmed > 0
      ? [`${summary.unconfirmed} sent but unconfirmed (may be queued)`]
      : []),
  ];
  const line = summary.resumeLine;
  if (line !== undefined && context.source !== undefined) {
    const file = context.source === "-" ? "<your jobs file>" : context.source;
    parts.push(
      `to finish, re-send from line ${line}: tail -n +${line} ${file} | ` +
        `telemetry enqueue --env ${context.env} --jobs -`,
    );
  }
  return parts.join("; ");
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
