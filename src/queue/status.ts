/**
 * The broker half of `telemetry status`: the messages and consumers of the
 * environment's four queues, read with passive declares (which never create
 * a queue: a missing one is reported missing), each queue's type, and the
 * dead letters counted by `x-error-kind` without taking any out of the queue
 * (`scanDeadLetters` of `dlq.ts`, which leaves the queue exactly as it was).
 *
 * Given several nodes, the queues are read through the first node that
 * answers; a node that is lost or does not answer during the reads is left
 * for the next one, so the queues are healthy when any listed node serves
 * them.
 *
 * A queue's type is not in the passive declare's answer (only the
 * management plugin lists it). It is read by declaring the queue with an
 * `x-queue-type` no broker has ({@linkcode PROBE_QUEUE_TYPE}) on a channel of
 * its own: the broker refuses (406, which closes that channel only), naming
 * the queue's type (`received 'telemetry-status-probe' but current is
 * 'quorum'`; `current is none` for a classic queue declared without one),
 * read with `inequivalentArg` of `topology.ts`. A queue with arguments of
 * its own (the retry queue's dead-lettering) has them named first, one per
 * refusal: each is taken as the broker gives it and the declare tried
 * again. A type no broker has can never create a queue: a queue deleted
 * meanwhile is refused as `unsupported queue type`.
 *
 * @module
 */

import { errorLine } from "../core/errors.ts";
import { type BrokerSettings, redactSecrets } from "./broker_settings.ts";
import { DEFAULT_MAX_DLQ_SCAN } from "../core/defaults.ts";
import {
  Broker,
  BrokerError,
  DEFAULT_CONNECT_TIMEOUT_MS,
  NodeCursor,
  QueueUnavailableError,
} from "./broker.ts";
import { inequivalentArg } from "./topology.ts";

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
  /** `classic`, `quorum` (or `stream`), as the broker has it; null when missing or not read. */
  type: string | null;
  /**
   * Set when the queue exists but cannot be used now (a classic queue whose
   * home node is down): the broker's reason, in one line. Its counts are null.
   */
  unavailable?: string;
}

/**
 * The `x-queue-type` the type probe declares: no broker has it, so the
 * declare is always refused and never creates a queue.
 */
export const PROBE_QUEUE_TYPE = "telemetry-status-probe";

/** Refusals one type probe follows at most (one per argument of the queue, then its type). */
const MAX_PROBE_STEPS = 12;

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
  /** The broker URL, password redacted: the node read, else the first one listed. */
  url: string;
  /** The node the session used (redacted URL); absent when none could be used. */
  node?: string;
  /** Every node listed, redacted, in order (when more than one). */
  nodes?: string[];
  /** The queues by role; every field null when the broker could not be read. */
  queues: Record<QueueRole, QueueState>;
  /** The dead letters by kind; null when not counted (empty or missing DLQ, scan off, no broker). */
  deadLetters: DeadLetterKinds | null;
  /** Set when the broker could not be read. */
  failure?: BrokerFailure;
  /** Why the queue types could not be read (e.g. no configure permission); absent when read. */
  typeError?: string;
}

/** Options of {@linkcode readBrokerStatus}. */
export interface BrokerStatusOptions {
  /**
   * How long the connect may take, and then the queue reads through the
   * node reached (beyond it, the next node is tried).
   * @default {DEFAULT_CONNECT_TIMEOUT_MS}
   */
  connectTimeoutMs?: number;
  /** Dead letters read at most for the counts by kind; 0 reads none. @default {DEFAULT_MAX_DLQ_SCAN} */
  maxDlqScan?: number;
  /** Stops connecting and reading. */
  signal?: AbortSignal | undefined;
}

/**
 * Reads the queues of one environment (counts and types) and counts its
 * dead letters by kind. Given several nodes, a node lost during the reads
 * is left for the next one (each node is read through at most once).
 * Never throws: a broker that cannot be reached or read is a `failure`.
 *
 * @param broker The broker URLs and the queue names.
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
  const { redactedUrl, names, urls } = broker;
  const queueNames: Record<QueueRole, string> = {
    input: names.queue,
    retry: names.retryQueue,
    dead_letter: names.deadLetterQueue,
    processing: names.publishQueue,
  };
  const status: BrokerStatus = {
    url: redactedUrl,
    ...(urls.length > 1 ? { nodes: urls.map((u) => u.redacted) } : {}),
    queues: mapRoles((role) => unknownQueue(queueNames[role])),
    deadLetters: null,
  };
  const cursor = new NodeCursor();
  const lostOnes: string[] = [];
  for (let attempt = 0;; attempt++) {
    let connection: Broker;
    try {
      connection = await Broker.connect(broker, { timeoutMs: connectTimeoutMs, signal, cursor });
    } catch (err) {
      if (!(err instanceof BrokerError)) throw err;
      status.failure = {
        kind: lostOnes.length > 0 ? "lost" : err.kind,
        message: [...lostOnes, err.message].join("; "),
      };
      return status;
    }
    status.url = connection.node;
    status.node = connection.node;
    try {
      const read = await readQueues(connection, {
        queueNames,
        timeoutMs: connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      });
      if ("lost" in read) {
        lostOnes.push(
          `lost the broker at ${connection.node}: ${redactSecrets(read.lost, urls)}`,
        );
        cursor.lost();
        if (attempt + 1 < urls.length && signal?.aborted !== true) continue;
        delete status.node;
        status.failure = { kind: "lost", message: lostOnes.join("; ") };
        return status;
      }
      status.queues = read.queues;
      if (read.typeError !== undefined) status.typeError = redactSecrets(read.typeError, urls);
      const dlq = status.queues.dead_letter;
      if (maxDlqScan > 0 && (dlq.messages ?? 0) > 0) {
        // On the same connection: status connects once per node.
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
}

/** What the reads through one node gave: every queue, or why the node was lost. */
type NodeRead =
  | { queues: Record<QueueRole, QueueState>; typeError?: string }
  | { lost: string };

