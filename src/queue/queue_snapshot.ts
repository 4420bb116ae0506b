/**
 * Reading a queue without disturbing it: take the messages that are in it
 * now, in order, without acking any. What the caller does not ack goes
 * back when the snapshot closes its channels, or when the connection drops
 * (a `kill -9`, a lost broker): RabbitMQ puts requeued messages of a
 * classic queue back at their original positions, so a queue read this way
 * is left exactly as it was, apart from the redelivered flag. A quorum
 * queue (RabbitMQ 3.10) puts them in front of the messages it never
 * delivered, in the order they come back, each channel's in order, and
 * raises their `x-delivery-count`: the channels are closed oldest first, so
 * the order holds there too. When the node of the connection is lost,
 * RabbitMQ 3.10 returns the messages of the channel still consuming at
 * once, and those of channels whose consumer was cancelled (see below) only
 * when the queue's leader changes: each chunk keeps its order, the chunks
 * may not. Messages the
 * caller acks (after publishing a copy elsewhere, say) leave the queue; the
 * others keep their order around the gaps.
 *
 * How: the ready count N comes from a passive declare; an exclusive
 * consumer with manual acks takes the first N deliveries (later arrivals go
 * back too). Exclusive: a second reader at the same time fails at once
 * instead of splitting the queue with this one.
 *
 * The deliveries are spread over channels of `chunk` messages each (the
 * consumer moves to a fresh channel after `chunk` deliveries), because
 * RabbitMQ finds the delivery an ack names by walking the channel's unacked
 * deliveries from the oldest: with chunks, an ack walks at most one chunk,
 * and each channel's close requeues its messages in one step
 * (`scripts/bench_dlq.ts` measures it).
 *
 * @module
 */

import type { AMQPChannel, AMQPConsumer, AMQPMessage } from "amqp-client";
import { errorLine } from "../core/errors.ts";
import { CLOSE_STEP_TIMEOUT_MS, withTimeout } from "./broker.ts";

/** What a snapshot needs of a connection: fresh channels. */
export interface ChannelSource {
  /** Opens a channel. */
  channel(): Promise<AMQPChannel>;
}

/** Default of {@linkcode SnapshotOptions.idleMs}. */
export const DEFAULT_SNAPSHOT_IDLE_MS = 2_000;

/** Default of {@linkcode SnapshotOptions.chunk}. */
export const DEFAULT_SNAPSHOT_CHUNK = 512;

/** Options of {@linkcode snapshotQueue}. */
export interface SnapshotOptions {
  /**
   * When no delivery came for this long, the queue is asked whether more
   * are ready; when none are (someone else removed some), the snapshot ends
   * short instead of waiting forever.
   * @default {DEFAULT_SNAPSHOT_IDLE_MS}
   */
  idleMs?: number;
  /**
   * Deliveries per channel (also the channel's prefetch). Raised for big
   * queues so that no more than about 1,000 channels are used.
   * @default {DEFAULT_SNAPSHOT_CHUNK}
   */
  chunk?: number;
}

/** The messages a queue held when {@linkcode snapshotQueue} started, taken unacked. */
export interface QueueSnapshot extends AsyncIterable<AMQPMessage> {
  /** Ready messages when the snapshot started: the most it takes. */
  readonly expected: number;
  /**
   * Whether the snapshot ended before taking `expected` messages because the
   * queue had no more ready (another client removed some meanwhile).
   */
  readonly short: boolean;
  /**
   * Stops taking: iteration ends after the messages already yielded. What
   * was taken stays unacked until the caller acks it or closes the snapshot.
   */
  stop(): void;
  /**
   * Stops taking and closes the snapshot's channels, oldest first: every
   * message not acked goes back to the queue, in place (a quorum queue takes
   * them back in the order they come). Ack messages (on
   * their own channel, `message.ack()`) before this, never after.
   *
   * @returns When the broker answered the closes (or each gave up after a few seconds).
   */
  close(): Promise<void>;
}

/**
 * Starts taking the messages of `queue`, unacked, in queue order. Iterate
 * the result to get them; iteration throws when a channel or the connection
 * is lost. Close it when done.
 *
 * @param client A connected client.
 * @param queue The queue.
 * @param options Chunk size and when to ask the queue whether more messages are coming.
 * @returns The snapshot.
 * @throws The channel's error when the queue does not exist (404) or is
 * being consumed by someone else (403, exclusive use).
 *
 * @example
 * ```ts ignore
 * import { snapshotQueue } from "./queue_snapshot.ts";
 * const snapshot = await snapshotQueue(client, "dlq.telemetry.prod");
 * for await (const message of snapshot) console.log(message.bodyString());
 * await snapshot.close(); // every message is back, in order
 * ```
 */
export async function snapshotQueue(
  client: ChannelSource,
  queue: string,
  options: SnapshotOptions = {},
): Promise<QueueSnapshot> {
  const { idleMs = DEFAULT_SNAPSHOT_IDLE_MS, chunk = DEFAULT_SNAPSHOT_CHUNK } = options;
  const control = await client.channel();
  let snapshot: Snapshot | undefined;
  try {
    const { messageCount } = await control.queueDeclare(queue, { passive: true });
    snapshot = new Snapshot({
      client,
      control,
      queue,
      expected: messageCount,
      idleMs,
      // At most about 1,000 channels (RabbitMQ allows 2,047 per connection by default).
      chunk: Math.min(65_535, Math.max(chunk, Math.ceil(messageCount / 1_000))),
    });
    await snapshot.start();
    return snapshot;
  } catch (err) {
    if (snapshot !== undefined) await snapshot.close();
    else if (!control.closed) await withTimeout(control.close(), CLOSE_STEP_TIMEOUT_MS);
    throw err;
  }
}

