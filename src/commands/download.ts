/**
 * `telemetry download`: the ad-hoc download an operator runs from a shell,
 * one URL or a batch of jobs.
 *
 * @module
 */

import { Command, Option } from "commander";
import { ExitCode, exitCodeFor, exitCodeForSignal, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandFactory, commandFactory, type FlagsOf } from "../cli/command_factory.ts";
import { addDownloadOptions, toDownloadSettings } from "../cli/download_options.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { type Interrupt, listenForInterrupt, type StopSignal } from "../cli/interrupt.ts";
import { createLogger } from "../cli/logger.ts";
import type { Logger } from "../core/log.ts";
import { parsePositiveInt } from "../cli/parse.ts";
import { ProgressBar } from "../cli/progress_bar.ts";
import type { DownloadProgress, DownloadResult, DownloadSettings } from "../core/download.ts";
import { DEFAULT_DOWNLOAD_CONCURRENCY } from "../core/defaults.ts";
import { errorLine, isKind, TelemetryError } from "../core/errors.ts";
import { runPool } from "../core/pool.ts";
import { checkUrl, redactUrl } from "../core/http/url_policy.ts";
import { checkDataDir, type CheckedDataDir } from "../core/store/data_dir.ts";
import { parseMatchId } from "../core/store/match_id.ts";
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
          .default(DEFAULT_DOWNLOAD_CONCURRENCY),
      ),
  );
}

/** Flags of `telemetry download`, as commander infers them. */
export type DownloadCommandFlags = FlagsOf<typeof defineDownloadCommand>;

/** Builds the `download` command; its action's exit code goes to `onExit`. */
export const downloadCommand: CommandFactory = commandFactory(defineDownloadCommand, {
  help: `
Examples:
  telemetry download https://telemetry-cdn.pubg.com/bluehole-pubg/steam/2024/11/28/12/34/<uuid>-telemetry.json
  telemetry download "$URL" --match-id fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c --json
  telemetry download --jobs jobs.ndjson --concurrency 8

Environment:
  TELEMETRY_DATA_DIR       default for --data-dir
  TELEMETRY_ALLOWED_HOSTS  default for --allow-host (comma-separated)
  NODE_EXTRA_CA_CERTS      a PEM file of extra CAs to trust (a mirror's private CA)
  DENO_CERT                the same, as Deno's own clients read it

Exit codes: 0 downloaded or already present, 1 a download failed or the data dir
is unusable, 2 usage error (bad flag, bad match id, URL refused by policy),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).`,
  run: (url, flags) => runDownload(url, flags, processIo),
});

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
  const settings = toDownloadSettings(flags);
  const json = flags.json === true;
  // A usage error is one `error: …` line, as for every command, before the data dir is touched.
  if (flags.jobs !== undefined) {
    if (url !== undefined || flags.matchId !== undefined) {
      io.error("error: give either a URL or --jobs, not both");
      return ExitCode.Usage;
    }
  } else if (url === undefined) {
    io.error("error: missing URL: telemetry download <url> (or --jobs FILE)");
    return ExitCode.Usage;
  } else {
    const problem = usageProblem(url, flags.matchId, settings);
    if (problem !== undefined) {
      io.error(`error: ${errorLine(problem)}`);
      return exitCodeFor(problem);
    }
  }
  using interrupt = listenForInterrupt();
  let dataDir: CheckedDataDir;
  try {
    // Once, before any network: an unusable data dir fails at once, not after retries.
    dataDir = await checkDataDir(settings.dataDir);
  } catch (err) {
    reportFailure(err, { url: url ?? "", matchId: flags.matchId, json, io, log });
    return exitCodeFor(err);
  }
  const context: RunContext = { settings, flags, io, log, interrupt };
  try {
    if (interrupt.received !== undefined) return reportInterrupt(interrupt.received, context);
    if (flags.jobs !== undefined) return await runBatch(flags.jobs, context);
    return await runSingle({ url: url ?? "", matchId: flags.matchId }, context);
  } finally {
    // A run that stored nothing leaves no directory it created behind.
    await dataDir.removeCreated();
  }
}

/** What every job of one `download` run shares. */
interface RunContext {
  settings: Required<DownloadSettings>;
  flags: DownloadCommandFlags;
  io: CommandIo;
  log: Logger;
  /** Aborted by SIGINT/SIGTERM: every download stops and cleans up. */
  interrupt: Interrupt;
}

/** One job to download: from the command line, or a line of a jobs file. */
interface JobInput {
  url: string;
  matchId?: string | undefined;
  /** The line of the jobs file. */
  line?: number;
}

/** How one job ended: stored, failed (and reported), or cut short by a signal (not reported). */
type JobOutcome = { result: DownloadResult } | { error: unknown } | { interrupted: true };

/** The usage error of a single download's URL or match id, found before any work. */
function usageProblem(
  url: string,
  matchId: string | undefined,
  settings: Required<DownloadSettings>,
): unknown {
  try {
    if (matchId !== undefined) parseMatchId(matchId);
    checkUrl(url, settings.policy);
    return undefined;
  } catch (err) {
    return err;
  }
}

async function runSingle(job: JobInput, context: RunContext): Promise<ExitCodeValue> {
  const { flags, io } = context;
  const bar = io.isTty && flags.json !== true ? new ProgressBar({ label: "download" }) : undefined;
  const outcome = await downloadJob(job, {
    ...context,
    bar,
    onProgress: (p) => bar?.update(p.bytes, p.total),
  });
  if ("interrupted" in outcome) {
    bar?.end();
    return reportInterrupt(context.interrupt.received ?? "SIGINT", context);
  }
  return "error" in outcome ? exitCodeFor(outcome.error) : ExitCode.Ok;
}

