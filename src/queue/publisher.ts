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

/**
 * The broker's flow control of one connection: while it blocks publishing
 * (a memory or disk alarm), a publish waits instead of failing, and its
 * confirm deadline does not run.
 */
export interface FlowControl {
  /** The broker's reason while it blocks publishing, else `undefined`. */
  readonly blocked: string | undefined;
  /** Calls `listener` on every change; returns a function that stops it. */
  watch(listener: (blocked: string | undefined) => void): () => void;
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
    flow?: FlowControl;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { queue, body, properties = {}, timeoutMs, returned, flow, signal } = message;
  const messageId = properties.messageId ?? crypto.randomUUID();
  const deadline = new PausableDeadline(timeoutMs, flow);
  const ended = whenAborted(signal, queue);
  try {
    for (;;) {
      await untilUnblocked(flow, ended.promise);
      const published = sendMandatory(channel, {
        queue,
        body,
        // The caller's properties as they are: a dead letter keeps the original's (with or without a content type).
        properties,
        messageId,
      });
      // After a timeout the publish may still settle (or reject when the channel closes).
      published.catch(() => {});
      try {
        await Promise.race([published, deadline.expired(queue), ended.promise]);
        break;
      } catch (err) {
        if (err instanceof PublishError) throw err;
        // Blocked between our check and the publish: the client sent nothing; wait and resend.
        if (flow?.blocked !== undefined && /blocked/i.test(lineOf(err))) continue;
        throw notConfirmed(queue, err);
      }
    }
  } finally {
    deadline.clear();
    ended.dispose();
  }
  const unroutable = returnedFailure(returned, { queue, messageId });
  if (unroutable !== undefined) throw unroutable;
}

/**
 * Sends one persistent (`deliveryMode` 2), `mandatory` publish through the
 * default exchange, without waiting for its confirm.
 *
 * @param channel A channel in confirm mode.
 * @param message The queue, body, properties and the message id it goes with.
 * @returns The broker's answer: resolves on its confirm, rejects on a nack or a closed channel.
 * @throws {PublishError} `rejected` when the client refuses the publish at once.
 *
 * @example
 * ```ts
 * import { sendMandatory } from "./publisher.ts";
 * const channel = { basicPublish: () => Promise.resolve(1) };
 * await sendMandatory(channel, { queue: "q", body: "{}", properties: {}, messageId: "m-1" });
 * ```
 */
export function sendMandatory(
  channel: PublishChannel,
  message: {
    queue: string;
    body: Uint8Array | string;
    properties: PublishProperties;
    messageId: string;
  },
): Promise<unknown> {
  const { queue, body, properties, messageId } = message;
  try {
    return channel.basicPublish("", queue, body, {
      ...properties,
      messageId,
      deliveryMode: 2,
    }, true);
  } catch (err) {
    throw new PublishError("rejected", `publish to ${queue} failed: ${lineOf(err)}`, {
      cause: err,
    });
  }
}

/**
 * The failure of a confirmed publish that reached no queue. RabbitMQ sends
 * the `basic.return` of a mandatory publish before its confirm, so once the
 * confirm has come, `returned` holds the message id if the broker returned it.
 *
 * @param returned The returned message ids of the channel; the id is removed from it.
 * @param message The queue and the message id of the confirmed publish.
 * @returns An `unroutable` PublishError, or `undefined` when the message reached a queue.
 *
 * @example
 * ```ts
 * import { returnedFailure } from "./publisher.ts";
 * const returned = new Set(["m-1"]);
 * if (returnedFailure(returned, { queue: "q", messageId: "m-1" })?.reason !== "unroutable") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function returnedFailure(
  returned: Set<string> | undefined,
  message: { queue: string; messageId: string },
): PublishError | undefined {
  const { queue, messageId } = message;
  if (!returned?.delete(messageId)) return undefined;
  return new PublishError("unroutable", `publish to ${queue} returned: no such queue`);
}

/**
 * The failure of a publish the broker nacked, or whose channel closed before its confirm.
 *
 * @param queue The queue it went to.
 * @param err Why the confirm did not come.
 * @returns A `rejected` PublishError with `err` as its cause.
 *
 * @example
 * ```ts
 * import { notConfirmed } from "./publisher.ts";
 * const err = notConfirmed("q", new Error("Message rejected"));
 * if (err.message !== "publish to q not confirmed: Message rejected") throw new Error("unexpected");
 * ```
 */
export function notConfirmed(queue: string, err: unknown): PublishError {
  return new PublishError("rejected", `publish to ${queue} not confirmed: ${lineOf(err)}`, {
    cause: err,
  });
}

/** Waits while the broker blocks publishing; rejects when `ended` does first. */
async function untilUnblocked(
  flow: FlowControl | undefined,
  ended: Promise<never>,
): Promise<void> {
  if (flow?.blocked === undefined) return;
  let stop: () => void = () => {};
  const unblocked = new Promise<void>((resolve) => {
    stop = flow.watch((blocked) => {
      if (blocked === undefined) resolve();
    });
  });
  try {
    await Promise.race([unblocked, ended]);
  } finally {
    stop();
  }
}

/**
 * A promise that rejects with a `rejected` PublishError when `signal`
 * aborts (and never settles without one), and a way to stop listening.
 */
function whenAborted(
  signal: AbortSignal | undefined,
  queue: string,
): { promise: Promise<never>; dispose(): void } {
  let fail: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    fail = () =>
      reject(new PublishError("rejected", `publish to ${queue} given up: the session ended`));
  });
  promise.catch(() => {});
  if (signal === undefined) return { promise, dispose() {} };
  if (signal.aborted) fail();
  else signal.addEventListener("abort", fail, { once: true });
  return { promise, dispose: () => signal.removeEventListener("abort", fail) };
}

/**
 * The confirm deadline. It does not run while the broker blocks the
 * connection: a blocked broker reads nothing, so no confirm can come, and
 * the wait is the alarm's, not a sign of a broken channel.
 */
class PausableDeadline {
  #leftMs: number;
  #startedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reject: ((err: PublishError) => void) | undefined;
  #queue = "";
  #unwatch: () => void;
  #promise: Promise<never> | undefined;

  constructor(readonly timeoutMs: number, flow: FlowControl | undefined) {
    this.#leftMs = timeoutMs;
    this.#unwatch = flow?.watch((blocked) => blocked === undefined ? this.#run() : this.#pause()) ??
      (() => {});
    if (flow?.blocked === undefined) this.#run();
  }

  /** Rejects when the deadline passes (the same promise on every call). */
  expired(queue: string): Promise<never> {
    this.#queue = queue;
    this.#promise ??= new Promise<never>((_, reject) => {
      this.#reject = reject;
      if (this.#leftMs <= 0) this.#fire();
    });
    return this.#promise;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unwatch();
  }

  #run(): void {
    if (this.#timer !== undefined) return;
    this.#startedAt = performance.now();
    this.#timer = setTimeout(() => {
      this.#leftMs = 0;
      this.#fire();
    }, Math.max(0, this.#leftMs));
  }

  #pause(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#leftMs -= performance.now() - this.#startedAt;
  }

  #fire(): void {
    this.#reject?.(
      new PublishError(
        "timeout",
        `no publisher confirm for ${this.#queue} within ${this.timeoutMs} ms`,
      ),
    );
  }
}

function lineOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
}
