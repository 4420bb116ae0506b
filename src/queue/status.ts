/**
 * The broker half of `telemetry status`: the messages and consumers of the
 * environment's four queues, read with passive declares (which never create
 * a queue: a missing one is reported missing), and the dead letters counted
 * by `x-error-kind` without taking any out of the queue (`scanDeadLetters`
 * of `dlq.ts`, which leaves the queue exactly as it was).
 *
 * @module
 */

import { errorLine } from "../core/errors.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { DEFAULT_MAX_DLQ_SCAN } from "../core/defaults.ts";
import { Broker, BrokerError } from "./broker.ts";

/** Default of {@linkcode BrokerStatusOptions.maxDlqScan}. */
export { DEFAULT_MAX_DLQ_SCAN };

/** The part each queue plays. */
export type QueueRole = "input" | "retry" | "dead_letter" | "processing";

/** The roles in display order. */
export const QUEUE_ROLES: readonly QueueRole[] = ["input", "retry", "dead_letter", "processing"];

/** One queue, as a passive declare sees it. */
export interface QueueState {
  /** The queue name. */
  name: string;
  /** Whether the queue exists; null when the broker could not be read. */
  exists: boolean | null;
  /** Ready messages (not counting those delivered and not yet acked); null when missing. */
  messages: number | null;
  /** Consumers attached; null when missing. */
  consumers: number | null;
}

/** The dead letters counted by `x-error-kind`. */
export interface DeadLetterKinds {
  /** Counts by `x-error-kind` (`unknown` when the header is missing). */
  byKind: Record<string, number>;
  /** Dead letters read (at most `maxDlqScan`). */
  scanned: number;
  /** Whether every dead letter in the queue was read. */
  complete: boolean;
  /** Why they could not be counted (another client reading the queue, a lost broker). */
  error?: string;
}

/** Why the broker could not be read. */
export interface BrokerFailure {
  /** `unreachable` (refused, timed out, DNS), `refused` (login, vhost) or `lost` (during the reads). */
  kind: "unreachable" | "refused" | "lost";
  /** One line, with the redacted URL. */
  message: string;
}

/** What {@linkcode readBrokerStatus} found. */
export interface BrokerStatus {
  /** The broker URL, password redacted. */
  url: string;
  /** The queues by role; every field null when the broker could not be read. */
  queues: Record<QueueRole, QueueState>;
  /** The dead letters by kind; null when not counted (empty or missing DLQ, scan off, no broker). */
  deadLetters: DeadLetterKinds | null;
  /** Set when the broker could not be read. */
  failure?: BrokerFailure;
}

/** Options of {@linkcode readBrokerStatus}. */
export interface BrokerStatusOptions {
  /** How long the connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /** Dead letters read at most for the counts by kind; 0 reads none. @default {DEFAULT_MAX_DLQ_SCAN} */
  maxDlqScan?: number;
  /** Stops connecting and reading. */
  signal?: AbortSignal | undefined;
}

/**
 * Reads the queues of one environment and counts its dead letters by kind.
 * Never throws: a broker that cannot be reached is a `failure`.
 *
 * @param broker The broker URL and the queue names.
 * @param options Connect deadline, how many dead letters to read, abort signal.
 * @returns The queues and dead letters.
 *
 * @example
 * ```ts ignore
 * import { readBrokerStatus } from "./status.ts";
 * const status = await readBrokerStatus(broker, { connectTimeoutMs: 10_000 });
 * console.log(status.failure?.message ?? status.queues.input.consumers);
 * ```
 */
export async function readBrokerStatus(
  broker: BrokerSettings,
  options: BrokerStatusOptions = {},
): Promise<BrokerStatus> {
  const { connectTimeoutMs, maxDlqScan = DEFAULT_MAX_DLQ_SCAN, signal } = options;
  const { redactedUrl, names } = broker;
  const queueNames: Record<QueueRole, string> = {
    input: names.queue,
    retry: names.retryQueue,
    dead_letter: names.deadLetterQueue,
    processing: names.publishQueue,
  };
  const status: BrokerStatus = {
    url: redactedUrl,
    queues: mapRoles((role) => unknownQueue(queueNames[role])),
    deadLetters: null,
  };
  let connection: Broker;
  try {
    connection = await Broker.connect(broker, { timeoutMs: connectTimeoutMs, signal });
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err;
    status.failure = { kind: err.kind, message: err.message };
    return status;
  }
  try {
    try {
      for (const role of QUEUE_ROLES) {
        status.queues[role] = await queueState(connection, queueNames[role]);
      }
    } catch (err) {
      status.failure = {
        kind: "lost",
        message: `lost the broker at ${redactedUrl}: ${connection.lostReason ?? errorLine(err)}`,
      };
      return status;
    }
    const dlq = status.queues.dead_letter;
    if (maxDlqScan > 0 && (dlq.messages ?? 0) > 0) {
      // On the same connection: status connects once.
      status.deadLetters = await countDeadLetterKinds(broker, {
        connection,
        limit: maxDlqScan,
        signal,
      });
    }
    return status;
  } finally {
    await connection.close();
  }
}

/**
 * Counts dead letters by kind, leaving the queue as it was (the `dlq list` reader).
 */
async function countDeadLetterKinds(
  broker: BrokerSettings,
  options: { connection: Broker; limit: number; signal: AbortSignal | undefined },
): Promise<DeadLetterKinds> {
  const { connection, limit, signal } = options;
  const { scanDeadLetters } = await import("./dlq.ts");
  const summary = await scanDeadLetters({ broker, connection, limit, signal });
  const kinds: DeadLetterKinds = {
    byKind: summary.byKind,
    scanned: summary.scanned,
    complete: summary.failure === undefined && summary.scanned >= summary.total,
  };
  if (summary.failure !== undefined) kinds.error = summary.failure.message;
  return kinds;
}

/** A queue as a passive declare sees it: a missing queue is reported missing rather than thrown. */
async function queueState(connection: Broker, name: string): Promise<QueueState> {
  const counts = await connection.queueCounts(name);
  return counts === undefined
    ? { name, exists: false, messages: null, consumers: null }
    : { name, exists: true, ...counts };
}

function unknownQueue(name: string): QueueState {
  return { name, exists: null, messages: null, consumers: null };
}

function mapRoles<T>(fn: (role: QueueRole) => T): Record<QueueRole, T> {
  return {
    input: fn("input"),
    retry: fn("retry"),
    dead_letter: fn("dead_letter"),
    processing: fn("processing"),
  };
}
