/**
 * The broker side of a one-shot command that publishes many JSON messages
 * to one queue (`enqueue`, `announce`): connect within a deadline, make sure
 * the queue exists, and open a confirm channel with a {@linkcode Publisher}
 * on it that honours the broker's flow control (all through `broker.ts`).
 *
 * @module
 */

import { DEFAULT_CONFIRM_TIMEOUT_MS } from "../core/defaults.ts";
import { errorLine, TelemetryError } from "../core/errors.ts";
import { Broker, BrokerError, missingQueueLine } from "./broker.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { type OnSettled, Publisher, type PublishProperties } from "./publisher.ts";

/** The properties of every message (the publisher adds `deliveryMode` 2 and a `messageId`). */
const JSON_MESSAGE: PublishProperties = { contentType: "application/json" };

/** An open connection, ready to publish to one queue. */
export interface PublishTarget {
  /** The queue messages go to. */
  readonly queue: string;
  /** Consumers of the queue when it was checked (0: messages wait for a worker). */
  readonly consumers: number;
  /** The publisher (its `failure` stops the run). */
  readonly publisher: Publisher;
  /**
   * Publishes one persistent JSON message to the queue through the
   * publisher (see {@linkcode Publisher.publish}).
   *
   * @param body The JSON text.
   * @param onSettled Receives its fate: `undefined` once confirmed into the queue, else why not.
   * @returns Whether it was sent: `false` once a publish failed or the signal aborted.
   */
  publish(body: string, onSettled: OnSettled): Promise<boolean>;
  /**
   * Waits for every publish to settle, then closes the connection; never
   * throws, never hangs.
   *
   * @returns One line on why publishing stopped when a publish failed (the
   * lost connection, or the failed publish, naming a broker alarm that
   * blocks publishing); `undefined` otherwise: a connection lost after the
   * last confirm lost nothing.
   */
  finish(): Promise<string | undefined>;
}

/** Options of {@linkcode openPublishTarget}. */
export interface PublishTargetOptions {
  /** The queue to publish to; it must exist. */
  queue: string;
  /** How long each publish may wait for its confirm, in milliseconds. @default {DEFAULT_CONFIRM_TIMEOUT_MS} */
  confirmTimeoutMs?: number | undefined;
  /** Publishes in flight at most. @default {DEFAULT_PUBLISH_WINDOW} */
  windowSize?: number | undefined;
  /** How long the connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number | undefined;
  /** Gives up connecting, and stops the publisher's waits (Ctrl-C). */
  signal?: AbortSignal | undefined;
}

/**
 * Connects, checks the queue, opens the confirm channel.
 *
 * @param broker The broker settings (the URL is only ever shown redacted).
 * @param options The queue, deadlines and window size.
 * @returns The target.
 * @throws {TelemetryError} kind `transient`, code `network`, when the broker
 * cannot be reached; kind `permanent`, code `bad_option`, when it refuses the
 * login or vhost, or the queue does not exist. One line each.
 *
 * @example
 * ```ts ignore
 * import { openPublishTarget } from "./publish_target.ts";
 * const target = await openPublishTarget(broker, { queue: broker.names.queue });
 * await target.publish("{}", (err) => console.log(err ?? "confirmed"));
 * console.log((await target.finish()) ?? "all settled");
 * ```
 */
