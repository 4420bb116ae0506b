/**
 * `telemetry download`: the ad-hoc download an operator runs from a shell,
 * one URL or a batch of jobs.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "commander";
import { ExitCode, exitCodeFor, type ExitCodeValue } from "../cli/exit_code.ts";
import { addDownloadOptions, toDownloadSettings } from "../cli/download_options.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { createLogger } from "../cli/logger.ts";
import type { Logger } from "../core/log.ts";
import { parsePositiveInt } from "../cli/parse.ts";
import { ProgressBar } from "../cli/progress_bar.ts";
import {
  type DownloadProgress,
  type DownloadResult,
  type DownloadSettings,
  downloadTelemetry,
} from "../core/download.ts";
import { errorLine, TelemetryError } from "../core/errors.ts";
import { runPool } from "../core/pool.ts";
import { redactUrl } from "../core/http/url_policy.ts";
import { readJobs } from "./jobs_file.ts";

/**
 * The `download` command's flags and arguments, without its action.
 *
 * @returns The typed command.
 */
function defineDownloadCommand() {
  return addDownloadOptions(
    new Command("download")
      .description("download telemetry into the store (one URL, or a batch of jobs with --jobs)")
      .argument("[url]", "telemetry URL (https, allowed host)")
      .addOption(
        new Option("--match-id <id>", "match id (default: from the LogMatchDefinition event)"),
      )
      .addOption(new Option("--force", "download again even when raw.json.gz exists"))
      .addOption(new Option("--json", "print one JSON object per result"))
      .addOption(
        new Option(
          "--jobs <file>",
          "read newline-delimited JSON jobs ({match_id, telemetry_url}) from a file, or - for stdin",
        ),
      )
      .addOption(
        new Option("--concurrency <n>", "downloads at once with --jobs").argParser(parsePositiveInt)
          .default(4),
      ),
  );
}

/** Flags of `telemetry download`, as commander infers them. */
export type DownloadCommandFlags = ReturnType<ReturnType<typeof defineDownloadCommand>["opts"]>;

/**
 * Builds the `download` command.
 *
 * @param onExit Receives the exit code when the action ends.
 * @returns The commander command.
 */
export function downloadCommand(onExit: (code: ExitCodeValue) => void): CommandUnknownOpts {
  const command = defineDownloadCommand();
  command.addHelpText(
    "after",
    `
Examples:
  telemetry download https://telemetry-cdn.pubg.com/bluehole-pubg/steam/2024/11/28/12/34/<uuid>-telemetry.json
  telemetry download "$URL" --match-id fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c --json
  telemetry download --jobs jobs.ndjson --concurrency 8

Environment:
  TELEMETRY_DATA_DIR       default for --data-dir
  TELEMETRY_ALLOWED_HOSTS  default for --allow-host (comma-separated)

Exit codes: 0 downloaded or already present, 1 a download failed, 2 usage error
(bad flag, bad match id, URL refused by policy).`,
  );
  command.action(async (url, flags) => {
    onExit(await runDownload(url, flags, processIo));
  });
  return command;
}

/**
 * Runs `download` with parsed flags.
 *
 * @param url The URL argument, if given.
 * @param flags The parsed flags.
 * @param io Where results go (third argument: the command's I/O, injected for tests).
 * @returns The exit code.
 */
export async function runDownload(
  url: string | undefined,
  flags: DownloadCommandFlags,
  io: CommandIo = processIo,
): Promise<ExitCodeValue> {
  const log = createLogger(flags.logFormat === undefined ? {} : { format: flags.logFormat });
  const context = { settings: toDownloadSettings(flags), flags, io, log };
  if (flags.jobs !== undefined) {
    if (url !== undefined || flags.matchId !== undefined) {
      log.error("usage", { error: "give either a URL or --jobs, not both" });
      return ExitCode.Usage;
    }
    return await runBatch(flags.jobs, context);
  }
  if (url === undefined) {
    log.error("usage", { error: "missing URL: telemetry download <url> (or --jobs FILE)" });
    return ExitCode.Usage;
  }
  const bar = io.isTty && flags.json !== true ? new ProgressBar({ label: "download" }) : undefined;
  const { error } = await downloadJob({ url, matchId: flags.matchId }, {
    ...context,
    bar,
    onProgress: (p) => bar?.update(p.bytes, p.total),
  });
  return error === undefined ? ExitCode.Ok : exitCodeFor(error);
}

