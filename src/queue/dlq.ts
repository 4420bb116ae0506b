/**
 * The dead-letter queue of one environment (`dlq.telemetry.{env}`), for the
 * `telemetry dlq` commands: read it in place ({@linkcode scanDeadLetters},
 * for `list`, `export` and the dry runs), move dead letters back to the job
 * queue ({@linkcode replayDeadLetters}), or delete them
 * ({@linkcode purgeDeadLetters}).
 *
 * Each run takes the dead letters that are in the queue when it starts, in
 * order and unacked (`queue_snapshot.ts`), and removes (acks) only what it
 * acts on: a replayed dead letter once its copy is confirmed in the job
 * queue, a purged one at once. However a run ends (done, an error, Ctrl-C,
 * a `kill -9`, a lost broker), the broker puts every dead letter not acked
 * back where it was: nothing is lost, and what stays keeps its order. A
 * crash between a confirm and its ack leaves that job in both queues, never
 * in neither.
 *
 * @module
 */

import type { AMQPChannel, AMQPMessage } from "amqp-client";
import { errorLine } from "../core/errors.ts";
import {
  Broker,
  BrokerError,
  CLOSE_STEP_TIMEOUT_MS,
  missingQueueLine,
  QueueUnavailableError,
  withTimeout,
} from "./broker.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import {
  type DeadLetterFilter,
  type DeadLetterInfo,
  describeDeadLetter,
  matchesFilter,
} from "./dead_letter.ts";
import { DEFAULT_CONFIRM_TIMEOUT_MS } from "../core/defaults.ts";
import { type FlowControl, Publisher, type PublishProperties } from "./publisher.ts";
import { type QueueSnapshot, snapshotQueue } from "./queue_snapshot.ts";

/**
 * How long a run that acked dead letters waits before closing its channels:
 * on RabbitMQ 3.10 a quorum queue's channel passes a burst of acks on in
 * turns, it seems, and forgets those not yet passed on when it closes.
 * Measured: a filtered replay of 500 among 1,000 left about 95 of its
 * replayed dead letters in the DLQ without the wait, none with it.
 */
const ACK_SETTLE_MS = 250;

/** Why a run stopped early. */
export type DlqFailureKind =
  /** The broker could not be reached (refused, timed out, DNS). */
  | "unreachable"
  /** The broker refused the login, the vhost or access. */
  | "refused"
  /** The dead-letter queue (or the job queue, for a replay) does not exist. */
  | "no_queue"
  /** Another client is consuming the dead-letter queue. */
  | "busy"
  /** The connection or channel was lost during the run. */
  | "connection_lost"
  /** A replayed copy was not confirmed (nack, returned, no confirm in time). */
  | "publish_failed"
  /** The caller's handler failed (e.g. the export file could not be written). */
  | "handler"
  /** The caller's signal aborted the run (Ctrl-C). */
  | "interrupted";

/** Why a run stopped early, as a value. */
export interface DlqFailure {
  /** What went wrong. */
  kind: DlqFailureKind;
  /** One line, without credentials. */
  message: string;
}

/** One dead letter, as a run hands it to the caller. */
export interface DeadLetter {
  /** Its position in the queue when the run started (1 for the head). */
  position: number;
  /** What the worker recorded about it. */
  info: DeadLetterInfo;
  /** The delivery (body and properties). Never ack it: the run does. */
  message: AMQPMessage;
}

/** How far a run is. */
export interface DlqProgress {
  /** Dead letters in the queue when the run started. */
  total: number;
  /** Dead letters looked at. */
  scanned: number;
  /** Of those, the ones that passed the filters (within `--limit`). */
  matched: number;
  /** Of those, the ones acted on: read, copied to the job queue (confirmed), or removed. */
  done: number;
  /** Dead letters removed from the queue (acked) so far. */
  removed: number;
}

