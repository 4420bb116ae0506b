/**
 * The broker side of a one-shot command that publishes many messages to one
 * queue (`enqueue`, `announce`): connect within a deadline, make sure the
 * queue exists, and open a confirm channel with a {@linkcode PublishWindow}
 * on it. The queue is checked, never declared: a mistyped `--env` must not
 * create a queue that nobody consumes (`consume` declares the topology).
 *
 * @module
 */

import type { AMQPClient } from "amqp-client";
import { errorLine, TelemetryError } from "../core/errors.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { closeBroker, connectBroker, openConfirmChannel } from "./connect.ts";
import { PublishWindow } from "./publish_window.ts";
import { isConfigurationError } from "./session.ts";

/** An open connection, ready to publish to one queue. */
export interface PublishTarget {
  /** The queue messages go to. */
  readonly queue: string;
  /** Consumers of the queue when it was checked (0: messages wait for a worker). */
  readonly consumers: number;
  /** Messages ready in the queue when it was checked. */
  readonly messages: number;
  /** The pipelined publisher. */
  readonly window: PublishWindow;
  /** Why the connection or channel ended, once it did (before {@linkcode PublishTarget.close}). */
  readonly lost: string | undefined;
  /**
   * One line on why publishing stopped: the lost connection, or the first
   * failed publish (naming a broker alarm that blocks publishing).
   */
  failureLine(): string | undefined;
  /** Closes the connection; never throws, never hangs. */
  close(): Promise<void>;
}

/** Options of {@linkcode openPublishTarget}. */
export interface PublishTargetOptions {
  /** The queue to publish to; it must exist. */
  queue: string;
  /** How long each publish may wait for its confirm, in milliseconds. */
  confirmTimeoutMs: number;
  /** Publishes in flight at most. @default {DEFAULT_WINDOW_SIZE} */
  windowSize?: number;
  /** How long the connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /** Gives up connecting (Ctrl-C). */
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
 * const target = await openPublishTarget(broker, { queue: broker.names.queue, confirmTimeoutMs: 30_000 });
 * await target.window.send({ queue: target.queue, body: "{}" }, (err) => console.log(err ?? "confirmed"));
 * await target.window.drain();
 * await target.close();
 * ```
 */
export async function openPublishTarget(
  broker: BrokerSettings,
  options: PublishTargetOptions,
): Promise<PublishTarget> {
  const { queue, confirmTimeoutMs, windowSize, connectTimeoutMs, signal } = options;
  let client: AMQPClient;
  try {
    client = await connectBroker(broker.amqpUrl, {
      ...(connectTimeoutMs === undefined ? {} : { timeoutMs: connectTimeoutMs }),
      signal,
    });
  } catch (err) {
    if (isConfigurationError(err)) {
      throw new TelemetryError(
        "permanent",
        "bad_option",
        `broker ${broker.redactedUrl} refused the connection: ${errorLine(err)}`,
      );
    }
    throw new TelemetryError(
      "transient",
      "network",
      `cannot reach the broker at ${broker.redactedUrl}: ${errorLine(err) || "connection failed"}`,
    );
  }
  let lost: string | undefined;
  let closing = false;
  const end = (reason: string) => {
    if (!closing) lost ??= reason;
  };
  client.onerror = (err) => end(errorLine(err));
  client.ondisconnect = (err) => end(err ? errorLine(err) : "socket closed");
  try {
    const counts = await checkQueue(client, { queue, broker });
    const { channel, returned } = await openConfirmChannel(client);
    // The channel hears of a closed connection first: say it once.
    channel.onerror = (reason) =>
      end(reason.startsWith("connection closed") ? reason : `channel closed: ${reason}`);
    const window = new PublishWindow(channel, {
      timeoutMs: confirmTimeoutMs,
      returned,
      blocked: () => client.blocked,
      signal,
      ...(windowSize === undefined ? {} : { size: windowSize }),
    });
    return {
      queue,
      ...counts,
      window,
      get lost() {
        return lost;
      },
      failureLine() {
        if (lost !== undefined) return `broker connection lost: ${lost}`;
        const failure = window.failure;
        if (failure === undefined) return undefined;
        const blocked = client.blocked;
        return blocked === undefined
          ? failure.message
          : `${failure.message} (the broker blocks publishing: ${blocked || "no reason given"})`;
      },
      async close() {
        closing = true;
        await closeBroker(client);
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

/** Checks that the queue exists (passive declare, on a channel of its own: a 404 closes it). */
async function checkQueue(
  client: AMQPClient,
  context: { queue: string; broker: BrokerSettings },
): Promise<{ consumers: number; messages: number }> {
  const { queue, broker } = context;
  const channel = await client.channel();
  channel.onerror = () => {}; // the 404 below closes this channel only
  try {
    const ok = await channel.queueDeclare(queue, { passive: true });
    return { consumers: ok.consumerCount, messages: ok.messageCount };
  } catch (err) {
    if (!/NOT_FOUND|\(404\)/.test(errorLine(err))) throw err;
    throw new TelemetryError(
      "permanent",
      "bad_option",
      `queue ${queue} does not exist on ${broker.redactedUrl}: check --env ${broker.env}; ` +
        `'telemetry consume --env ${broker.env}' declares it when it starts`,
    );
  } finally {
    if (!channel.closed) await channel.close().catch(() => {});
  }
}
