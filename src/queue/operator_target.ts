/**
 * The broker connection of a one-shot operator command (`enqueue`,
 * `announce`, `dlq`, `status`), in the same words for each: a bounded
 * connect whose failure says whether the broker was out of reach or refused
 * us, a passive declare that tells a missing queue from a broken
 * connection, the line that names a missing queue, and the broker's flow
 * control of the connection. Queues are checked, never declared: a mistyped
 * `--env` must not create a queue that nobody consumes (`consume` declares
 * the topology).
 *
 * @module
 */

import type { AMQPClient } from "amqp-client";
import { errorLine } from "../core/errors.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { connectBroker } from "./connect.ts";

export { connectionFlow } from "./connect.ts";
import { isConfigurationError } from "./session.ts";

/** Why {@linkcode connectOperator} failed. */
export type ConnectFailureKind =
  /** The broker could not be reached (refused, timed out, DNS, aborted). */
  | "unreachable"
  /** The broker refused the login, the vhost or access. */
  | "refused";

/** The broker could not be used; the message names its URL, redacted. */
export class BrokerConnectError extends Error {
  /** Out of reach, or refused us. */
  readonly kind: ConnectFailureKind;

  /**
   * @param kind Out of reach, or refused us.
   * @param message One line, without credentials.
   * @param options The connection error.
   */
  constructor(kind: ConnectFailureKind, message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = "BrokerConnectError";
    this.kind = kind;
  }
}

/** Options of {@linkcode connectOperator}. */
export interface OperatorConnectOptions {
  /** How long the connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number | undefined;
  /** Gives up connecting (Ctrl-C). */
  signal?: AbortSignal | undefined;
}

/**
 * Connects to the broker of `broker` within the connect deadline.
 *
 * @param broker The broker URL (never shown but redacted).
 * @param options The connect deadline and the abort signal.
 * @returns The connected client.
 * @throws {BrokerConnectError} `refused` when the broker refuses the login
 * or vhost ("the broker at URL refused: …"), `unreachable` otherwise
 * ("cannot reach the broker at URL: …").
 *
 * @example
 * ```ts ignore
 * import { connectOperator } from "./operator_target.ts";
 * const client = await connectOperator(broker, { connectTimeoutMs: 10_000 });
 * ```
 */
export async function connectOperator(
  broker: BrokerSettings,
  options: OperatorConnectOptions = {},
): Promise<AMQPClient> {
  const { connectTimeoutMs, signal } = options;
  try {
    return await connectBroker(broker.amqpUrl, {
      ...(connectTimeoutMs === undefined ? {} : { timeoutMs: connectTimeoutMs }),
      signal,
    });
  } catch (err) {
    const url = broker.redactedUrl;
    if (isConfigurationError(err)) {
      throw new BrokerConnectError("refused", `the broker at ${url} refused: ${errorLine(err)}`, {
        cause: err,
      });
    }
    const reason = errorLine(err) || "connection failed";
    throw new BrokerConnectError("unreachable", `cannot reach the broker at ${url}: ${reason}`, {
      cause: err,
    });
  }
}

/** A queue's counts, as a passive declare reads them. */
export interface QueueCounts {
  /** Ready messages (not counting those delivered and not yet acked). */
  messages: number;
  /** Consumers attached. */
  consumers: number;
}

/**
 * Reads a queue's counts with a passive declare, on a channel of its own (a
 * missing queue closes the channel it is asked on).
 *
 * @param client A connected client.
 * @param queue The queue.
 * @returns The counts, or `undefined` when the queue does not exist.
 * @throws The channel's error when the broker fails otherwise.
 *
 * @example
 * ```ts ignore
 * import { declarePassive } from "./operator_target.ts";
 * const counts = await declarePassive(client, "match.telemetry.prod");
 * console.log(counts === undefined ? "missing" : `${counts.messages} ready`);
 * ```
 */
export async function declarePassive(
  client: AMQPClient,
  queue: string,
): Promise<QueueCounts | undefined> {
  const channel = await client.channel();
  channel.onerror = () => {}; // the 404 below closes this channel only
  try {
    const ok = await channel.queueDeclare(queue, { passive: true });
    return { messages: ok.messageCount, consumers: ok.consumerCount };
  } catch (err) {
    if (/NOT_FOUND|\(404\)/.test(errorLine(err))) return undefined;
    throw err;
  } finally {
    if (!channel.closed) await channel.close().catch(() => {});
  }
}

/**
 * The one line that says a queue is missing, and how it comes to exist.
 *
 * @param queue The missing queue.
 * @param broker The broker settings (the redacted URL and the `--env`).
 * @returns "queue Q does not exist on URL: check --env E; …".
 *
 * @example
 * ```ts
 * import { missingQueueLine } from "./operator_target.ts";
 * const line = missingQueueLine("match.telemetry.prod", {
 *   redactedUrl: "amqp://guest:***@localhost/",
 *   env: "prod",
 * });
 * if (!line.startsWith("queue match.telemetry.prod does not exist")) throw new Error("unexpected");
 * ```
 */
export function missingQueueLine(
  queue: string,
  broker: Pick<BrokerSettings, "redactedUrl" | "env">,
): string {
  const { redactedUrl, env } = broker;
  return `queue ${queue} does not exist on ${redactedUrl}: check --env ${env}; ` +
    `'telemetry consume --env ${env}' declares it when it starts`;
}
