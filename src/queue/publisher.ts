/**
 * Confirmed publishing, for the worker and every operator command: one
 * {@linkcode Publisher} per confirm-mode channel keeps up to `window`
 * publishes awaiting their confirm (the worker's window is its prefetch;
 * `enqueue`, `announce` and `dlq replay` send thousands). Every publish is
 * persistent and `mandatory`, through the default exchange; amqp-client's
 * `basicPublish` resolves on the broker's ack but never times out by itself,
 * so the publisher keeps one confirm deadline.
 *
 * **Every publish sent is reported once**: {@linkcode Publisher.send}
 * resolves once the broker confirmed it into a queue and rejects with the
 * `PublishError` saying why not (`rejected`: a nack or a closed channel;
 * `unroutable`: the broker returned it; `timeout`: no confirm within
 * `timeoutMs`); {@linkcode Publisher.publish} reports the same to a callback
 * and returns as soon as the message is sent. A publish the broker confirms
 * after another one failed is reported confirmed, because it is in the
 * queue: `enqueue` and `announce` count it as queued.
 *
 * **After the first failure nothing more is sent**, and
 * {@linkcode Publisher.failure} holds it. It is set before the failed
 * publish is reported, and stays set: `dlq replay` acks a dead letter only
 * when its copy was confirmed and `failure` is still unset, so a failed
 * replay stops removing dead letters at once (a copy may then exist twice;
 * none is lost). The worker ends its session on a failed publish.
 *
 * **Flow control**: while the broker blocks publishing (a memory or disk
 * alarm, seen through a `FlowControl`), a publish waits instead of failing,
 * and no confirm deadline runs: a blocked broker reads nothing.
 *
 * **A stop signal** (Ctrl-C, the end of a session) ends the waits without
 * failing anything: nothing more is sent, what is in flight is still
 * reported (its deadline runs again even while the broker blocks).
 *
 * @module
 */

import { errorLine, NamedError } from "../core/errors.ts";

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