/** What every job of one `download` run shares. */
interface RunContext {
  settings: Required<DownloadSettings>;
  flags: DownloadCommandFlags;
  io: CommandIo;
  log: Logger;
}

/** One job to download: from the command line, or a line of a jobs file. */
interface JobInput {
  url: string;
  matchId?: string | undefined;
  /** The line of the jobs file. */
  line?: number;
}

/**
 * Downloads one job and reports it: retries as `warn` log lines, the result
 * on stdout, a failure as one log line (and a result line in a batch).
 */
async function downloadJob(
  job: JobInput,
  context: RunContext & {
    bar?: ProgressBar | undefined;
    onProgress?: (progress: DownloadProgress) => void;
  },
): Promise<{ result?: DownloadResult; error?: unknown }> {
  const { settings, flags, io, log, bar, onProgress } = context;
  try {
    const result = await downloadTelemetry(job.url, {
      ...settings,
      ...(job.matchId === undefined ? {} : { matchId: job.matchId }),
      force: flags.force === true,
      ...(onProgress === undefined ? {} : { onProgress }),
      onRetry: (e) => {
        bar?.finish();
        log.warn("retry", {
          url: redactUrl(job.url),
          match_id: job.matchId,
          attempt: e.attempt,
          delay_s: e.delayMs / 1000,
          error: errorLine(e.error),
        });
      },
    });
    bar?.finish();
    io.print(flags.json === true ? JSON.stringify(resultJson(result)) : resultText(result));
    return { result };
  } catch (err) {
    bar?.finish();
    reportFailure(err, { ...job, json: flags.json === true, io, log });
    return { error: err };
  }
}

async function runBatch(source: string, context: RunContext): Promise<ExitCodeValue> {
  const { flags, io, log } = context;
  let failed = 0;
  let done = 0;
  let bytes = 0;
  const bar = io.isTty ? new ProgressBar({ label: "jobs", unit: "items" }) : undefined;
  try {
    await runPool(readJobs(source), {
      concurrency: flags.concurrency,
      worker: async (job) => {
        if (job.error !== undefined) {
          failed++;
          bar?.finish();
          reportFailure(job.error, { ...job, json: flags.json === true, io, log });
        } else {
          const { result } = await downloadJob(job, { ...context, bar });
          if (result === undefined) failed++;
          else bytes += result.bytes;
        }
        done++;
        bar?.update(done, undefined, `${(bytes / 1e6).toFixed(1)} MB  ${failed} failed`);
      },
    });
  } catch (err) {
    bar?.finish();
    log.error("jobs_unreadable", { source, error: errorLine(err) });
    return exitCodeFor(err);
  }
  bar?.finish();
  log.info("batch_done", { jobs: done, failed });
  return failed > 0 ? ExitCode.Failed : ExitCode.Ok;
}

function resultJson(result: DownloadResult) {
  return {
    outcome: result.outcome,
    match_id: result.matchId,
    path: result.path,
    bytes: result.bytes,
    seconds: result.seconds,
    attempts: result.attempts,
    ...(result.events === undefined ? {} : { events: result.events }),
  };
}

function resultText(result: DownloadResult): string {
  return `${result.outcome.padEnd(14)} ${result.matchId}  ${result.path}  ${result.bytes} bytes  ${
    result.seconds.toFixed(2)
  } s`;
}

function reportFailure(
  err: unknown,
  context: {
    url: string;
    matchId?: string | undefined;
    json: boolean;
    io: CommandIo;
    log: Logger;
    line?: number;
  },
): void {
  const { url, matchId, json, io, log, line } = context;
  const kind = err instanceof TelemetryError ? err.kind : "permanent";
  const code = err instanceof TelemetryError ? err.code : "internal";
  log.error("download_failed", {
    ...(line === undefined ? {} : { line }),
    match_id: matchId,
    url: url === "" ? undefined : redactUrl(url),
    kind,
    code,
    error: errorLine(err),
  });
  if (!json) {
    // A batch prints one result line per job; a single download's one line is the log line.
    if (line !== undefined) io.print(`${"failed".padEnd(14)} ${matchId ?? "-"}  ${errorLine(err)}`);
  } else {
    io.print(JSON.stringify({
      outcome: "failed",
      ...(line === undefined ? {} : { line }),
      match_id: matchId ?? null,
      error: errorLine(err),
      error_kind: kind,
      error_code: code,
    }));
  }
}