/** What a run did. */
export interface DlqSummary extends DlqProgress {
  /** The dead-letter queue. */
  queue: string;
  /** The matched dead letters by `x-error-kind` (`unknown` when it is missing). */
  byKind: Record<string, number>;
  /**
   * Fewer dead letters were there to take than counted at the start:
   * another client removed some during the run.
   */
  short: boolean;
  /** Set when the run stopped early. */
  failure?: DlqFailure;
}

/** Options shared by every run. */
export interface DlqOptions {
  /** The broker URL (never logged: messages show the redacted one) and the queue names. */
  broker: BrokerSettings;
  /** Which dead letters to act on. @default {{} (all)} */
  filter?: DeadLetterFilter;
  /** Act on at most this many matching dead letters (the first ones in the queue). */
  limit?: number | undefined;
  /** The clock of the time filters. @default {() => new Date()} */
  now?: () => Date;
  /** Stops the run: nothing more is taken, publishes in flight are finished. */
  signal?: AbortSignal | undefined;
  /** How long the connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /**
   * A connection to use instead of opening one (`status` reads the queues
   * and the dead letters on one); the run leaves it open.
   */
  connection?: Broker | undefined;
  /** See `SnapshotOptions.idleMs`. */
  idleMs?: number;
  /** See `SnapshotOptions.chunk`. */
  chunk?: number;
  /** Called after each dead letter looked at. */
  onProgress?: ((progress: DlqProgress) => void) | undefined;
}

/** Options of {@linkcode scanDeadLetters}. */
export interface ScanOptions extends DlqOptions {
  /** Receives each matching dead letter, in queue order (awaited). */
  onDeadLetter?: ((letter: DeadLetter) => void | Promise<void>) | undefined;
}

/** Options of {@linkcode replayDeadLetters}. */
export interface ReplayOptions extends DlqOptions {
  /** How long the broker may take to confirm. @default {DEFAULT_CONFIRM_TIMEOUT_MS} */
  confirmTimeoutMs?: number;
  /** Publishes awaiting their confirm at most. @default {DEFAULT_PUBLISH_WINDOW} */
  window?: number;
}

/**
 * Reads the matching dead letters without removing any: when the run ends
 * the queue holds the same messages in the same order.
 *
 * @param options The broker, the filters and the handler.
 * @returns What was read; `done` counts the dead letters handed to `onDeadLetter`.
 *
 * @example
 * ```ts ignore
 * import { scanDeadLetters } from "./dlq.ts";
 * const summary = await scanDeadLetters({
 *   broker,
 *   onDeadLetter: (letter) => console.log(letter.info.matchId, letter.info.error),
 * });
 * console.log(summary.byKind, summary.failure?.message);
 * ```
 */
export function scanDeadLetters(options: ScanOptions): Promise<DlqSummary> {
  const { onDeadLetter } = options;
  return runOnDeadLetters(options, {
    requires: [],
    start: () => {
      let done = 0;
      return {
        async handle(letter, matched) {
          if (!matched) return;
          await onDeadLetter?.(letter);
          done++;
        },
        finish: () => Promise.resolve(),
        failure: () => undefined,
        counts: () => ({ done, removed: 0 }),
      };
    },
  });
}

/**
 * Moves the matching dead letters back to the job queue: each is published
 * (persistent, `mandatory`, confirmed; body, headers and properties as they
 * are) before it is acked, with up to `window` confirms outstanding. The
 * headers keep `x-error`, so the worker gives the job a fresh delivery count.
 * Once a publish fails, nothing more is acked, not even a copy the broker
 * confirms afterwards: the dead letters not acked stay in the DLQ, in order
 * (a copy may then be in both queues; none is lost).
 *
 * @param options The broker, the filters and the confirm settings.
 * @returns What was done: `done` counts the copies confirmed in the job
 * queue, `removed` the dead letters acked (the same number unless the run failed).
 *
 * @example
 * ```ts ignore
 * import { replayDeadLetters } from "./dlq.ts";
 * const summary = await replayDeadLetters({ broker, filter: { kinds: ["transient"] } });
 * console.log(`replayed ${summary.removed}`);
 * ```
 */