/** One channel of the snapshot and its consumer. */
interface Part {
  channel: AMQPChannel;
  consumer?: AMQPConsumer;
  delivered: number;
  cancelling?: Promise<unknown>;
}

class Snapshot implements QueueSnapshot {
  readonly expected: number;
  #client: ChannelSource;
  #control: AMQPChannel;
  #queue: string;
  #chunk: number;
  #idleMs: number;
  #parts: Part[] = [];
  #taken = 0;
  #short = false;
  #buffer: AMQPMessage[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;
  #rotating: Promise<void> | undefined;
  #lastDelivery = performance.now();

  constructor(
    options: {
      client: ChannelSource;
      control: AMQPChannel;
      queue: string;
      expected: number;
      idleMs: number;
      chunk: number;
    },
  ) {
    this.#client = options.client;
    this.#control = options.control;
    this.#queue = options.queue;
    this.expected = options.expected;
    this.#idleMs = options.idleMs;
    this.#chunk = options.chunk;
    if (this.expected === 0) this.#ended = true;
  }

  get short(): boolean {
    return this.#short;
  }

  /** Opens the first channel and consumer (nothing to do for an empty queue). */
  async start(): Promise<void> {
    if (!this.#ended) await this.#openPart();
  }

  stop(): void {
    this.#buffer.length = 0;
    this.#end();
  }

  async close(): Promise<void> {
    this.#end();
    await this.#rotating?.catch(() => {});
    await Promise.all(this.#parts.map((part) => part.cancelling));
    // Oldest first: a quorum queue puts what comes back in the order it
    // comes (a classic queue puts it in place whatever the order).
    for (const part of this.#parts) {
      if (!part.channel.closed) await withTimeout(part.channel.close(), CLOSE_STEP_TIMEOUT_MS);
    }
    if (!this.#control.closed) {
      await withTimeout(this.#control.close(), CLOSE_STEP_TIMEOUT_MS);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AMQPMessage> {
    for (;;) {
      const message = this.#buffer.shift();
      if (message !== undefined) {
        if (this.#buffer.length <= this.#chunk) this.#makeRoom();
        yield message;
        continue;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return;
      await this.#waitForDelivery();
    }
  }

  async #openPart(): Promise<void> {
    const channel = await this.#client.channel();
    const part: Part = { channel, delivered: 0 };
    this.#parts.push(part);
    await channel.basicQos(this.#chunk);
    part.consumer = await channel.basicConsume(
      this.#queue,
      { noAck: false, exclusive: true },
      (message) => this.#push(message, part),
    );
    part.consumer.wait().catch((err) => this.#fail(err));
    if (this.#ended) this.#cancel(part);
  }

  #push(message: AMQPMessage, part: Part): void {
    // Deliveries beyond the snapshot (new arrivals) stay unacked and go back in place.
    if (this.#ended || this.#taken >= this.expected) return;
    this.#taken++;
    part.delivered++;
    this.#lastDelivery = performance.now();
    this.#buffer.push(message);
    if (this.#taken === this.expected) this.#end();
    else if (part.delivered === this.#chunk) this.#rotate(part);
    this.#wake?.();
  }

  /** Moves the consumer to a fresh channel once the broker stopped sending to this one. */
  #rotate(part: Part): void {
    const previous = this.#rotating ?? Promise.resolve();
    this.#rotating = previous.then(async () => {
      this.#cancel(part);
      await part.cancelling;
      // At most about two chunks wait in memory, however slow the caller.
      while (!this.#ended && this.#buffer.length > this.#chunk) {
        await new Promise<void>((resolve) => this.#room = resolve);
      }
      if (!this.#ended) await this.#openPart();
    }).catch((err) => this.#fail(err));
  }

  /** Waits for a delivery, the end, or an idle period after which it asks the queue. */
  async #waitForDelivery(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = await new Promise<boolean>((resolve) => {
      this.#wake = () => resolve(false);
      const left = this.#idleMs - (performance.now() - this.#lastDelivery);
      timer = setTimeout(() => resolve(true), Math.max(0, left));
    });
    clearTimeout(timer);
    this.#wake = undefined;
    if (!idle || this.#ended || this.#buffer.length > 0) return;
    let ready: number;
    try {
      ready = (await this.#control.queueDeclare(this.#queue, { passive: true })).messageCount;
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (ready === 0 && this.#buffer.length === 0 && !this.#ended) {
      this.#short = true;
      this.#end();
    }
    this.#lastDelivery = performance.now();
  }

  #end(): void {
    if (this.#ended && this.#parts.every((part) => part.cancelling !== undefined)) return;
    this.#ended = true;
    for (const part of this.#parts) this.#cancel(part);
    this.#wake?.();
    this.#makeRoom();
  }

  #fail(err: unknown): void {
    // Once every message is taken (or the caller stopped), a lost channel is
    // the caller's to notice: the messages it already has are the snapshot.
    if (this.#ended) return;
    this.#error = err instanceof Error ? err : new Error(errorLine(err));
    this.#ended = true;
    this.#wake?.();
    this.#makeRoom();
  }

  #makeRoom(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  /** No more deliveries on this channel; what it holds stays until its close. */
  #cancel(part: Part): void {
    if (part.consumer === undefined || part.cancelling !== undefined) return;
    part.cancelling = part.channel.closed
      ? Promise.resolve()
      : part.consumer.cancel().catch(() => {});
  }
}