export async function openPublishTarget(
  broker: BrokerSettings,
  options: PublishTargetOptions,
): Promise<PublishTarget> {
  const {
    queue,
    confirmTimeoutMs = DEFAULT_CONFIRM_TIMEOUT_MS,
    windowSize,
    connectTimeoutMs,
    signal,
  } = options;
  let connection: Broker;
  try {
    connection = await Broker.connect(broker, { timeoutMs: connectTimeoutMs, signal });
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err;
    throw err.kind === "refused"
      ? new TelemetryError(
        "permanent",
        "bad_option",
        `broker ${broker.redactedUrl} refused the connection: ${errorLine(err.cause)}`,
      )
      : new TelemetryError("transient", "network", err.message);
  }
  let closing = false;
  const lost = () => closing ? undefined : connection.lostReason;
  const flow = connection.flow;
  try {
    const counts = await connection.queueCounts(queue);
    if (counts === undefined) {
      throw new TelemetryError("permanent", "bad_option", missingQueueLine(queue, broker));
    }
    const { channel, returned } = await connection.confirmChannel();
    // The channel hears of a closed connection first: say it once.
    channel.onerror = (reason) =>
      connection.fail(
        reason.startsWith("connection closed") ? reason : `channel closed: ${reason}`,
      );
    const publisher = new Publisher(channel, {
      timeoutMs: confirmTimeoutMs,
      returned,
      flow,
      signal,
      window: windowSize,
    });
    const failureLine = () => {
      const reason = lost();
      if (reason !== undefined) return `broker connection lost: ${reason}`;
      const failure = publisher.failure;
      if (failure === undefined) return undefined;
      const blocked = flow.blocked;
      return blocked === undefined
        ? failure.message
        : `${failure.message} (the broker blocks publishing: ${blocked})`;
    };
    return {
      queue,
      consumers: counts.consumers,
      publisher,
      publish: (body, onSettled) =>
        publisher.publish({ queue, body, properties: JSON_MESSAGE }, onSettled),
      async finish() {
        await publisher.drain();
        const line = publisher.failure === undefined ? undefined : failureLine();
        closing = true;
        await connection.close();
        return line;
      },
    };
  } catch (err) {
    const reason = connection.lostReason;
    closing = true;
    await connection.close();
    if (err instanceof TelemetryError) throw err;
    throw new TelemetryError(
      "transient",
      "network",
      `broker ${broker.redactedUrl}: ${reason ?? errorLine(err)}`,
    );
  }
}

/** What the summary of every publishing run (`enqueue`, `announce`) has. */
export interface PublishTotals {
  /** The queue. */
  queue: string;
  /** Whether it was a dry run (nothing published). */
  dryRun: boolean;
  /** Messages sent but not confirmed. */
  unconfirmed: number;
  /** Seconds the run took. */
  seconds: number;
  /** Why the run stopped early (one line). */
  error: string | undefined;
}

/**
 * The totals of a publishing run before it starts.
 *
 * @param queue The queue.
 * @param dryRun Whether nothing is published.
 * @returns Zero unconfirmed, no time, no error.
 */
export function publishTotals(queue: string, dryRun: boolean): PublishTotals {
  return { queue, dryRun, unconfirmed: 0, seconds: 0, error: undefined };
}

/** Options of {@linkcode publishRun}: the broker, and the target's deadlines and window. */
export interface PublishRunOptions extends Omit<PublishTargetOptions, "queue"> {
  /** The broker settings (the URL is only ever shown redacted). */
  broker: BrokerSettings;
}

/**
 * Runs a publishing run: opens the target (none in a dry run), runs `body`
 * with it, then waits for every publish to settle (the target's failure
 * becomes `summary.error` unless `body` set one) and times the run.
 *
 * @param summary The run's totals; `queue` is where messages go.
 * @param body The run, publishing through the target.
 * @param options The broker, the target's deadlines and window.
 * @returns The same summary, with `seconds` and `error` set.
 * @throws {TelemetryError} As {@linkcode openPublishTarget}: nothing was done.
 *
 * @example
 * ```ts ignore
 * import { publishRun, publishTotals } from "./publish_target.ts";
 * const totals = publishTotals(broker.names.queue, false);
 * const summary = await publishRun(totals, async (target) => {
 *   await target?.publish("{}", (err) => console.log(err ?? "confirmed"));
 * }, { broker });
 * ```
 */
export async function publishRun<S extends PublishTotals>(
  summary: S,
  body: (target: PublishTarget | undefined) => Promise<void>,
  options: PublishRunOptions,
): Promise<S> {
  const { broker, ...targetOptions } = options;
  const started = performance.now();
  const target = summary.dryRun
    ? undefined
    : await openPublishTarget(broker, { ...targetOptions, queue: summary.queue });
  try {
    await body(target);
  } finally {
    const failure = await target?.finish();
    summary.error ??= failure;
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
