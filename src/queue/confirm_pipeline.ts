/**
 * Many confirmed, mandatory publishes in flight at once: the bulk
 * counterpart of `publishConfirmed` (one publish, one round trip), for
 * commands that move thousands of messages (`dlq replay`). A window bounds
 * the publishes awaiting their confirm; each one's `onConfirmed` runs once
 * the broker confirmed it into a queue, which is when the caller may ack
 * the original.
 *
 * It stays on the safe side: after the first failure (a nack, a returned
 * publish, a closed channel, no confirm for `timeoutMs`) no further
 * `onConfirmed` runs, so nothing is acked whose copy is not known to be
 * queued. A copy may then exist twice (the original is still where it
 * was); none is lost.
 *
 * @module
 */

import { errorLine } from "../core/errors.ts";
import type { PublishProperties } from "./publisher.ts";

/** Default of {@linkcode ConfirmPipelineOptions.window}. */
export const DEFAULT_CONFIRM_WINDOW = 256;

/** The channel operations the pipeline needs (a subset of amqp-client's `AMQPChannel`, in confirm mode). */
export interface PipelineChannel {
  /** Publishes; resolves on the broker's confirm, rejects on a nack or a closed channel. */
  basicPublish(
    exchange: string,
    routingKey: string,
    body: Uint8Array | string,
    properties?: PublishProperties,
    mandatory?: boolean,
  ): Promise<unknown>;
  /** The connection: its `blocked` reason is set while the broker blocks publishing. */
  readonly connection: { readonly blocked?: string | undefined };
}

/** Options of {@linkcode ConfirmPipeline}. */
export interface ConfirmPipelineOptions {
  /** Publishes awaiting their confirm at most. @default {DEFAULT_CONFIRM_WINDOW} */
  window?: number;
  /**
   * How long the broker may go without confirming anything while publishes
   * are in flight (the time it blocks publishing does not count).
   */
  timeoutMs: number;
  /**
   * The `messageId`s the broker returned as unroutable on this channel
   * (`openConfirmChannel`'s set). A return makes the pipeline fail.
   */
  returned: Set<string>;
  /** How often a blocked connection is checked. @default {100} */
  blockedPollMs?: number;
  /**
   * Stops waiting: `publish` then returns `false` instead of waiting for
   * room or for the broker to unblock, and the confirm deadline runs even
   * while the broker blocks publishing (so `drain` ends).
   */
  signal?: AbortSignal | undefined;
}

/** A message for {@linkcode ConfirmPipeline.publish}. */
export interface PipelineMessage {
  /** The queue, through the default exchange. */
  queue: string;
  /** The body. */
  body: Uint8Array | string;
  /** Properties; `deliveryMode` is always 2, `messageId` is set when missing. */
  properties: PublishProperties;
}

/**
 * Publishes with up to `window` confirms outstanding.
 *
 * @example
 * ```ts ignore
 * import { ConfirmPipeline } from "./confirm_pipeline.ts";
 * const pipeline = new ConfirmPipeline(channel, { timeoutMs: 30_000, returned });
 * for (const message of deliveries) {
 *   const body = message.body ?? new Uint8Array();
 *   await pipeline.publish({ queue: "match.telemetry.prod", body, properties: {} }, () => {
 *     message.ack();
 *   });
 * }
 * await pipeline.drain();
 * if (pipeline.failure !== undefined) console.error(pipeline.failure);
 * ```
 */
export class ConfirmPipeline {
  #channel: PipelineChannel;
  #window: number;
  #timeoutMs: number;
  #returned: Set<string>;
  #blockedPollMs: number;
  #signal: AbortSignal | undefined;
  #inFlight = 0;
  #failure: string | undefined;
  #waiters: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastProgress = 0;

