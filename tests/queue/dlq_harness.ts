/**
 * Test support for the `dlq` commands: an environment whose dead-letter
 * queue is filled with numbered dead letters (headers as the worker writes
 * them), read back in one fast pass, and removed at the end.
 *
 * Dead letter `i` has the body `{"match_id":"dl-<i>", ...}`, so the order of
 * a queue is the order of the numbers read from it.
 *
 * @module
 */

import { type AMQPChannel, AMQPClient, type AMQPMessage, type Field } from "amqp-client";
import { type BrokerSettings, resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { deadLetterHeaders, type Failure } from "../../src/queue/messages.ts";
import type { TopologyNames } from "../../src/queue/topology.ts";
import { testBrokerUrl } from "../support/test_broker.ts";
import { randomEnv, TestBroker, waitFor } from "./harness.ts";

/** How one numbered dead letter looks. */
export interface LetterSpec {
  /** `x-error-kind`. */
  kind: Failure["kind"];
  /** `x-error`. @default {`failure <i>`} */
  error?: string;
  /** `x-failed-at` is this long ago. @default {0} */
  ageMs?: number;
}

/** A test environment with a filled dead-letter queue. */
export class DeadLetterEnv {
  /** The `--env` value. */
  readonly env: string;
  /** The broker settings of the environment (as the CLI resolves them). */
  readonly broker: BrokerSettings;
  /** The broker URL, for `--amqp-url`. */
  readonly url: string;
  #topology: TestBroker;
  #client: AMQPClient | undefined;
  #channel: AMQPChannel | undefined;

  private constructor(env: string, url: string, topology: TestBroker) {
    this.env = env;
    this.url = url;
    this.broker = resolveBrokerSettings({ env, amqpUrl: url }, {});
    this.#topology = topology;
  }

  /** A fresh environment with the worker's topology declared. */
  static async open(): Promise<DeadLetterEnv> {
    const env = randomEnv();
    const url = await testBrokerUrl();
    return new DeadLetterEnv(env, url, await TestBroker.open(env));
  }

  /** The names of the environment's queues. */
  get names(): BrokerSettings["names"] {
    return this.broker.names;
  }

  /** The test's channel (confirm mode), reconnecting after a broker restart. */
  async channel(): Promise<AMQPChannel> {
    if (this.#client === undefined || this.#client.closed) {
      this.#client = new AMQPClient(this.broker.amqpUrl);
      await this.#client.connect();
      this.#channel = undefined;
    }
    if (this.#channel === undefined || this.#channel.closed) {
      this.#channel = await this.#client.channel();
      await this.#channel.confirmSelect();
    }
    return this.#channel;
  }

  /**
   * Publishes dead letters numbered from `first`, persistent, confirmed,
   * with the headers `deadLetterHeaders` writes.
   */
  async fill(specs: LetterSpec[], first = 0): Promise<void> {
    await publishDeadLetters(await this.channel(), { names: this.names, specs, first });
  }

  /** Ready messages in a queue. */
  async count(queue: string): Promise<number> {
    return (await (await this.channel()).queueDeclare(queue, { passive: true })).messageCount;
  }

  /** Consumers of a queue. */
  async consumers(queue: string): Promise<number> {
    return (await (await this.channel()).queueDeclare(queue, { passive: true })).consumerCount;
  }

  /**
   * Waits until nothing consumes the queue and its ready count stops
   * changing (a killed client's messages are back).
   */
  async settled(queue: string, options: { atLeast?: number } = {}): Promise<number> {
    const { atLeast = 0 } = options;
    let last = -1;
    await waitFor(async () => {
      const ok = await (await this.channel()).queueDeclare(queue, { passive: true });
      const stable = ok.consumerCount === 0 && ok.messageCount === last &&
        ok.messageCount >= atLeast;
      last = ok.messageCount;
      if (!stable) await new Promise((r) => setTimeout(r, 100));
      return stable;
    }, { what: `${queue} settled`, timeoutMs: 30_000 });
    return last;
  }

  /** Deletes a queue (as an operator might). */
  async deleteQueue(queue: string): Promise<void> {
    await (await this.channel()).queueDelete(queue);
  }

  /** Takes every message of a queue (removing them), in order. */
  async drain(queue: string): Promise<AMQPMessage[]> {
    const channel = await this.channel();
    const count = await this.count(queue);
    const messages: AMQPMessage[] = [];
    if (count === 0) return messages;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => done = resolve);
    const consumer = await channel.basicConsume(queue, { noAck: true }, (message) => {
      messages.push(message);
      if (messages.length === count) done();
    });
    await all;
    await consumer.cancel();
    return messages;
  }

  /** The numbers of the dead letters in a queue, in order (removing them). */
  async numbers(queue: string): Promise<number[]> {
    return (await this.drain(queue)).map(numberOf);
  }

  /** The numbers in the job queue and in the DLQ, in order (removing them). */
  async contents(): Promise<{ queue: number[]; deadLetters: number[] }> {
    return {
      queue: await this.numbers(this.names.queue),
      deadLetters: await this.numbers(this.names.deadLetterQueue),
    };
  }

  /** Deletes the environment's queues and exchange and closes the connections. */
  async cleanup(): Promise<void> {
    if (this.#client !== undefined && !this.#client.closed) await this.#client.close();
    await this.#topology.cleanup();
  }
}

/** Runs `fn` with a fresh environment ({@linkcode DeadLetterEnv.open}), always cleaned up. */
export async function withDlq(fn: (dlq: DeadLetterEnv) => Promise<void>): Promise<void> {
  const dlq = await DeadLetterEnv.open();
  try {
    await fn(dlq);
  } finally {
    await dlq.cleanup();
  }
}

/** Runs `fn` with a fresh environment whose DLQ holds `n` dead letters, {@linkcode alternating}. */
export async function withLetters(
  n: number,
  fn: (dlq: DeadLetterEnv) => Promise<void>,
): Promise<void> {
  await withDlq(async (dlq) => {
    await dlq.fill(letters(n, alternating));
    await fn(dlq);
  });
}

/** Transient for even numbers, permanent for odd ones (for {@linkcode letters}). */
export function alternating(i: number): LetterSpec {
  return { kind: i % 2 === 0 ? "transient" : "permanent" };
}

/**
 * The number of a dead letter made by {@linkcode DeadLetterEnv.fill}.
 *
 * @param message The message.
 * @returns `i` of its `dl-<i>` match id.
 */
export function numberOf(message: Pick<AMQPMessage, "bodyString">): number {
  return Number(String(JSON.parse(message.bodyString() ?? "{}").match_id).replace(/^dl-/, ""));
}

/** `n` specs of one kind. */
export function letters(n: number, spec: LetterSpec | ((i: number) => LetterSpec)): LetterSpec[] {
  return Array.from({ length: n }, (_, i) => typeof spec === "function" ? spec(i) : spec);
}

/** `[from, from+1, ..., to-1]`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** The even numbers of `[0, to)` (the transient ones of {@linkcode alternating}). */
export function evens(to: number): number[] {
  return range(0, to).filter((i) => i % 2 === 0);
}

/** The odd numbers of `[0, to)` (the permanent ones of {@linkcode alternating}). */
export function odds(to: number): number[] {
  return range(0, to).filter((i) => i % 2 === 1);
}

/** Whether a list of numbers is strictly increasing. */
export function increasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || values[i - 1]! < v);
}

/**
 * Publishes dead letters numbered from `first` (match ids `dl-<n>`) to the
 * DLQ of `names`, persistent and confirmed (on a confirm channel), with the
 * headers `deadLetterHeaders` writes.
 */
export async function publishDeadLetters(
  channel: AMQPChannel,
  options: { names: TopologyNames; specs: LetterSpec[]; first?: number },
): Promise<void> {
  const { names, specs, first = 0 } = options;
  const now = Date.now();
  for (let start = 0; start < specs.length; start += 500) {
    await Promise.all(
      specs.slice(start, start + 500).map((spec, j) => {
        const i = first + start + j;
        const headers = deadLetterHeaders(undefined, {
          failure: { kind: spec.kind, code: "test", message: spec.error ?? `failure ${i}` },
          attempts: 5,
          queue: names.queue,
          workerId: "test-worker",
          now: new Date(now - (spec.ageMs ?? 0)),
        });
        return channel.basicPublish(
          "",
          names.deadLetterQueue,
          JSON.stringify({ match_id: `dl-${i}`, telemetry_url: `https://example.test/${i}` }),
          {
            deliveryMode: 2,
            contentType: "application/json",
            headers: headers as Record<string, Field>,
          },
        );
      }),
    );
  }
}
