/**
 * The broker flags of every command that talks to RabbitMQ (`--env`,
 * `--amqp-url`), defined once, with the environment variables that fill
 * them. `src/queue/broker_settings.ts` resolves them.
 *
 * @module
 */

import { type Command, Option, type OptionValues } from "commander";
import { DEFAULT_CONFIRM_TIMEOUT_MS } from "../core/defaults.ts";
import { parseSeconds } from "./parse.ts";

/**
 * The `Environment:` lines of the broker flags, for a command's help text.
 */
export const BROKER_ENV_HELP = `  TELEMETRY_ENV, ENVIRONMENT   default for --env (in that order)
  RABBITMQ_URL                 default for --amqp-url (comma-separated for several nodes)
  RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_USER, RABBITMQ_PASSWORD, RABBITMQ_VHOST
                               build the URL when neither is set
                               (defaults 127.0.0.1, 5672, guest, guest, /)`;

/**
 * Adds `--env` and `--amqp-url` to a command, keeping commander's inferred
 * option types. Their environment fallbacks are applied by
 * `resolveBrokerSettings`, which also validates them.
 *
 * @param command The command.
 * @returns The same command, typed with the added flags.
 */
export function addBrokerOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>) {
  return command
    .addOption(new Option("--env <name>", "environment suffix of every queue name ([a-z0-9-]+)"))
    .addOption(
      new Option(
        "--amqp-url <url>",
        "broker URL, amqp:// or amqps:// (query: heartbeat=0-65535 s, frameMax>=8192, " +
          "channelMax); repeatable, a,b: the first node that answers is used",
      ).argParser(collectUrls),
    );
}

/**
 * Keeps every `--amqp-url` given, in order (commander would keep the last);
 * `resolveBrokerSettings` splits each at commas.
 *
 * @param value This occurrence's value.
 * @param previous The values of the earlier occurrences.
 * @returns All values so far.
 */
function collectUrls(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `--confirm-timeout <seconds>`: the time the broker gets to confirm a
 * publish, the same flag for every command that publishes; its default is
 * {@linkcode DEFAULT_CONFIRM_TIMEOUT_MS}, in seconds.
 *
 * @returns The option, to pass to `addOption`.
 */
export function confirmTimeoutOption() {
  return new Option("--confirm-timeout <seconds>", "time the broker gets to confirm a publish")
    .argParser(parseSeconds).default(DEFAULT_CONFIRM_TIMEOUT_MS / 1000);
}
