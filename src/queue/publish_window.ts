/**
 * Many confirmed publishes at once, for the operator commands that send
 * thousands of messages (`enqueue`, `announce`): up to `size` publishes are
 * in flight unconfirmed, and each one is reported once, when the broker
 * confirmed it into a queue or when it failed. Every publish is persistent
 * JSON through the default exchange, `mandatory`, like `publishConfirmed`
 * (`publisher.ts`), which waits for each confirm in turn and suits one
 * message at a time.
 *
 * After the first failure (a nack, a returned message, a closed channel, a
 * confirm that did not come in time) no more is sent: {@linkcode
 * PublishWindow.send} throws it. The publishes already in flight still
 * settle, each within the deadline, so what is reported confirmed is exactly
 * what the broker confirmed.
 *
 * @module
 */

import { type PublishChannel, PublishError, type PublishProperties } from "./publisher.ts";

/** Default of {@linkcode PublishWindowOptions.size}. */
export const DEFAULT_WINDOW_SIZE = 256;

/** Options of {@linkcode PublishWindow}. */
export interface PublishWindowOptions {
  /** Publishes in flight at most. @default {DEFAULT_WINDOW_SIZE} */
  size?: number;
  /** How long each publish may wait for its confirm, in milliseconds. */
  timeoutMs: number;
  /**
   * The `messageId`s the broker returned as unroutable (the set of
   * `openConfirmChannel`); a returned publish fails instead of passing for done.
   */
  returned?: Set<string>;
  /**
   * The broker's reason while it blocks publishing on the connection (a
   * memory or disk alarm), else `undefined`: sending waits while it blocks,
   * and a confirm deadline that passes meanwhile starts over.
   * @default {never blocked}
   */
  blocked?: () => string | undefined;
  /** How often a blocked connection is checked, in milliseconds. @default {100} */
  blockedPollMs?: number;
  /** Ends the waits for a blocked broker (Ctrl-C): the window then fails. */
  signal?: AbortSignal | undefined;
}

/** One message to publish. */
export interface WindowMessage {
  /** The queue (routing key of the default exchange). */
  queue: string;
  /** The JSON body. */
  body: Uint8Array | string;
  /** Extra properties; `deliveryMode` is always 2, `messageId` is set when absent. */
  properties?: PublishProperties;
}

/**
 * Pipelined confirmed publishing on one confirm-mode channel.
 *
 * @example
 * ```ts
 * import { PublishWindow } from "./publish_window.ts";
 * const channel = { basicPublish: () => Promise.resolve(1) };
 * const window = new PublishWindow(channel, { timeoutMs: 1_000 });
 * let confirmed = 0;
 * for (let i = 0; i < 10; i++) {
 *   await window.send({ queue: "q", body: "{}" }, (err) => err ?? confirmed++);
 * }
 * await window.drain();
 * if (confirmed !== 10) throw new Error("unexpected");
 * ```
 */
export class PublishWindow {
  #channel: PublishChannel;
  #size: number;
  #timeoutMs: number;
  #returned: Set<string> | undefined;
  #blocked: () => string | undefined;
  #blockedPollMs: number;
  #signal: AbortSignal | undefined;
  #inFlight = 0;
  #failure: PublishError | undefined;
  #wake: (() => void) | undefined;

  /**
   * @param channel A channel in confirm mode.
   * @param options Window size, confirm deadline, returned ids.
   * @throws {RangeError} When `size` is not a positive integer.
   */
  constructor(channel: PublishChannel, options: PublishWindowOptions) {
    const {
      size = DEFAULT_WINDOW_SIZE,
      timeoutMs,
      returned,
      blocked = () => undefined,
      blockedPollMs = 100,
      signal,
    } = options;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot publish as 'size' must be a positive integer: current value is ${size}`,
      );
    }
    this.#channel = channel;
    this.#size = size;
    this.#timeoutMs = timeoutMs;
    this.#returned = returned;
    this.#blocked = blocked;
    this.#blockedPollMs = blockedPollMs;
    this.#signal = signal;
  }

  /** Publishes sent and not settled yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The first failure, once there is one; nothing more is sent after it. */
  get failure(): PublishError | undefined {
    return this.#failure;
  }

  /**
   * Sends one message once a slot is free. Returns when it is sent, not
   * when it is confirmed: `onSettled` says that, exactly once.
   *
   * @param message Queue, body and properties.
   * @param onSettled Called with `undefined` once the broker confirmed the
   * message into a queue, or with the reason it failed.
   * @returns When the message is sent.
   * @throws {PublishError} The window's first failure: the message was not sent.
   */
  async send(
    message: WindowMessage,
    onSettled: (error: PublishError | undefined) => void,
  ): Promise<void> {
    while (this.#inFlight >= this.#size && this.#failure === undefined) await this.#changed();
    // amqp-client refuses a publish at once while the broker blocks the connection.
    while (this.#failure === undefined && this.#blockedNow()) {
      await new Promise((resolve) => setTimeout(resolve, this.#blockedPollMs));
    }
    if (this.#failure === undefined && this.#signal?.aborted && this.#blocked() !== undefined) {
      this.#failure = new PublishError(
        "rejected",
        `publish to ${message.queue} given up: the broker blocks publishing (${this.#blocked()})`,
      );
    }
    if (this.#failure !== undefined) throw this.#failure;
    const { queue, body, properties = {} } = message;
    const messageId = properties.messageId ?? crypto.randomUUID();
    this.#inFlight++;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (error: PublishError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#inFlight--;
      if (error !== undefined) this.#failure ??= error;
      try {
        onSettled(error);
      } finally {
        this.#notify();
      }
    };
    const arm = () => {
      timer = setTimeout(() => {
        // A blocked broker reads nothing, so no confirm can come: wait for the alarm's end.
        if (this.#blockedNow()) return arm();
        settle(
          new PublishError(
            "timeout",
            `no publisher confirm for ${queue} within ${this.#timeoutMs / 1000} s`,
          ),
        );
      }, this.#timeoutMs);
    };
    arm();
    let published: Promise<unknown>;
    try {
      published = this.#channel.basicPublish("", queue, body, {
        contentType: "application/json",
        ...properties,
        messageId,
        deliveryMode: 2,
      }, true);
    } catch (err) {
      settle(
        new PublishError("rejected", `publish to ${queue} failed: ${lineOf(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    published.then(
      // RabbitMQ sends basic.return before the confirm of the same publish.
      () =>
        settle(
          this.#returned?.delete(messageId)
            ? new PublishError("unroutable", `publish to ${queue} returned: no such queue`)
            : undefined,
        ),
      (err) =>
        settle(
          new PublishError("rejected", `publish to ${queue} not confirmed: ${lineOf(err)}`, {
            cause: err,
          }),
        ),
    );
  }

  /**
   * Waits until every publish sent so far has settled (each within the
   * confirm deadline).
   *
   * @returns When nothing is in flight.
   */
  async drain(): Promise<void> {
    while (this.#inFlight > 0) await this.#changed();
  }

  /** Blocked, and the caller still waits for the end of it. */
  #blockedNow(): boolean {
    return this.#blocked() !== undefined && this.#signal?.aborted !== true;
  }

  #changed(): Promise<void> {
    return new Promise<void>((resolve) => {
      const previous = this.#wake;
      this.#wake = () => {
        previous?.();
        resolve();
      };
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

function lineOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
}
