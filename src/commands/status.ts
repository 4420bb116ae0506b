/**
 * `telemetry status`: the one screen an operator reads when paged. This
 * file turns flags into settings, runs the three reads at once (broker,
 * store, worker) and maps the verdict to an exit code; the reads are
 * `src/queue/status.ts`, `src/core/store/store_stats.ts` and
 * `src/core/http/health_probe.ts`, the verdict `src/commands/status_report.ts`.
 *
 * @module
 */

import { Command, Option } from "commander";
import { addBrokerOptions, BROKER_ENV_HELP } from "../cli/broker_options.ts";
import { addSomeDownloadOptions } from "../cli/download_options.ts";
import { ExitCode, exitCodeFor, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandFactory, commandFactory, type FlagsOf } from "../cli/command_factory.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { parseNonNegativeInt, parseSeconds } from "../cli/parse.ts";
import { DEFAULT_MAX_DLQ_SCAN } from "../core/defaults.ts";
import { errorLine } from "../core/errors.ts";
import { healthzUrl } from "../core/http/health_probe.ts";
import { type BrokerSettings, resolveBrokerSettings } from "../queue/broker_settings.ts";
import type { StoreReport } from "./status_report.ts";

/** Default of `--timeout`, in seconds. */
export const STATUS_TIMEOUT_DEFAULT_S = 10;

/**
 * The `status` command's flags, without its action.
 *
 * @returns The typed command.
 */
function defineStatusCommand() {
  return addSomeDownloadOptions(
    addBrokerOptions(
      new Command("status")
        .description(
          "one screen for when you are paged: queues, dead letters, store, worker health",
        )
        .addOption(
          new Option(
            "--publish-queue <name>",
            "the processing queue (default: match.processing.telemetry.{env})",
          ),
        )
        .addOption(
          new Option(
            "--metrics-url <url>",
            "also ask the worker's /healthz (its --metrics-port), e.g. http://localhost:9092",
          ),
        )
        .addOption(
          new Option("--max-dlq <n>", "unhealthy (exit 1) when more dead letters than this")
            .argParser(parseNonNegativeInt),
        )
        .addOption(
          new Option(
            "--max-dlq-scan <n>",
            "dead letters read at most to count them by x-error-kind (0: none)",
          ).argParser(parseNonNegativeInt).default(DEFAULT_MAX_DLQ_SCAN),
        )
        .addOption(new Option("--no-store", "skip the scan and free space of --data-dir"))
        .addOption(
          new Option(
            "--timeout <seconds>",
            "time the broker connect, the queue reads through a node and /healthz may each take",
          ).argParser(parseSeconds).default(STATUS_TIMEOUT_DEFAULT_S),
        )
        .addOption(new Option("--json", "print one JSON object with the same data")),
    ),
    ["dataDir"] as const,
  );
}

/** Flags of `telemetry status`, as commander infers them. */
export type StatusFlags = FlagsOf<typeof defineStatusCommand>;

/** Builds the `status` command; its action's exit code goes to `onExit`. */
export const statusCommand: CommandFactory = commandFactory(defineStatusCommand, {
  help: `
Reads, at once: the messages, consumers and type (classic or quorum) of
match.telemetry.{env} (input), match.telemetry.retry.{env}, dlq.telemetry.{env} and
the processing queue (passive declares: a missing queue is reported, never
created); the dead letters counted by x-error-kind (read in place, as 'dlq list'
does: the queue is left as it was); the matches, bytes and temp files under
--data-dir (names and sizes only, nothing is decompressed) and the free space of
its file system; with --metrics-url, the worker's /healthz, which says whether it
is paused on the store. Given several broker nodes (--amqp-url repeated, or a,b),
the queues are read through the first node that answers (a node lost during the
reads is left for the next), and the screen names it.

Examples:
  telemetry status --env prod
  telemetry status --env prod --metrics-url http://localhost:9092 --max-dlq 100
  telemetry status --env prod --json | jq '.queues.input'
  telemetry status --env prod --no-store --max-dlq 0 || page-me   # cron / monitoring check

Environment:
${BROKER_ENV_HELP}
  TELEMETRY_DATA_DIR           default for --data-dir

Exit codes: 0 healthy; 1 no listed broker node could be read (unreachable,
refused the login), nothing consumes match.telemetry.{env} (or it does not exist),
more dead letters than --max-dlq, or the worker's /healthz did not answer 200
(with --metrics-url; a worker paused on the store answers 503); 2 usage error.
Each problem is one line on stderr.`,
  run: (flags) => runStatusCommand(flags, { io: processIo, env: Deno.env.toObject() }),
});

/** What a run of the command works with. */
export interface StatusContext {
  /** Where the report and the problems go. */
  io: CommandIo;
  /** The environment variables. */
  env: Record<string, string | undefined>;
}

/**
 * Runs `status` with parsed flags.
 *
 * @param flags The parsed flags.
 * @param context Output and environment variables.
 * @returns 0 healthy, 1 a problem, 2 a usage error.
 */
export async function runStatusCommand(
  flags: StatusFlags,
  context: StatusContext,
): Promise<ExitCodeValue> {
  const { io, env } = context;
  let broker: BrokerSettings;
  let healthUrl: string | undefined;
  try {
    broker = resolveBrokerSettings(flags, env);
    healthUrl = flags.metricsUrl === undefined ? undefined : healthzUrl(flags.metricsUrl);
  } catch (err) {
    io.error(`error: ${errorLine(err)}`);
    return exitCodeFor(err);
  }
  const timeoutMs = Math.max(1, Math.round(flags.timeout * 1000));
  const [{ readBrokerStatus }, { storeStats }, { freeSpace }, { probeHealth }, report] =
    await Promise.all([
      import("../queue/status.ts"),
      import("../core/store/store_stats.ts"),
      import("../core/store/free_space.ts"),
      import("../core/http/health_probe.ts"),
      import("./status_report.ts"),
    ]);
  const { dataDir } = flags;
  const readStore = async (): Promise<StoreReport> => {
    const [stats, space] = await Promise.allSettled([storeStats(dataDir), freeSpace(dataDir)]);
    return {
      dataDir,
      ...(stats.status === "fulfilled"
        ? { stats: stats.value }
        : { error: errorLine(stats.reason) }),
      ...(space.status === "fulfilled" ? { space: space.value } : {
        spaceError: `cannot read the free space of ${dataDir}: ${errorLine(space.reason)}`,
      }),
    };
  };
  const [brokerStatus, store, worker] = await Promise.all([
    readBrokerStatus(broker, { connectTimeoutMs: timeoutMs, maxDlqScan: flags.maxDlqScan }),
    flags.store ? readStore() : null,
    healthUrl === undefined ? null : probeHealth(healthUrl, { timeoutMs }),
  ]);
  const found = {
    env: broker.env,
    at: new Date(),
    broker: brokerStatus,
    store,
    worker,
    maxDlq: flags.maxDlq ?? null,
  };
  const verdict = report.assessStatus(found);
  if (flags.json === true) io.print(JSON.stringify(report.statusJson(found, verdict)));
  else for (const line of report.statusText(found, verdict)) io.print(line);
  for (const problem of verdict.problems) io.error(`unhealthy: ${problem}`);
  return verdict.healthy ? ExitCode.Ok : ExitCode.Failed;
}