export function replayDeadLetters(options: ReplayOptions): Promise<DlqSummary> {
  const { confirmTimeoutMs = DEFAULT_CONFIRM_TIMEOUT_MS, window, signal } = options;
  const { names } = options.broker;
  return runOnDeadLetters(options, {
    requires: [names.queue],
    publishes: true,
    start: ({ channel, returned, flow }) => {
      if (channel === undefined) throw new Error("replay needs a confirm channel");
      const pipeline = new Publisher(channel, {
        timeoutMs: confirmTimeoutMs,
        returned,
        flow,
        signal,
        window,
      });
      let done = 0;
      const acks = new Acks();
      return {
        async handle({ message }, matched) {
          if (!matched) return;
          await pipeline.publish({
            queue: names.queue,
            body: message.body ?? new Uint8Array(),
            properties: replayProperties(message),
          }, (error) => {
            // After any failure, not even a confirmed copy's original is acked.
            if (error !== undefined || pipeline.failure !== undefined) return;
            done++;
            acks.ack(message);
          });
        },
        finish: () => pipeline.drain(),
        failure: () => pipeline.failure?.message ?? acks.failure,
        counts: () => ({ done, removed: acks.removed }),
      };
    },
  });
}

/**
 * Deletes the matching dead letters (acks them); the others stay, in order.
 *
 * @param options The broker and the filters.
 * @returns What was done; `done` and `removed` count the dead letters removed.
 *
 * @example
 * ```ts ignore
 * import { purgeDeadLetters } from "./dlq.ts";
 * const summary = await purgeDeadLetters({ broker, filter: { kinds: ["permanent"] } });
 * console.log(`removed ${summary.removed}`);
 * ```
 */
export function purgeDeadLetters(options: DlqOptions): Promise<DlqSummary> {
  return runOnDeadLetters(options, {
    requires: [],
    start: () => {
      const acks = new Acks();
      return {
        handle: ({ message }, matched) => matched ? acks.ack(message) : undefined,
        finish: () => Promise.resolve(),
        failure: () => acks.failure,
        counts: () => ({ done: acks.removed, removed: acks.removed }),
      };
    },
  });
}

/**
 * The headers in which a quorum queue counts a message's returns. They are
 * the DLQ's count (every `dlq list` returns each dead letter once), not the
 * job's: a copy keeping them would reach the worker as a job given back that
 * many times, since a quorum queue leaves the header as published until the
 * copy is returned once.
 */
const BROKER_COUNT_HEADERS = new Set(["x-delivery-count", "x-acquired-count"]);

/**
 * The properties of a replayed copy: the dead letter's own, headers
 * included, except `userId` (the broker checks it against our login),
 * `expiration` (it would drop the job) and the quorum queue's return counts
 * (`x-delivery-count`, `x-acquired-count`: the DLQ's, not the job's).
 *
 * @param message The dead letter.
 * @returns The properties to publish with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replayProperties } from "./dlq.ts";
 * const copy = replayProperties({
 *   properties: { userId: "me", headers: { "x-error": "HTTP 503", "x-delivery-count": 4 } },
 * });
 * assert.deepEqual(copy, { headers: { "x-error": "HTTP 503" } });
 * ```
 */
export function replayProperties(message: Pick<AMQPMessage, "properties">): PublishProperties {
  const { userId: _u, expiration: _e, ...rest } = message.properties;
  const properties: PublishProperties = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) properties[key] = value;
  }
  const { headers } = rest;
  if (headers !== undefined && Object.keys(headers).some((k) => BROKER_COUNT_HEADERS.has(k))) {
    properties.headers = Object.fromEntries(
      Object.entries(headers).filter(([key]) => !BROKER_COUNT_HEADERS.has(key)),
    );
  }
  return properties;
}

/**
 * The acks of a run that removes dead letters (`replay`, `purge`): sent
 * without waiting (the broker handles them in order before the channel's
 * close), counted when done; the first failure is kept.
 */
