/**
 * The configuration of `telemetry consume`, resolved from flags and the
 * environment before anything connects, so a bad value is a usage error
 * (exit 2) and logs only ever see the redacted broker URL.
 *
 * @module
 */

import type { DownloadSettings } from "../core/download.ts";
import { TelemetryError } from "../core/errors.ts";
import { type TopologyNames, topologyNames } from "./topology.ts";

/** Heartbeat the worker asks for when the URL sets none, in seconds. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/** The consume-specific flags (the shared download flags come as settings). */
export interface ConsumeFlags {
  /** `--env`; falls back to `TELEMETRY_ENV`, then `ENVIRONMENT`. */
  env?: string | undefined;
  /** `--amqp-url`; falls back to `RABBITMQ_URL`, then the `RABBITMQ_*` parts. */
  amqpUrl?: string | undefined;
  /** `--publish-queue`. @default {"match.processing.telemetry.{env}"} */
  publishQueue?: string | undefined;
  /** `--concurrency`: prefetch and downloads at once. */
  concurrency: number;
  /** `--retry-delay` in seconds (retry queue TTL). */
  retryDelay: number;
  /** `--max-deliveries`. */
  maxDeliveries: number;
  /** `--shutdown-timeout` in seconds. */
  shutdownTimeout: number;
  /** `--confirm-timeout` in seconds. */
  confirmTimeout: number;
  /** `--worker-id`. @default {hostname-pid} */
  workerId?: string | undefined;
  /** `--metrics-port`; off when absent. */
  metricsPort?: number | undefined;
}

/** Everything the worker needs, validated. */
export interface ConsumeConfig {
  /** The environment suffix of every name. */
  env: string;
  /** The broker URL, with credentials and heartbeat: never log it. */
  amqpUrl: string;
  /** The broker URL with the password replaced by `***`, for logs. */
  redactedUrl: string;
  /** Queue and exchange names. */
  names: TopologyNames;
  /** Prefetch and downloads at once. */
  concurrency: number;
  /** TTL of the retry queue, in milliseconds. */
  retryDelayMs: number;
  /** Deliveries before a transiently failing job goes to the DLQ. */
  maxDeliveries: number;
  /** How long in-flight jobs may finish after SIGTERM, in milliseconds. */
  shutdownTimeoutMs: number;
  /** How long a publish may wait for the broker's confirm, in milliseconds. */
  confirmTimeoutMs: number;
  /** Written into every outbound message and DLQ header. */
  workerId: string;
  /** Port of `/metrics` and `/healthz`, or undefined when off. */
  metricsPort: number | undefined;
  /** Settings of every download. */
  download: Required<DownloadSettings>;
}

const ENV_PATTERN = /^[a-z0-9-]+$/;
const QUEUE_PATTERN = /^[A-Za-z0-9._:-]{1,255}$/;

/**
 * Validates flags and environment into a {@linkcode ConsumeConfig}.
 *
 * @param flags The parsed consume flags.
 * @param context The environment variables, download settings and default worker id.
 * @returns The configuration.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, naming the bad value.
 *
 * @example
 * ```ts
 * import { resolveConsumeConfig } from "./config.ts";
 * import { toDownloadSettings } from "../cli/download_options.ts";
 * const config = resolveConsumeConfig(
 *   { env: "prod", concurrency: 4, retryDelay: 60, maxDeliveries: 5, shutdownTimeout: 30, confirmTimeout: 30 },
 *   {
 *     env: { RABBITMQ_PASSWORD: "s3cret" },
 *     download: toDownloadSettings({ dataDir: "/tmp/t", maxBytes: 1e9, maxDecompressedBytes: 4e9, headersTimeout: 30, idleTimeout: 30, attemptTimeout: 120, attempts: 3, backoff: 1, maxRetryAfter: 60 }),
 *     defaultWorkerId: "host-1",
 *   },
 * );
 * if (config.redactedUrl.includes("s3cret")) throw new Error("leaked");
 * ```
 */
export function resolveConsumeConfig(
  flags: ConsumeFlags,
  context: {
    env: Record<string, string | undefined>;
    download: Required<DownloadSettings>;
    defaultWorkerId: string;
  },
): ConsumeConfig {
  const { env: vars, download, defaultWorkerId } = context;
  const env = flags.env ?? vars.TELEMETRY_ENV ?? vars.ENVIRONMENT;
  if (env === undefined || env === "") {
    throw usage("missing environment: pass --env NAME or set TELEMETRY_ENV (e.g. --env prod)");
  }
  if (!ENV_PATTERN.test(env)) {
    throw usage(`invalid --env ${JSON.stringify(env)}: expected [a-z0-9-]+ (e.g. prod, staging)`);
  }
  if (flags.publishQueue !== undefined && !QUEUE_PATTERN.test(flags.publishQueue)) {
    throw usage(`invalid --publish-queue ${JSON.stringify(flags.publishQueue)}`);
  }
  positive("concurrency", flags.concurrency);
  positive("max-deliveries", flags.maxDeliveries);
  positive("confirm-timeout", flags.confirmTimeout);
  if (!(flags.retryDelay >= 0 && flags.retryDelay * 1000 <= 2 ** 32 - 1)) {
    throw usage(`invalid --retry-delay ${flags.retryDelay}: expected 0 to 4294967 seconds`);
  }
  const amqpUrl = amqpUrlFrom(flags.amqpUrl ?? vars.RABBITMQ_URL, vars);
  return {
    env,
    amqpUrl,
    redactedUrl: redactAmqpUrl(amqpUrl),
    names: topologyNames(env, flags.publishQueue),
    concurrency: flags.concurrency,
    retryDelayMs: Math.round(flags.retryDelay * 1000),
    maxDeliveries: flags.maxDeliveries,
    shutdownTimeoutMs: Math.round(flags.shutdownTimeout * 1000),
    confirmTimeoutMs: Math.round(flags.confirmTimeout * 1000),
    workerId: flags.workerId ?? defaultWorkerId,
    metricsPort: flags.metricsPort,
    download,
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
  return url.href;
}

function positive(flag: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw usage(`invalid --${flag} ${value}: expected a positive number`);
  }
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
