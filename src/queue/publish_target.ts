/**
 * The broker side of a one-shot command that publishes many JSON messages
 * to one queue (`enqueue`, `announce`): connect within a deadline, make sure
 * the queue exists (`operator_target.ts`), and open a confirm channel with a
 * {@linkcode PublishPipeline} on it that honours the broker's flow control.
 *
 * @module
 */

import type { AMQPClient } from "amqp-client";
import { errorLine, TelemetryError } from "../core/errors.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { closeBroker, openConfirmChannel } from "./connect.ts";
import {
  BrokerConnectError,
  connectionFlow,
  connectOperator,
  declarePassive,
  missingQueueLine,
} from "./operator_target.ts";
import { type OnSettled, PublishPipeline } from "./publish_pipeline.ts";
import type { PublishProperties } from "./publisher.ts";

/** The properties of every message (the pipeline adds `deliveryMode` 2 and a `messageId`). */
const JSON_MESSAGE: PublishProperties = { contentType: "application/json" };

/** Default of {@linkcode PublishTargetOptions.confirmTimeoutMs}. */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 30_000;

/** An open connection, ready to publish to one queue. */
export interface PublishTarget {
  /** The queue messages go to. */
  readonly queue: string;
  /** Consumers of the queue when it was checked (0: messages wait for a worker). */
  readonly consumers: number;
  /** The pipelined publisher (its `failure` stops the run). */
  readonly pipeline: PublishPipeline;
  /**
   * Publishes one persistent JSON message to the queue through the
   * pipeline (see {@linkcode PublishPipeline.publish}).
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
  /** Gives up connecting, and stops the pipeline's waits (Ctrl-C). */
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
  let client: AMQPClient;
  try {
    client = await connectOperator(broker, { connectTimeoutMs, signal });
  } catch (err) {
    if (!(err instanceof BrokerConnectError)) throw err;
    throw err.kind === "refused"
      ? new TelemetryError(
        "permanent",
        "bad_option",
        `broker ${broker.redactedUrl} refused the connection: ${errorLine(err.cause)}`,
      )
      : new TelemetryError("transient", "network", err.message);
  }
  let lost: string | undefined;
  let closing = false;
  const end = (reason: string) => {
    if (!closing) lost ??= reason;
  };
  client.onerror = (err) => end(errorLine(err));
  client.ondisconnect = (err) => end(err ? errorLine(err) : "socket closed");
  const flow = connectionFlow(client);
  try {
    const counts = await declarePassive(client, queue);
    if (counts === undefined) {
      throw new TelemetryError("permanent", "bad_option", missingQueueLine(queue, broker));
    }
    const { channel, returned } = await openConfirmChannel(client);
    // The channel hears of a closed connection first: say it once.
    channel.onerror = (reason) =>
      end(reason.startsWith("connection closed") ? reason : `channel closed: ${reason}`);
    const pipeline = new PublishPipeline(channel, {
      timeoutMs: confirmTimeoutMs,
      returned,
      flow,
      signal,
      window: windowSize,
    });
    const failureLine = () => {
      if (lost !== undefined) return `broker connection lost: ${lost}`;
      const failure = pipeline.failure;
      if (failure === undefined) return undefined;
      const blocked = flow.blocked;
      return blocked === undefined
        ? failure.message
        : `${failure.message} (the broker blocks publishing: ${blocked})`;
    };
    return {
      queue,
      consumers: counts.consumers,
      pipeline,
      publish: (body, onSettled) =>
        pipeline.publish({ queue, body, properties: JSON_MESSAGE }, onSettled),
      async finish() {
        await pipeline.drain();
        const line = pipeline.failure === undefined ? undefined : failureLine();
        closing = true;
        await closeBroker(client);
        return line;
      },
    };
  } catch (err) {
    closing = true;
    await closeBroker(client);
    if (err instanceof TelemetryError) throw err;
    throw new TelemetryError(
      "transient",
      "network",
      `broker ${broker.redactedUrl}: ${lost ?? errorLine(err)}`,
    );
  }
}