class Acks {
  removed = 0;
  failure: string | undefined;

  ack(message: AMQPMessage): void {
    message.ack().then(
      () => this.removed++,
      (err) => this.failure ??= `ack failed: ${errorLine(err)}`,
    );
  }
}

/** What a run does with the dead letters it takes. */
interface Action {
  /** Called for every dead letter taken, in queue order; may wait (for room in the publish window). */
  handle(letter: DeadLetter, matched: boolean): void | Promise<void>;
  /** Called once nothing more is taken: waits for what is in flight (and acks it). */
  finish(): Promise<void>;
  /** Why the action failed, if it did. */
  failure(): string | undefined;
  /** Dead letters acted on, and removed from the queue. */
  counts(): { done: number; removed: number };
}

/**
 * How a run is set up: the queues that must exist besides the DLQ, whether
 * it publishes (then it gets a confirm channel of its own), and the action.
 */
interface Plan {
  requires: string[];
  publishes?: boolean;
  start(context: { channel?: AMQPChannel; returned: Set<string>; flow: FlowControl }): Action;
}

async function runOnDeadLetters(options: DlqOptions, plan: Plan): Promise<DlqSummary> {
  const {
    broker,
    filter = {},
    limit,
    now = () => new Date(),
    signal,
    connectTimeoutMs,
    idleMs,
    chunk,
    onProgress,
    connection: given,
  } = options;
  const queue = broker.names.deadLetterQueue;
  const summary: DlqSummary = {
    queue,
    total: 0,
    scanned: 0,
    matched: 0,
    done: 0,
    removed: 0,
    byKind: {},
    short: false,
  };
  if (signal?.aborted) return failed(summary, "interrupted", "interrupted before connecting");
  let connection: Broker;
  try {
    connection = given ?? await Broker.connect(broker, { timeoutMs: connectTimeoutMs, signal });
  } catch (err) {
    if (signal?.aborted) return failed(summary, "interrupted", "interrupted while connecting");
    if (err instanceof BrokerError) return failed(summary, err.kind, err.message);
    throw err;
  }
  // The connection's end, or the publishing channel's (a connection lost is said once).
  let channelLost: string | undefined;
  const lost = () => connection.lostReason ?? channelLost;
  const lostFailure = (err?: unknown): DlqFailure => ({
    kind: "connection_lost",
    message: `lost the broker: ${lost() ?? errorLine(err)}`,
  });
  try {
    let missing: string | undefined;
    try {
      missing = await missingQueue(connection, [queue, ...plan.requires]);
    } catch (err) {
      if (err instanceof QueueUnavailableError) return failed(summary, err.kind, err.message);
      throw err;
    }
    if (missing !== undefined) {
      return failed(summary, "no_queue", missingQueueLine(missing, broker));
    }
    let snapshot: QueueSnapshot;
    try {
      snapshot = await snapshotQueue(connection, queue, {
        ...(idleMs === undefined ? {} : { idleMs }),
        ...(chunk === undefined ? {} : { chunk }),
      });
    } catch (err) {
      if (/ACCESS_REFUSED|\(403\)/.test(errorLine(err))) {
        return failed(
          summary,
          "busy",
          `${queue} is being read by another client (another 'telemetry dlq' command?): ` +
            `run this again when it is done`,
        );
      }
      throw err;
    }
    summary.total = snapshot.expected;
    const publisher = plan.publishes ? await connection.confirmChannel() : undefined;
    if (publisher !== undefined) {
      publisher.channel.onerror = (reason) => channelLost ??= `channel closed: ${reason}`;
    }
    const action = plan.start({
      ...(publisher === undefined ? {} : { channel: publisher.channel }),
      returned: publisher?.returned ?? new Set(),
      flow: connection.flow,
    });
    const update = () => {
      Object.assign(summary, action.counts());
      onProgress?.(progressOf(summary));
    };
    const at = now();
    const stop = () => snapshot.stop();
    signal?.addEventListener("abort", stop, { once: true });
    let failure: DlqFailure | undefined;
    try {
      for await (const message of snapshot) {
        summary.scanned++;
        const info = describeDeadLetter(message);
        const matched = (limit === undefined || summary.matched < limit) &&
          matchesFilter(info, filter, at);
        if (matched) {
          summary.matched++;
          const kind = info.kind ?? "unknown";
          summary.byKind[kind] = (summary.byKind[kind] ?? 0) + 1;
        }
        try {
          await action.handle({ position: summary.scanned, info, message }, matched);
        } catch (err) {
          failure = { kind: "handler", message: errorLine(err) };
        }
        update();
        if (failure !== undefined || action.failure() !== undefined) break;
        if (signal?.aborted || (limit !== undefined && summary.matched >= limit)) snapshot.stop();
      }
    } catch (err) {
      failure = lostFailure(err);
    } finally {
      signal?.removeEventListener("abort", stop);
    }
    snapshot.stop();
    await action.finish();
    summary.short = snapshot.short;
    const actionFailure = action.failure();
    if (failure === undefined && actionFailure !== undefined) {
      failure = lost() === undefined
        ? { kind: "publish_failed", message: actionFailure }
        : lostFailure();
    }
    // Whatever is still held goes back to the queue, in place. The broker
    // handles the acks sent on a channel before its close; but a quorum
    // queue's channel holds acks back under a burst and drops them if the
    // channel closes first (those dead letters would stay in the DLQ too).
    if (action.counts().removed > 0) await new Promise((r) => setTimeout(r, ACK_SETTLE_MS));
    await snapshot.close();
    if (publisher !== undefined && !publisher.channel.closed) {
      await withTimeout(publisher.channel.close(), CLOSE_STEP_TIMEOUT_MS);
    }
    if (lost() === undefined) {
      await untilRequeued(connection, { queue, count: summary.total - action.counts().removed });
    }
    if (failure === undefined && lost() !== undefined) failure = lostFailure();
    if (failure === undefined && signal?.aborted) {
      failure = { kind: "interrupted", message: "interrupted" };
    }
    if (failure !== undefined) summary.failure = failure;
    update();
    return summary;
  } catch (err) {
    return failed(summary, "connection_lost", `lost the broker: ${lost() ?? errorLine(err)}`);
  } finally {
    if (given === undefined) await connection.close();
  }
}

