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
