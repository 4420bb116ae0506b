/**
 * The configuration of `telemetry consume`, resolved from flags and the
 * environment before anything connects, so a bad value is a usage error
 * (exit 2) and logs only ever see the redacted broker URL.
 *
 * @module
 */

import type { DownloadSettings } from "../core/download.ts";
import { TelemetryError } from "../core/errors.ts";
import { type BrokerInput, type BrokerSettings, resolveBrokerSettings } from "./broker_settings.ts";
import { QUEUE_TYPES, type QueueType, QUORUM_DELIVERY_LIMIT } from "./topology.ts";

/** The consume flags (the shared download flags come as settings). */
export interface ConsumeFlags extends BrokerInput {
  /** `--concurrency`: prefetch and downloads at once. */
  concurrency: number;
  /** `--retry-delay` in seconds (the wait in the retry queue). */
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
  /** `--queue-type`. @default {"classic"} */
  queueType?: string | undefined;
}

/** Everything the worker needs, validated. */
export interface ConsumeConfig extends BrokerSettings {
  /** Prefetch and downloads at once. */
  concurrency: number;
  /** The wait in the retry queue (each retried message's `expiration`), in milliseconds. */
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
  /** The type of every queue declared (also in `names.queueType`). */
  queueType: QueueType;
  /** Settings of every download. */
  download: DownloadSettings;
}

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
 * const config = resolveConsumeConfig(
 *   {
 *     env: "prod", amqpUrl: undefined, concurrency: 4, retryDelay: 60, maxDeliveries: 5,
 *     shutdownTimeout: 30, confirmTimeout: 30,
 *   },
 *   { env: { RABBITMQ_PASSWORD: "s3cret" }, download: { dataDir: "/tmp/t" }, defaultWorkerId: "h-1" },
 * );
 * if (config.redactedUrl.includes("s3cret")) throw new Error("leaked");
 * ```
 */
export function resolveConsumeConfig(
  flags: ConsumeFlags,
  context: {
    env: Record<string, string | undefined>;
    download: DownloadSettings;
    defaultWorkerId: string;
  },
): ConsumeConfig {
  const { env: vars, download, defaultWorkerId } = context;
  const broker = resolveBrokerSettings(flags, vars);
  positive("concurrency", flags.concurrency);
  positive("max-deliveries", flags.maxDeliveries);
  positive("confirm-timeout", flags.confirmTimeout);
  if (!(flags.retryDelay >= 0 && flags.retryDelay * 1000 <= 2 ** 32 - 1)) {
    throw usage(`invalid --retry-delay ${flags.retryDelay}: expected 0 to 4294967 seconds`);
  }
  const queueType = flags.queueType ?? "classic";
  if (!isQueueType(queueType)) {
    throw usage(
      `invalid --queue-type ${JSON.stringify(queueType)}: expected ${QUEUE_TYPES.join(" or ")}`,
    );
  }
  if (queueType === "quorum" && flags.maxDeliveries >= QUORUM_DELIVERY_LIMIT) {
    throw usage(
      `invalid --max-deliveries ${flags.maxDeliveries}: with --queue-type quorum, expected ` +
        `less than the queues' x-delivery-limit ${QUORUM_DELIVERY_LIMIT}`,
    );
  }
  return {
    ...broker,
    // The classic names stay as they are: the topology of today, byte for byte.
    names: queueType === "classic" ? broker.names : { ...broker.names, queueType },
    queueType,
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

function isQueueType(value: string): value is QueueType {
  return (QUEUE_TYPES as readonly string[]).includes(value);
}

function positive(flag: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw usage(`invalid --${flag} ${value}: expected a positive number`);
  }
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