/**
 * Reads the four queues (counts, then types) through one node within
 * `timeoutMs`; a node that is lost or does not answer in time is failed, so
 * its connection ends, and reported `lost`.
 */
async function readQueues(
  connection: Broker,
  options: { queueNames: Record<QueueRole, string>; timeoutMs: number },
): Promise<NodeRead> {
  const { queueNames, timeoutMs } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer to the queue reads within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  const reads = (async () => {
    const queues = mapRoles((role) => unknownQueue(queueNames[role]));
    for (const role of QUEUE_ROLES) queues[role] = await queueState(connection, queueNames[role]);
    let typeError: string | undefined;
    for (const role of QUEUE_ROLES) {
      const queue = queues[role];
      if (queue.exists !== true || queue.unavailable !== undefined || typeError !== undefined) {
        continue;
      }
      try {
        queue.type = await queueType(connection, queue.name);
      } catch (err) {
        if (!connection.alive) throw err;
        typeError = errorLine(err);
      }
    }
    return typeError === undefined ? { queues } : { queues, typeError };
  })();
  try {
    return await Promise.race([reads, late]);
  } catch (err) {
    const reason = connection.lostReason ?? errorLine(err);
    connection.fail(reason);
    reads.catch(() => {}); // it fails with the connection
    return { lost: reason };
  } finally {
    clearTimeout(timer);
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
  if (summary.failure !== undefined) {
    kinds.error = redactSecrets(summary.failure.message, broker.urls);
  }
  return kinds;
}

/** A queue as a passive declare sees it: a missing queue is reported missing rather than thrown. */
async function queueState(connection: Broker, name: string): Promise<QueueState> {
  let counts;
  try {
    counts = await connection.queueCounts(name);
  } catch (err) {
    if (!(err instanceof QueueUnavailableError)) throw err;
    return {
      name,
      exists: true,
      messages: null,
      consumers: null,
      type: null,
      unavailable: err.message,
    };
  }
  return counts === undefined
    ? { name, exists: false, messages: null, consumers: null, type: null }
    : { name, exists: true, ...counts, type: null };
}

/**
 * A queue's type, from the broker's refusal of a declare with
 * {@linkcode PROBE_QUEUE_TYPE} (see the module doc): one channel and one
 * declare per refusal, on channels of their own.
 *
 * @returns The type, or null when the queue is gone meanwhile.
 * @throws The broker's error when it refuses for another reason (access).
 */
async function queueType(connection: Broker, name: string): Promise<string | null> {
  const params = { durable: true, autoDelete: false };
  const args: Record<string, unknown> = { "x-queue-type": PROBE_QUEUE_TYPE };
  for (let step = 0; step < MAX_PROBE_STEPS; step++) {
    const channel = await connection.channel();
    channel.onerror = () => {}; // the refusal closes this channel only
    try {
      await channel.queueDeclare(name, params, args);
      return null; // not reached: no queue has the probe's type
    } catch (err) {
      const found = inequivalentArg(err);
      if (found === undefined) {
        if (/unsupported queue type|NOT_FOUND|\(404\)/.test(errorLine(err))) return null;
        throw err;
      }
      if (found.arg === "x-queue-type") {
        return found.current === undefined ? "classic" : String(found.current);
      }
      if (found.arg === "durable") params.durable = found.current === "true";
      else if (found.arg === "auto_delete") params.autoDelete = found.current === "true";
      else if (found.current === undefined) delete args[found.arg];
      else args[found.arg] = found.current;
    } finally {
      if (!channel.closed) await channel.close().catch(() => {});
    }
  }
  throw new Error(`queue ${name}: its type not named within ${MAX_PROBE_STEPS} declares`);
}

function unknownQueue(name: string): QueueState {
  return { name, exists: null, messages: null, consumers: null, type: null };
}

function mapRoles<T>(fn: (role: QueueRole) => T): Record<QueueRole, T> {
  return {
    input: fn("input"),
    retry: fn("retry"),
    dead_letter: fn("dead_letter"),
    processing: fn("processing"),
  };
}