/** The channel operation a {@linkcode Publisher} needs (from a channel in confirm mode). */
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
export class PublishError extends NamedError {
  /**
   * @param reason `timeout`: no confirm in time; `rejected`: nack or closed
   * channel; `unroutable`: the broker returned it (the queue does not exist).
   * The message is one line, for logs.
   */
  constructor(readonly reason: PublishFailure, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Default of {@linkcode PublisherOptions.window}. */
export const DEFAULT_PUBLISH_WINDOW = 256;

/** Options of {@linkcode Publisher}. */
export interface PublisherOptions {
  /** Publishes awaiting their confirm at most. @default {DEFAULT_PUBLISH_WINDOW} */
  window?: number | undefined;
  /**
   * How long each publish may wait for its confirm, in milliseconds (the
   * time the broker blocks publishing does not count).
   */
  timeoutMs: number;
  /**
   * The `messageId`s the broker returned as unroutable on this channel
   * (`Broker.confirmChannel`'s set): a returned publish fails instead of passing for done.
   */
  returned?: Set<string> | undefined;
  /**
   * The flow control of the channel's connection, watched for the
   * publisher's life: `publish` waits while the broker blocks publishing,
   * and the confirm deadlines pause. @default {never blocked}
   */
  flow?: FlowControl | undefined;
  /**
   * Stops the waits (Ctrl-C): `publish` then returns `false` instead of
   * waiting for room or for the broker to unblock, and the confirm deadlines
   * run even while the broker blocks publishing (so `drain` ends). It fails
   * nothing: the caller reports the interruption.
   */
  signal?: AbortSignal | undefined;
}

/** A message for {@linkcode Publisher.publish} and {@linkcode Publisher.send}. */
export interface PublisherMessage {
  /** The queue (routing key of the default exchange). */
  queue: string;
  /** The body. */
  body: Uint8Array | string;
  /** Properties, as they are; `deliveryMode` is always 2, `messageId` is set when missing. */
  properties?: PublishProperties;
}

/** Receives the fate of one publish: `undefined` once confirmed into a queue, else why not. */
export type OnSettled = (error: PublishError | undefined) => void;

/** A publish in flight: when it was sent (on the flow clock), and how it times out. */
interface Pending {
  sentAt: number;
  /** Settles it as timed out; `undefined` once it has settled. */
  expire: (() => void) | undefined;
}

/**
 * Confirmed publishing on one confirm-mode channel, up to `window` at once.
 *
 * @example
 * ```ts
 * import { Publisher } from "./publisher.ts";
 * const channel = { basicPublish: () => Promise.resolve(1) };
 * const publisher = new Publisher(channel, { timeoutMs: 1_000 });
 * let confirmed = 0;
 * for (let i = 0; i < 10; i++) {
 *   await publisher.publish({ queue: "q", body: "{}" }, (err) => err ?? confirmed++);
 * }
 * await publisher.drain();
 * if (confirmed !== 10 || publisher.failure !== undefined) throw new Error("unexpected");
 * ```
 */
export class Publisher {
  #channel: PublishChannel;
  #window: number;
  #timeoutMs: number;
  #returned: Set<string> | undefined;
  #flow: FlowControl | undefined;
  #signal: AbortSignal | undefined;
  #inFlight = 0;
  #failure: PublishError | undefined;
  #waiters: (() => void)[] = [];
  /**
   * The publishes in flight, oldest first. They all get `timeoutMs`, so their
   * deadlines pass in this order and one timer serves them all.
   */
  #pending: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** While the broker blocks publishing: since when (the flow clock stands still). */
  #blockedSince: number | undefined;
  /** Time the broker blocked publishing so far, left out of every deadline. */
  #blockedMs = 0;

  /**
   * @param channel A channel in confirm mode.
   * @param options The window, the confirm deadline, the returned ids, the flow control, the signal.
   * @throws {RangeError} When `window` is not a positive integer.
   */
  constructor(channel: PublishChannel, options: PublisherOptions) {
    const { window = DEFAULT_PUBLISH_WINDOW, timeoutMs, returned, flow, signal } = options;
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(
        `Cannot publish as 'window' must be a positive integer: current value is ${window}`,
      );
    }
    this.#channel = channel;
    this.#window = window;
    this.#timeoutMs = timeoutMs;
    this.#returned = returned;
    this.#flow = flow;
    this.#signal = signal;
    // One watcher for the publisher's life (the connection's), not one per publish.
    flow?.watch(() => this.#flowChanged());
    signal?.addEventListener("abort", () => this.#flowChanged(), { once: true });
    this.#flowChanged();
  }

  /** Publishes sent and not settled yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The first failure, once there is one; nothing is sent after it. */
  get failure(): PublishError | undefined {
    return this.#failure;
  }

  /**
   * Waits for room in the window (and while the broker blocks publishing),
   * then sends. Returns once the message is sent, not once it is confirmed:
   * `onSettled` says that, exactly once.
   *
   * @param message The queue, body and properties.
   * @param onSettled Called with `undefined` once the broker confirmed the
   * message into a queue, or with the reason it failed. If it throws, the
   * publisher fails with that error.
   * @param signal Stops waiting for room or for the end of a broker alarm
   * (this message only).
   * @returns `true` when the message was taken (its `onSettled` runs or
   * ran); `false` when it was not sent: the publisher had failed, or its
   * signal aborted.
   */
  async publish(
    message: PublisherMessage,
    onSettled: OnSettled,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const stopped = () => this.#stopped() || signal?.aborted === true;
    while (!stopped() && this.#inFlight >= this.#window) await this.#changed();
    // amqp-client refuses a publish at once while the broker blocks the connection.
    while (!stopped() && this.#blocked()) await this.#changed();
    if (stopped()) return false;
    const { queue, body, properties = {} } = message;
    const messageId = properties.messageId ?? crypto.randomUUID();
    this.#inFlight++;
    const pending: Pending = {
      sentAt: this.#clock(),
      expire: () =>
        settle(
          new PublishError(
            "timeout",
            `no publisher confirm for ${queue} within ${this.#timeoutMs / 1000} s`,
          ),
        ),
    };
    const settle = (error: PublishError | undefined) => {
      if (pending.expire === undefined) return;
      pending.expire = undefined;
      this.#dropSettled();
      this.#inFlight--;
      if (error !== undefined) this.#failure ??= error;
      try {
        onSettled(error);
      } catch (err) {
        this.#failure ??= new PublishError(
          "rejected",
          `after the confirm of a publish to ${queue}: ${errorLine(err)}`,
          { cause: err },
        );
      } finally {
        this.#wakeAll();
      }
    };
    this.#pending.push(pending);
    this.#arm();
    let published: Promise<unknown>;
    try {
      // The blocked state was checked in this same turn: the client takes the publish.
      published = sendMandatory(this.#channel, { queue, body, properties, messageId });
    } catch (err) {
      settle(err instanceof PublishError ? err : notConfirmed(queue, err));
      return true;
    }
    published.then(
      () => settle(returnedFailure(this.#returned, { queue, messageId })),
      (err) => settle(notConfirmed(queue, err)),
    );
    return true;
  }

  /**
   * Publishes one message and waits for its fate: the awaitable form of
   * {@linkcode Publisher.publish}, for one message at a time (the worker's
   * announcements and dead letters).
   *
   * @param message The queue, body and properties.
   * @param options `signal`: gives up waiting (for room, for the end of a
   * broker alarm, or for the confirm); the message may still be confirmed
   * later, so the caller must not act as if it was not sent.
   * @returns When the broker confirmed the message into a queue.
   * @throws {PublishError} Why it was not confirmed: `rejected` also when
   * it was given up (the publisher stopped or failed before, or `signal`
   * aborted).
   */
  async send(message: PublisherMessage, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    const { queue } = message;
    const givenUp = () => new PublishError("rejected", `publish to ${queue} given up: ${why()}`);
    const why = () =>
      signal?.aborted === true
        ? "stopped"
        : this.#failure !== undefined
        ? `an earlier publish failed (${this.#failure.message})`
        : "the publisher stopped";
    let settled: (error: PublishError | undefined) => void = () => {};
    const fate = new Promise<PublishError | undefined>((resolve) => settled = resolve);
    let onAbort: () => void = () => {};
    const aborted = new Promise<PublishError>((resolve) => onAbort = () => resolve(givenUp()));
    if (signal?.aborted) throw givenUp();
    signal?.addEventListener("abort", onAbort, { once: true });
    // The per-message signal must end the waits for room and for the unblock too.
    const wake = () => this.#wakeAll();
    signal?.addEventListener("abort", wake, { once: true });
    try {
      const sent = await this.publish(message, settled, signal);
      if (!sent) throw givenUp();
      const error = await Promise.race([fate, aborted]);
      if (error !== undefined) throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      signal?.removeEventListener("abort", wake);
    }
  }

  /**
   * Waits until every publish sent so far has settled (each within its
   * confirm deadline), failed or not.
   *
   * @returns When nothing is in flight.
   */
  async drain(): Promise<void> {
    while (this.#inFlight > 0) await this.#changed();
  }

  #stopped(): boolean {
    return this.#failure !== undefined || this.#signal?.aborted === true;
  }

  /**
   * The broker blocks publishing, and the caller still waits for the end of
   * it: once the signal aborted it counts as unblocked, so no wait and no
   * paused deadline outlives a Ctrl-C.
   */
  #blocked(): boolean {
    return this.#flow?.blocked !== undefined && this.#signal?.aborted !== true;
  }

  /** The broker blocked or unblocked publishing, or the signal aborted. */
  #flowChanged(): void {
    const blocked = this.#blocked();
    if (blocked && this.#blockedSince === undefined) {
      this.#blockedSince = performance.now();
      this.#disarm();
    } else if (!blocked && this.#blockedSince !== undefined) {
      this.#blockedMs += performance.now() - this.#blockedSince;
      this.#blockedSince = undefined;
      this.#arm();
    }
    if (!blocked) this.#wakeAll();
  }

  /** Milliseconds, not counting the time the broker blocked publishing. */
  #clock(): number {
    return (this.#blockedSince ?? performance.now()) - this.#blockedMs;
  }

  /** Sets the timer for the oldest publish in flight, unless set or blocked. */
  #arm(): void {
    const oldest = this.#pending[0];
    if (oldest === undefined || this.#timer !== undefined || this.#blockedSince !== undefined) {
      return;
    }
    const left = oldest.sentAt + this.#timeoutMs - this.#clock();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expire();
    }, Math.max(0, left));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Times out every publish whose deadline has passed; sets the timer for the next one. */
  #expire(): void {
    const now = this.#clock();
    for (;;) {
      const oldest = this.#pending[0];
      if (oldest === undefined || oldest.sentAt + this.#timeoutMs > now) break;
      // Settling drops it from `#pending`.
      if (oldest.expire === undefined) this.#pending.shift();
      else oldest.expire();
    }
    this.#arm();
  }

  /** Drops the settled publishes at the front; no timer is left once nothing is in flight. */
  #dropSettled(): void {
    while (this.#pending[0]?.expire === undefined && this.#pending.length > 0) {
      this.#pending.shift();
    }
    if (this.#pending.length === 0) this.#disarm();
  }

  /** Waits for the next settle, unblock or abort; the waiter rechecks. */
  #changed(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
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

function lineOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
}
