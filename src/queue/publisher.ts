/**
 * Publishing with publisher confirms and a deadline: amqp-client's
 * `basicPublish` resolves on the broker's ack but never times out by itself.
 *
 * @module
 */

/** Message properties the worker sets (a subset of amqp-client's `AMQPProperties`). */
export interface PublishProperties {
  /** MIME type of the body. */
  contentType?: string;
  /** 2 for persistent. */
  deliveryMode?: number;
  /** Application headers. */
  headers?: Record<string, unknown>;
  /** Identifies the message; a returned publish is recognised by it. */
  messageId?: string;
  /** Other properties copied from an inbound message. */
  [key: string]: unknown;
}

/** The channel operation {@linkcode publishConfirmed} needs (from a channel in confirm mode). */
export interface PublishChannel {
  /** Publishes; resolves when the broker confirms, rejects on a nack or a closed channel. */
  basicPublish(
    exchange: string,
    routingKey: string,
    body: Uint8Array | string,
    properties?: PublishProperties,
    mandatory?: boolean,
  ): Promise<unknown>;
}

/** Why a publish failed. */
export type PublishFailure = "timeout" | "rejected" | "unroutable";

/** Why a publish was not confirmed, or reached no queue. */
export class PublishError extends Error {
  /**
   * `timeout`: no confirm in time; `rejected`: nack or closed channel;
   * `unroutable`: the broker returned it (the queue does not exist).
   */
  readonly reason: PublishFailure;

  /**
   * @param reason Why the publish failed.
   * @param message One line for logs.
   * @param options The underlying error.
   */
  constructor(reason: PublishFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PublishError";
    this.reason = reason;
  }
}

/**
 * Publishes a persistent message through the default exchange to a queue,
 * `mandatory`, and waits for the broker's confirm. RabbitMQ confirms a
 * message that reached no queue too: with `returned` (the session's set of
 * returned message ids) such a publish fails instead of passing for done.
 *
 * @param channel A channel in confirm mode.
 * @param message The queue, body, extra properties, the confirm deadline and the returned ids.
 * @returns When the broker confirmed the message into a queue.
 * @throws {PublishError} `timeout` when no confirm came in time (the caller
 * must then treat the channel as broken), `rejected` on a nack or closed
 * channel, `unroutable` when the broker returned it.
 *
 * @example
 * ```ts ignore
 * import { publishConfirmed } from "./publisher.ts";
 * await publishConfirmed(channel, { queue: "match.processing.prod", body: "{}", timeoutMs: 30_000 });
 * ```
 */
export async function publishConfirmed(
  channel: PublishChannel,
  message: {
    queue: string;
    body: Uint8Array | string;
    properties?: PublishProperties;
    timeoutMs: number;
    returned?: Set<string>;
  },
): Promise<void> {
  const { queue, body, properties = {}, timeoutMs, returned } = message;
  const messageId = properties.messageId ?? crypto.randomUUID();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new PublishError("timeout", `no publisher confirm for ${queue} within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
  });
  let published: Promise<unknown>;
  try {
    published = channel.basicPublish("", queue, body, {
      contentType: "application/json",
      ...properties,
      messageId,
      deliveryMode: 2,
    }, true);
  } catch (err) {
    clearTimeout(timer);
    throw new PublishError("rejected", `publish to ${queue} failed: ${lineOf(err)}`, {
      cause: err,
    });
  }
  // After a timeout the publish may still settle (or reject when the channel closes).
  published.catch(() => {});
  try {
    await Promise.race([published, timeout]);
  } catch (err) {
    if (err instanceof PublishError) throw err;
    throw new PublishError("rejected", `publish to ${queue} not confirmed: ${lineOf(err)}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
  if (returned?.delete(messageId)) {
    throw new PublishError("unroutable", `publish to ${queue} returned: no such queue`);
  }
}

function lineOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
}