  /**
   * @param channel A channel in confirm mode.
   * @param options The window, the confirm deadline and the returned ids.
   */
  constructor(channel: PipelineChannel, options: ConfirmPipelineOptions) {
    const {
      window = DEFAULT_CONFIRM_WINDOW,
      timeoutMs,
      returned,
      blockedPollMs = 100,
      signal,
    } = options;
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(
        `Cannot publish as 'window' must be a positive integer: current value is ${window}`,
      );
    }
    this.#channel = channel;
    this.#window = window;
    this.#timeoutMs = timeoutMs;
    this.#returned = returned;
    this.#blockedPollMs = blockedPollMs;
    this.#signal = signal;
    signal?.addEventListener("abort", () => this.#wakeAll(), { once: true });
  }

  /** Why the pipeline failed (one line), or `undefined` while it works. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Publishes awaiting their confirm. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Waits for room in the window (and while the broker blocks publishing),
   * then publishes `mandatory` and persistent.
   *
   * @param message The queue, body and properties.
   * @param onConfirmed Runs once the broker confirmed the message into a
   * queue, and only if the pipeline has not failed by then.
   * @returns Whether it was published; `false` once the pipeline failed or
   * its signal aborted.
   */
  async publish(message: PipelineMessage, onConfirmed: () => void): Promise<boolean> {
    const stopped = () => this.#failure !== undefined || this.#signal?.aborted === true;
    while (!stopped() && this.#inFlight >= this.#window) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    while (!stopped() && this.#channel.connection.blocked !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, this.#blockedPollMs));
    }
    if (stopped()) return false;
    const { queue, body, properties } = message;
    const messageId = properties.messageId ?? crypto.randomUUID();
    let published: Promise<unknown>;
    try {
      // Checked just above, in the same turn: the client cannot be blocked now.
      published = this.#channel.basicPublish("", queue, body, {
        ...properties,
        messageId,
        deliveryMode: 2,
      }, true);
    } catch (err) {
      this.fail(`publish to ${queue} failed: ${errorLine(err)}`);
      return false;
    }
    if (this.#inFlight++ === 0) this.#lastProgress = performance.now();
    this.#arm();
    published.then(
      () => {
        this.#lastProgress = performance.now();
        if (this.#failure !== undefined) return;
        // RabbitMQ sends a basic.return before the confirm of the same publish.
        if (this.#returned.size > 0) {
          this.fail(`publish to ${queue} returned by the broker: no such queue`);
          return;
        }
        try {
          onConfirmed();
        } catch (err) {
          this.fail(`after the confirm of a publish to ${queue}: ${errorLine(err)}`);
        }
      },
      (err) => this.fail(`publish to ${queue} not confirmed: ${errorLine(err)}`),
    ).finally(() => {
      this.#inFlight--;
      this.#wakeOne();
    });
    return true;
  }

  /**
   * Waits until every publish is confirmed, or the pipeline failed (then
   * the publishes still in flight are abandoned: their originals must not be acked).
   *
   * @returns When nothing is in flight, or on failure.
   */
  async drain(): Promise<void> {
    while (this.#inFlight > 0 && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#disarm();
  }

  /**
   * Makes the pipeline fail: no further publish, no further `onConfirmed`.
   *
   * @param reason One line; the first reason is kept.
   */
  fail(reason: string): void {
    this.#failure ??= reason;
    this.#disarm();
    this.#wakeAll();
  }

  #wakeOne(): void {
    // Both publishers waiting for a slot and drain() wait here: wake them all, they recheck.
    this.#wakeAll();
    if (this.#inFlight === 0) this.#disarm();
  }

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The confirm deadline: one timer, rechecked when it fires. */
  #arm(): void {
    if (this.#timer !== undefined || this.#failure !== undefined) return;
    const left = this.#lastProgress + this.#timeoutMs - performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#inFlight === 0 || this.#failure !== undefined) return;
      const blocked = this.#channel.connection.blocked !== undefined &&
        this.#signal?.aborted !== true;
      if (blocked || performance.now() - this.#lastProgress < this.#timeoutMs) {
        if (blocked) this.#lastProgress = performance.now();
        this.#arm();
        return;
      }
      this.fail(`no publisher confirm within ${this.#timeoutMs / 1000} s`);
    }, Math.max(0, left));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