/**
 * Downloads one job and reports it: retries as `warn` log lines, the result
 * on stdout, a failure once (see `reportFailure`). A job stopped by a
 * signal is not reported: the caller says `interrupted`.
 */
async function downloadJob(
  job: JobInput,
  context: RunContext & {
    bar?: ProgressBar | undefined;
    onProgress?: (progress: DownloadProgress) => void;
  },
): Promise<JobOutcome> {
  const { settings, flags, io, log, bar, onProgress, interrupt } = context;
  const json = flags.json === true;
  try {
    // Loaded on first use: `--help` and usage errors need none of the HTTP and gzip code.
    const { downloadTelemetry } = await import("../core/download.ts");
    const result = await downloadTelemetry(job.url, {
      ...settings,
      ...(job.matchId === undefined ? {} : { matchId: job.matchId }),
      force: flags.force === true,
      signal: interrupt.signal,
      ...(onProgress === undefined ? {} : { onProgress }),
      onRetry: (e) => {
        bar?.finish();
        log.warn("retry", {
          ...(job.line === undefined ? {} : { line: job.line }),
          url: redactUrl(job.url),
          match_id: job.matchId,
          attempt: e.attempt,
          delay_s: e.delayMs / 1000,
          error: errorLine(e.error),
        });
      },
    });
    bar?.finish();
    io.print(json ? JSON.stringify(resultJson(result, job.line)) : resultText(result, job.line));
    return { result };
  } catch (err) {
    if (interrupt.signal.aborted) return { interrupted: true };
    bar?.finish();
    reportFailure(err, { ...job, json, io, log });
    return { error: err };
  }
}

async function runBatch(source: string, context: RunContext): Promise<ExitCodeValue> {
  const { flags, io, log, interrupt } = context;
  let failed = 0;
  let done = 0;
  let aborted = 0;
  let bytes = 0;
  const bar = io.isTty ? new ProgressBar({ label: "jobs", unit: "items" }) : undefined;
  // A full, read-only or failing store fails every job after it: the batch stops at the first.
  const storeFault = new AbortController();
  try {
    await runPool(readJobs(source), {
      concurrency: flags.concurrency,
      // A signal starts no new job; the running ones are aborted through their downloads.
      signal: AbortSignal.any([interrupt.signal, storeFault.signal]),
      worker: async (job) => {
        if (job.error !== undefined) {
          failed++;
          bar?.finish();
          reportFailure(job.error, { ...job, json: flags.json === true, io, log });
        } else {
          const outcome = await downloadJob(job, { ...context, bar });
          if ("interrupted" in outcome) {
            aborted++;
            return;
          }
          if ("error" in outcome) {
            failed++;
            if (isKind(outcome.error, "store")) storeFault.abort();
          } else bytes += outcome.result.bytes;
        }
        done++;
        bar?.update(done, undefined, `${(bytes / 1e6).toFixed(1)} MB  ${failed} failed`);
      },
    });
  } catch (err) {
    // `cannot read --jobs FILE: …` (a usage error), or a read error midway.
    bar?.finish();
    io.error(`error: ${errorLine(err)}`);
    return exitCodeFor(err);
  }
  if (interrupt.received !== undefined) {
    bar?.end();
    return reportInterrupt(interrupt.received, context, { jobs: done, failed, aborted });
  }
  bar?.finish();
  if (storeFault.signal.aborted) {
    log.error("batch_stopped", {
      jobs: done,
      failed,
      reason: "a store fault (full, read-only or failing data dir): the jobs after it not started",
    });
    return ExitCode.Failed;
  }
  log.info("batch_done", { jobs: done, failed });
  return failed > 0 ? ExitCode.Failed : ExitCode.Ok;
}

/**
 * Says `interrupted` in one line (with the batch's counts of what finished)
 * and gives the signal's exit code.
 */
function reportInterrupt(
  signal: StopSignal,
  context: RunContext,
  counts: { jobs: number; failed: number; aborted: number } | undefined = undefined,
): ExitCodeValue {
  context.log.warn("interrupted", { signal, ...counts });
  return exitCodeForSignal(signal);
}

function resultJson(result: DownloadResult, line: number | undefined) {
  return {
    outcome: result.outcome,
    ...(line === undefined ? {} : { line }),
    match_id: result.matchId,
    path: result.path,
    bytes: result.bytes,
    seconds: result.seconds,
    attempts: result.attempts,
    ...(result.events === undefined ? {} : { events: result.events }),
  };
}

/** `<outcome> <match id>  [line N  ]<path>  <bytes> bytes  <seconds> s`. */
function resultText(result: DownloadResult, line: number | undefined): string {
  return `${result.outcome.padEnd(14)} ${result.matchId}  ${
    lineText(line)
  }${result.path}  ${result.bytes} bytes  ${result.seconds.toFixed(2)} s`;
}

/** `line N  ` for a job of a jobs file, "" for the URL of the command line. */
function lineText(line: number | undefined): string {
  return line === undefined ? "" : `line ${line}  `;
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
  if (line === undefined) {
    // A single download's one line is the log line (and, with --json, the result object).
    log.error("download_failed", {
      match_id: matchId,
      url: url === "" ? undefined : redactUrl(url),
      kind,
      code,
      error: errorLine(err),
    });
  } else if (!json) {
    // A job of a batch fails in one line on stderr, worded like `enqueue`'s `refused  line N: …`.
    const match = matchId === undefined ? "" : ` (match ${matchId})`;
    io.error(`failed  line ${line}${match}: ${errorLine(err)}`);
  }
  if (json) {
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