/** The first of `queues` that does not exist. */
async function missingQueue(connection: Broker, queues: string[]): Promise<string | undefined> {
  for (const queue of queues) {
    if (await connection.queueCounts(queue) === undefined) return queue;
  }
  return undefined;
}

/**
 * Waits (briefly) until the queue shows `count` ready messages again: the
 * broker answers the channel close before the queue has put the requeued
 * messages back, and a command run right after this one must see them all.
 */
async function untilRequeued(
  connection: Broker,
  options: { queue: string; count: number; timeoutMs?: number },
): Promise<void> {
  // Closed oldest first (the order a quorum queue needs), a classic queue
  // takes its messages back more slowly: 3.8 s for 150,000 measured.
  const { queue, count, timeoutMs = 2_000 + count * 0.03 } = options;
  const deadline = performance.now() + timeoutMs;
  try {
    const channel = await connection.channel();
    try {
      while (performance.now() < deadline) {
        const { messageCount } = await channel.queueDeclare(queue, { passive: true });
        if (messageCount >= count) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      if (!channel.closed) await withTimeout(channel.close(), CLOSE_STEP_TIMEOUT_MS);
    }
  } catch {
    // The broker went away: it requeues on its own; there is nothing to wait for.
  }
}

function failed(summary: DlqSummary, kind: DlqFailureKind, message: string): DlqSummary {
  summary.failure = { kind, message };
  return summary;
}

function progressOf(summary: DlqSummary): DlqProgress {
  const { total, scanned, matched, done, removed } = summary;
  return { total, scanned, matched, done, removed };
}
