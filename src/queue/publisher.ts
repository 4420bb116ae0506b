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
  ): Promise<unknown>;
}

/** Why a publish was not confirmed. */
export class PublishError extends Error {
  /** `timeout`: no confirm in time; `rejected`: nack or closed channel. */
  readonly reason: "timeout" | "rejected";

  /**
   * @param reason Why the publish failed.
   * @param message One line for logs.
   * @param options The underlying error.
   */
  constructor(reason: "timeout" | "rejected", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PublishError";
    this.reason = reason;
  }
}

/**
 * Publishes a persistent message through the default exchange to a queue and
 * waits for the broker's confirm.
 *
 * @param channel A channel in confirm mode.
 * @param message The queue, body, extra properties and the confirm deadline.
 * @returns When the broker confirmed the message.
 * @throws {PublishError} `timeout` when no confirm came in time (the caller
 * must then treat the channel as broken), `rejected` on a nack or closed channel.
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
  },
): Promise<void> {
  const { queue, body, properties = {}, timeoutMs } = message;
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
      deliveryMode: 2,
    });
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
}

function lineOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
}
