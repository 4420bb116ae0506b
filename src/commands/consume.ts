/**
 * `telemetry consume`: the RabbitMQ worker. This file only turns flags into
 * a configuration, loads the worker lazily and maps the end to an exit code.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "commander";
import { hostname } from "node:os";
import { addBrokerOptions, BROKER_ENV_HELP, confirmTimeoutOption } from "../cli/broker_options.ts";
import { addDownloadOptions, toDownloadSettings } from "../cli/download_options.ts";
import { ExitCode, exitCodeFor, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { createLogger } from "../cli/logger.ts";
import { parsePort, parsePositiveInt, parseSeconds } from "../cli/parse.ts";
import { DEFAULT_DOWNLOAD_CONCURRENCY } from "../core/defaults.ts";
import { errorLine } from "../core/errors.ts";
import { type ConsumeFlags, resolveConsumeConfig } from "../queue/config.ts";
import { QUEUE_TYPES, QUORUM_DELIVERY_LIMIT } from "../queue/topology.ts";

/**
 * The `consume` command's flags, without its action.
 *
 * @returns The typed command.
 */
function defineConsumeCommand() {
  return addDownloadOptions(
    addBrokerOptions(
      new Command("consume")
        .description("consume download jobs from RabbitMQ and announce each stored file"),
    )
      .addOption(
        new Option(
          "--publish-queue <name>",
          "queue announcing stored files (default: match.processing.telemetry.{env})",
        ),
      )
      .addOption(
        new Option("--concurrency <n>", "prefetch and downloads at once")
          .argParser(parsePositiveInt).default(DEFAULT_DOWNLOAD_CONCURRENCY),
      )
      .addOption(
        new Option("--retry-delay <seconds>", "wait in the retry queue after a transient failure")
          .argParser(parseSeconds).default(60),
      )
      .addOption(
        new Option("--max-deliveries <n>", "deliveries before a transient failure is dead-lettered")
          .argParser(parsePositiveInt).default(5),
      )
      .addOption(
        new Option(
          "--shutdown-timeout <seconds>",
          "after SIGTERM, time in-flight jobs get; the process exits within this + 5 s",
        )
          .argParser(parseSeconds).default(30),
      )
      .addOption(
        confirmTimeoutOption(),
      )
      .addOption(
        new Option("--worker-id <id>", "worker_id of outbound messages (default: hostname-pid)"),
      )
      .addOption(
        new Option("--queue-type <type>", "type of every queue declared (must match existing ones)")
          .choices(QUEUE_TYPES).default("classic"),
      )
      .addOption(
        new Option(
          "--metrics-port <port>",
          "serve /metrics and /healthz on this port (off by default)",
        )
          .argParser(parsePort),
      ),
  );
}

/** Flags of `telemetry consume`, as commander infers them. */
export type ConsumeCommandFlags = ReturnType<ReturnType<typeof defineConsumeCommand>["opts"]>;

/**
 * Every field `resolveConsumeConfig` reads is a flag defined above: renaming
 * a flag without renaming the field makes this fail to compile (instead of
 * the value arriving as undefined).
 */
type EveryConsumeFlagDefined = Required<ConsumeCommandFlags> extends Required<ConsumeFlags> ? true
  : never;
const everyConsumeFlagDefined: EveryConsumeFlagDefined = true;

/**
 * Builds the `consume` command.
 *
 * @param onExit Receives the exit code when the action ends.
 * @returns The commander command.
 */
export function consumeCommand(onExit: (code: ExitCodeValue) => void): CommandUnknownOpts {
  const command = defineConsumeCommand();
  void everyConsumeFlagDefined;
  command.addHelpText(
    "after",
    `
Examples:
  telemetry consume --env prod --metrics-port 9092
  telemetry consume --env staging --concurrency 8 --data-dir /srv/telemetry
  RABBITMQ_URL=amqps://worker:secret@mq.example.com/prod telemetry consume --env prod
  telemetry consume --env prod --amqp-url amqp://w:pw@mq-1/ --amqp-url amqp://w:pw@mq-2/

Environment:
${BROKER_ENV_HELP}
  TELEMETRY_DATA_DIR           default for --data-dir
  TELEMETRY_ALLOWED_HOSTS      default for --allow-host (comma-separated)

Queues (env prod): consumes match.telemetry.prod (bound to match.exchange.prod),
retries through match.telemetry.retry.prod, dead-letters to dlq.telemetry.prod,
announces to match.processing.telemetry.prod. With --queue-type quorum each is a
quorum queue (x-delivery-limit ${QUORUM_DELIVERY_LIMIT} on the job queue and the DLQ, the retry
queue dead-lettering at-least-once); a queue that exists with another type stops
the worker with one line naming the --queue-type to pass.

Exit codes: 0 stopped by SIGTERM/SIGINT, 1 data dir not writable, broker refused
the login/vhost/topology, or a fatal error (a missing permission, an untrusted TLS
certificate: the job stays queued), 2 usage error. An unreachable broker is retried
forever. A private CA: NODE_EXTRA_CA_CERTS or DENO_CERT (a PEM file).`,
  );
  command.action(async (flags) => {
    onExit(await runConsumeCommand(flags, Deno.env.toObject()));
  });
  return command;
}

/**
 * Runs `consume` with parsed flags.
 *
 * @param flags The parsed flags.
 * @param env The environment variables.
 * @param io Where a usage error goes (injected by tests); the worker's own lines are log lines.
 * @returns The exit code.
 */
export async function runConsumeCommand(
  flags: ConsumeCommandFlags,
  env: Record<string, string | undefined>,
  io: CommandIo = processIo,
): Promise<ExitCodeValue> {
  const log = createLogger(flags.logFormat === undefined ? {} : { format: flags.logFormat });
  let config;
  try {
    config = resolveConsumeConfig(flags, {
      env,
      download: toDownloadSettings(flags),
      defaultWorkerId: `${hostname()}-${Deno.pid}`,
    });
  } catch (err) {
    // A usage error is one `error: …` line, as for every command, not a log line.
    io.error(`error: ${errorLine(err)}`);
    return exitCodeFor(err);
  }
  const { runConsume } = await import("../queue/run.ts");
  try {
    return await runConsume(config, { log }) === "stopped" ? ExitCode.Ok : ExitCode.Failed;
  } catch (err) {
    log.error("consume_failed", { error: errorLine(err) });
    return ExitCode.Failed;
  }
}
