/**
 * Which broker and which queues: resolved once from the flags (`--env`,
 * `--amqp-url`, `--publish-queue`) and the environment (`TELEMETRY_ENV`,
 * `ENVIRONMENT`, `RABBITMQ_URL`, `RABBITMQ_*`), for `consume` and every
 * other command that talks to the broker. Resolved before anything
 * connects, so a bad value is a usage error and logs only ever see the
 * redacted URL.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";
import { type TopologyNames, topologyNames } from "./topology.ts";

/** Heartbeat asked for when the URL sets none, in seconds. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/**
 * Frame size asked for when the URL sets none: RabbitMQ's own default. The
 * AMQP client would otherwise settle on 8 KiB, which the headers of a dead
 * letter can outgrow.
 */
export const DEFAULT_FRAME_MAX = 131_072;

/** The broker flags, as given. */
export interface BrokerInput {
  /** `--env`; falls back to `TELEMETRY_ENV`, then `ENVIRONMENT`. */
  env?: string | undefined;
  /** `--amqp-url`; falls back to `RABBITMQ_URL`, then the `RABBITMQ_*` parts. */
  amqpUrl?: string | undefined;
  /** `--publish-queue`. @default {"match.processing.telemetry.{env}"} */
  publishQueue?: string | undefined;
}

/** The broker and queue names, validated. */
export interface BrokerSettings {
  /** The environment suffix of every name. */
  env: string;
  /** The broker URL, with credentials and heartbeat: never log it. */
  amqpUrl: string;
  /** The broker URL with the password replaced by `***`, for logs. */
  redactedUrl: string;
  /** Queue and exchange names. */
  names: TopologyNames;
}

const ENV_PATTERN = /^[a-z0-9-]+$/;
const QUEUE_PATTERN = /^[A-Za-z0-9._:-]{1,255}$/;

/**
 * Resolves the broker URL and the queue names.
 *
 * @param input The broker flags.
 * @param vars The environment variables.
 * @returns The settings.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, naming the bad value.
 *
 * @example
 * ```ts
 * import { resolveBrokerSettings } from "./broker_settings.ts";
 * const broker = resolveBrokerSettings(
 *   {},
 *   { TELEMETRY_ENV: "prod", RABBITMQ_PASSWORD: "s3cret" },
 * );
 * if (broker.names.queue !== "match.telemetry.prod") throw new Error("unexpected");
 * if (broker.redactedUrl.includes("s3cret")) throw new Error("leaked");
 * ```
 */
export function resolveBrokerSettings(
  input: BrokerInput,
  vars: Record<string, string | undefined>,
): BrokerSettings {
  const env = input.env ?? vars.TELEMETRY_ENV ?? vars.ENVIRONMENT;
  if (env === undefined || env === "") {
    throw usage("missing environment: pass --env NAME or set TELEMETRY_ENV (e.g. --env prod)");
  }
  if (!ENV_PATTERN.test(env)) {
    throw usage(`invalid --env ${JSON.stringify(env)}: expected [a-z0-9-]+ (e.g. prod, staging)`);
  }
  if (input.publishQueue !== undefined && !QUEUE_PATTERN.test(input.publishQueue)) {
    throw usage(`invalid --publish-queue ${JSON.stringify(input.publishQueue)}`);
  }
  const amqpUrl = amqpUrlFrom(input.amqpUrl ?? vars.RABBITMQ_URL, vars);
  return {
    env,
    amqpUrl,
    redactedUrl: redactAmqpUrl(amqpUrl),
    names: topologyNames(env, input.publishQueue),
  };
}

/**
 * Renders a broker URL for logs: the password becomes `***`.
 *
 * @param url An amqp:// or amqps:// URL.
 * @returns The URL without its password (or `<invalid URL>`).
 */
export function redactAmqpUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.href;
  } catch {
    return "<invalid URL>";
  }
}

function amqpUrlFrom(given: string | undefined, vars: Record<string, string | undefined>): string {
  let url: URL;
  if (given !== undefined && given !== "") {
    try {
      url = new URL(given);
    } catch {
      throw usage(
        "invalid --amqp-url / RABBITMQ_URL: not a URL (expected amqp://user:pass@host/vhost)",
      );
    }
    if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
      throw usage(
        `invalid --amqp-url / RABBITMQ_URL: scheme ${url.protocol} is not amqp: or amqps:`,
      );
    }
  } else {
    const host = vars.RABBITMQ_HOST || "127.0.0.1";
    const port = vars.RABBITMQ_PORT || "5672";
    if (!/^\d{1,5}$/.test(port)) throw usage(`invalid RABBITMQ_PORT ${JSON.stringify(port)}`);
    const user = encodeURIComponent(vars.RABBITMQ_USER || "guest");
    const password = encodeURIComponent(vars.RABBITMQ_PASSWORD || "guest");
    const vhost = encodeURIComponent(vars.RABBITMQ_VHOST || "/");
    try {
      url = new URL(`amqp://${user}:${password}@${host}:${port}/${vhost}`);
    } catch {
      throw usage(`invalid RABBITMQ_HOST ${JSON.stringify(host)}`);
    }
  }
  if (!url.searchParams.has("heartbeat")) {
    url.searchParams.set("heartbeat", String(DEFAULT_HEARTBEAT_SECONDS));
  }
  if (!url.searchParams.has("frameMax")) {
    url.searchParams.set("frameMax", String(DEFAULT_FRAME_MAX));
  }
  checkUrlOptions(url.searchParams);
  return url.href;
}

/**
 * The numeric query options the AMQP client reads from the URL, and the
 * values it can use: it parses them with `parseInt` and fails late (a `NaN`
 * heartbeat crashes the process; a `frameMax` below 8192 fails every
 * connect) or sends them in 16- and 32-bit fields of `connection.tune-ok`.
 */
const URL_OPTIONS = [
  { name: "heartbeat", min: 0, max: 0xffff, note: "seconds; 0 turns heartbeats off" },
  {
    name: "frameMax",
    min: 8192,
    max: 0xffff_ffff,
    note: "bytes; 8192 is the AMQP client's minimum",
  },
  { name: "channelMax", min: 0, max: 0xffff, note: "0 leaves the limit to the broker" },
] as const;

function checkUrlOptions(params: URLSearchParams): void {
  for (const { name, min, max, note } of URL_OPTIONS) {
    for (const value of params.getAll(name)) {
      const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
      if (!(n >= min && n <= max)) {
        throw usage(
          `invalid --amqp-url / RABBITMQ_URL: ${name} ${JSON.stringify(value)} is not allowed: ` +
            `expected an integer from ${min} to ${max} (${note})`,
        );
      }
    }
  }
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
