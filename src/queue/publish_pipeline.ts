/**
 * Many confirmed publishes in flight at once, for the operator commands
 * that send thousands of messages (`enqueue`, `announce`, `dlq replay`): the
 * bulk counterpart of `publishConfirmed` (`publisher.ts`), which waits for
 * each confirm in turn and suits one message at a time. Every publish is
 * persistent and `mandatory`, through the default exchange, and up to
 * `window` of them await their confirm.
 *
 * **Every publish sent is reported once**, to its `onSettled`: with
 * `undefined` once the broker confirmed it into a queue, or with the
 * `PublishError` saying why not (`rejected`: a nack or a closed channel;
 * `unroutable`: the broker returned it; `timeout`: no confirm within
 * `timeoutMs`). That stays so after a failure: a publish the broker confirms
 * after another one failed is reported confirmed, because it is in the
 * queue. `enqueue` and `announce` need that: they count it as queued, and
 * tell the operator from where to re-send.
 *
 * **After the first failure nothing more is sent**: `publish` returns
 * `false`, and {@linkcode PublishPipeline.failure} holds the failure. It is
 * set before the `onSettled` of the failed publish runs, and stays set for
 * every later one. A caller that must not act on a confirm once anything
 * failed checks it there: `dlq replay` acks a dead letter only when its copy
 * was confirmed and `failure` is still unset, so a failed replay stops
 * removing dead letters at once (a copy may then exist twice; none is lost).
 *
 * **Flow control**, as in `publishConfirmed`: while the broker blocks
 * publishing (a memory or disk alarm, seen through a `FlowControl`),
 * `publish` waits instead of failing, and no confirm deadline runs.
 *
 * **A stop signal** (Ctrl-C) ends the waits without failing anything:
 * `publish` returns `false` from then on, what is in flight is still
 * reported (its deadline runs again even while the broker blocks), and the
 * caller reports the run as interrupted.
 *
 * @module
 */

import { errorLine } from "../core/errors.ts";
import {
  type FlowControl,
  notConfirmed,
  type PublishChannel,
  PublishError,
  type PublishProperties,
  returnedFailure,
  sendMandatory,
} from "./publisher.ts";

/** Default of {@linkcode PublishPipelineOptions.window}. */
export const DEFAULT_PUBLISH_WINDOW = 256;

/** Options of {@linkcode PublishPipeline}. */
export interface PublishPipelineOptions {
  /** Publishes awaiting their confirm at most. @default {DEFAULT_PUBLISH_WINDOW} */
  window?: number | undefined;
  /**
   * How long each publish may wait for its confirm, in milliseconds (the
   * time the broker blocks publishing does not count).
   */
  timeoutMs: number;
  /**
   * The `messageId`s the broker returned as unroutable on this channel
   * (`openConfirmChannel`'s set): a returned publish fails instead of passing for done.
   */
  returned?: Set<string> | undefined;
  /**
   * The flow control of the channel's connection, watched for the
   * pipeline's life: `publish` waits while the broker blocks publishing,
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

/** A message for {@linkcode PublishPipeline.publish}. */
export interface PipelineMessage {
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
 * Pipelined confirmed publishing on one confirm-mode channel.
 *
 * @example
 * ```ts
 * import { PublishPipeline } from "./publish_pipeline.ts";
 * const channel = { basicPublish: () => Promise.resolve(1) };
 * const pipeline = new PublishPipeline(channel, { timeoutMs: 1_000 });
 * let confirmed = 0;
 * for (let i = 0; i < 10; i++) {
 *   await pipeline.publish({ queue: "q", body: "{}" }, (err) => err ?? confirmed++);
 * }
 * await pipeline.drain();
 * if (confirmed !== 10 || pipeline.failure !== undefined) throw new Error("unexpected");
 * ```
 */
export class PublishPipeline {
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
  constructor(channel: PublishChannel, options: PublishPipelineOptions) {
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
    // One watcher for the pipeline's life (the connection's), not one per publish.
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
   * pipeline fails with that error.
   * @returns `true` when the message was taken (its `onSettled` runs or
   * ran); `false` when it was not sent: the pipeline had failed, or its
   * signal aborted.
   */
  async publish(message: PipelineMessage, onSettled: OnSettled): Promise<boolean> {
    while (!this.#stopped() && this.#inFlight >= this.#window) await this.#changed();
    // amqp-client refuses a publish at once while the broker blocks the connection.
    while (!this.#stopped() && this.#blocked()) await this.#changed();
    if (this.#stopped()) return false;
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
