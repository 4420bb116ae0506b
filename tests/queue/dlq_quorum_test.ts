/**
 * The operator tools on quorum queues (`consume --queue-type quorum`'s
 * topology), against the suite's private node (RabbitMQ 3.10): `dlq list`
 * and `dlq export` leave the DLQ with the same messages in the same order,
 * though a quorum queue puts what comes back in the order it comes back and
 * raises each message's `x-delivery-count`; `dlq replay` keeps the order and
 * leaves the DLQ's count behind; `dlq purge`, `enqueue` and `announce`.
 */

import assert from "node:assert/strict";
import { type AMQPChannel, AMQPClient, type AMQPMessage } from "amqp-client";
import { type BrokerSettings, resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { purgeDeadLetters, replayDeadLetters, scanDeadLetters } from "../../src/queue/dlq.ts";
import { brokerReturns } from "../../src/queue/settle.ts";
import { declareTopology, type TopologyNames, topologyNames } from "../../src/queue/topology.ts";
import { testBrokerUrl } from "../support/test_broker.ts";
import { readLines, runCli, spawnCli } from "../support/cli.ts";
import { gzip, telemetryJson, writeMatch } from "../verify/fixtures.ts";
import {
  alternating,
  evens,
  letters,
  type LetterSpec,
  numberOf,
  odds,
  publishDeadLetters,
  range,
} from "./dlq_harness.ts";
import { randomEnv, waitFor } from "./harness.ts";
import { deleteTopology } from "./scenario.ts";
import { brokerChildEnv, jobLine, writeLines } from "./operator_support.ts";

/** An environment whose topology is declared with `--queue-type quorum`. */
class QuorumDlq {
  readonly env: string;
  readonly names: TopologyNames;
  readonly broker: BrokerSettings;
  readonly url: string;
  #client: AMQPClient;
  #channel: AMQPChannel;

  private constructor(env: string, url: string, client: AMQPClient, channel: AMQPChannel) {
    this.env = env;
    this.url = url;
    this.names = { ...topologyNames(env), queueType: "quorum" };
    this.broker = resolveBrokerSettings({ env, amqpUrl: url }, {});
    this.#client = client;
    this.#channel = channel;
  }

  static async open(): Promise<QuorumDlq> {
    const url = await testBrokerUrl();
    const client = new AMQPClient(url);
    await client.connect();
    const channel = await client.channel();
    await channel.confirmSelect();
    const dlq = new QuorumDlq(randomEnv(), url, client, channel);
    await declareTopology(channel, { names: dlq.names });
    return dlq;
  }

  /** Publishes dead letters numbered from `first`, with the worker's headers. */
  async fill(specs: LetterSpec[], first = 0): Promise<void> {
    await publishDeadLetters(this.#channel, { names: this.names, specs, first });
  }

  /** Ready messages. */
  async count(queue: string): Promise<number> {
    return (await this.#channel.queueDeclare(queue, { passive: true })).messageCount;
  }

  /** Takes every message of a queue, in order (removing them). */
  async drain(queue: string): Promise<AMQPMessage[]> {
    const out: AMQPMessage[] = [];
    for (;;) {
      const message = await this.#channel.basicGet(queue, { noAck: true });
      if (message === null) return out;
      out.push(message);
    }
  }

  /**
   * Takes every message of a queue through a consumer, as the worker does
   * (a quorum queue leaves a published `x-delivery-count` as it is on a
   * first delivery to a consumer; `basic.get` sets it).
   */
  async consumeAll(queue: string): Promise<AMQPMessage[]> {
    const count = await this.count(queue);
    const out: AMQPMessage[] = [];
    if (count === 0) return out;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => done = resolve);
    const consumer = await this.#channel.basicConsume(queue, { noAck: true }, (message) => {
      out.push(message);
      if (out.length === count) done();
    });
    await all;
    await consumer.cancel();
    return out;
  }

  /** The numbers of the dead letters in a queue, in order (removing them). */
  async numbers(queue: string): Promise<number[]> {
    return (await this.drain(queue)).map(numberOf);
  }

  async cleanup(): Promise<void> {
    await deleteTopology(this.#channel, this.names);
    await this.#client.close();
  }
}

async function withQuorumDlq(
  n: number,
  fn: (dlq: QuorumDlq) => Promise<void>,
): Promise<void> {
  const dlq = await QuorumDlq.open();
  try {
    await dlq.fill(letters(n, alternating));
    await fn(dlq);
  } finally {
    await dlq.cleanup();
  }
}

function dlqArgs(dlq: QuorumDlq, ...args: string[]): string[] {
  return ["dlq", ...args, "--env", dlq.env, "--amqp-url", dlq.url];
}

Deno.test("scanDeadLetters() on a quorum DLQ, many chunks, twice: the same dead letters in the same order each time and after", async () => {
  await withQuorumDlq(700, async (dlq) => {
    for (let run = 1; run <= 2; run++) {
      const seen: number[] = [];
      const counts = new Set<number>();
      const summary = await scanDeadLetters({
        broker: dlq.broker,
        chunk: 64,
        onDeadLetter: ({ message }) => {
          seen.push(numberOf(message));
          counts.add(brokerReturns(message.properties.headers));
        },
      });
      assert.equal(summary.failure, undefined);
      assert.deepEqual(seen, range(0, 700), `run ${run} in order`);
      // Each read gave every dead letter back once: the broker counted it.
      assert.deepEqual([...counts], [run - 1]);
      assert.equal(await dlq.count(dlq.names.deadLetterQueue), 700, "all back right away");
    }
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 700));
  });
});

Deno.test("telemetry dlq list and export on a quorum DLQ leave it as it was; replay keeps the order, drops the DLQ's x-delivery-count; purge removes the rest", async () => {
  await withQuorumDlq(600, async (dlq) => {
    const listed = await runCli(dlqArgs(dlq, "list", "--json"), {});
    assert.equal(listed[2], 0, listed[1]);
    const positions = listed[0].trim().split("\n").map((l) => JSON.parse(l))
      .filter((o) => o.position !== undefined);
    assert.deepEqual(positions.map((o) => o.match_id), range(0, 600).map((i) => `dl-${i}`));
    const [exported, exportErr, exportCode] = await runCli(dlqArgs(dlq, "export", "-o", "-"), {});
    assert.equal(exportCode, 0, exportErr);
    const records = exported.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(
      records.map((r) => JSON.parse(r.body).match_id),
      range(0, 600).map((i) => `dl-${i}`),
    );
    assert.equal(await dlq.count(dlq.names.deadLetterQueue), 600);

    // Dead letters returned twice by now; their copies must not carry that count.
    const [out, err, code] = await runCli(dlqArgs(dlq, "replay", "--kind", "transient"), {});
    assert.equal(code, 0, err);
    assert.match(out, new RegExp(`^replayed 300 of 600 dead letters from dlq\\.telemetry\\.`));
    const copies = await dlq.consumeAll(dlq.names.queue);
    assert.deepEqual(copies.map(numberOf), evens(600), "replayed in DLQ order");
    for (const copy of copies) {
      assert.equal(brokerReturns(copy.properties.headers), 0, "a first delivery to the worker");
      assert.equal(copy.properties.headers?.["x-error-kind"], "transient");
    }

    const [purged, purgeErr, purgeCode] = await runCli(
      dlqArgs(dlq, "purge", "--match-id", "dl-1,dl-3", "--yes"),
      {},
    );
    assert.equal(purgeCode, 0, purgeErr);
    assert.match(purged, /^removed 2 of 300 dead letters/);
    assert.deepEqual(
      await dlq.numbers(dlq.names.deadLetterQueue),
      odds(600).filter((i) => i > 3),
      "the rest in order",
    );
  });
});

Deno.test("replayDeadLetters() on quorum queues, small chunks and a small window: nothing lost, both queues in order", async () => {
  await withQuorumDlq(400, async (dlq) => {
    const summary = await replayDeadLetters({
      broker: dlq.broker,
      chunk: 16,
      window: 4,
      filter: { kinds: ["permanent"] },
    });
    assert.equal(summary.failure, undefined);
    assert.equal(summary.removed, 200);
    assert.deepEqual(await dlq.numbers(dlq.names.queue), odds(400));
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), evens(400));
    const purge = await purgeDeadLetters({ broker: dlq.broker });
    assert.equal(purge.removed, 0, "nothing left to purge");
  });
});

Deno.test("replayDeadLetters() on a quorum DLQ, filtered, in one burst: the replayed ones leave the DLQ (no ack lost at the close)", async () => {
  await withQuorumDlq(1000, async (dlq) => {
    const summary = await replayDeadLetters({
      broker: dlq.broker,
      filter: { kinds: ["transient"] },
    });
    assert.equal(summary.failure, undefined);
    assert.equal(summary.removed, 500);
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), odds(1000));
    assert.deepEqual(await dlq.numbers(dlq.names.queue), evens(1000));
  });
});

Deno.test("telemetry enqueue and announce publish into quorum queues", async () => {
  const dlq = await QuorumDlq.open();
  const dataDir = await Deno.makeTempDir();
  const file = await writeLines([jobLine("q-1"), jobLine("q-2")]);
  try {
    const env = await brokerChildEnv();
    const [queued, queueErr, queueCode] = await runCli(
      ["enqueue", "--env", dlq.env, "--jobs", file],
      { env },
    );
    assert.equal(queueCode, 0, queueErr);
    assert.match(queued, /^queued 2 to match\.telemetry\./);
    const jobs = await dlq.drain(dlq.names.queue);
    assert.deepEqual(jobs.map((m) => JSON.parse(m.bodyString() ?? "{}").match_id), ["q-1", "q-2"]);

    await writeMatch(dataDir, "a-1", gzip(telemetryJson("a-1", 50)));
    const [announced, announceErr, announceCode] = await runCli(
      ["announce", "--env", dlq.env, dataDir, "--worker-id", "ops"],
      { env },
    );
    assert.equal(announceCode, 0, announceErr);
    assert.match(announced, /^announced 1 to match\.processing\.telemetry\./);
    const [message] = await dlq.drain(dlq.names.publishQueue);
    assert.equal(JSON.parse(message?.bodyString() ?? "{}").match_id, "a-1");
  } finally {
    await Deno.remove(file);
    await Deno.remove(dataDir, { recursive: true });
    await dlq.cleanup();
  }
});

Deno.test("telemetry dlq list killed with SIGKILL halfway on a quorum DLQ: every dead letter back, each chunk in order", async () => {
  await withQuorumDlq(3000, async (dlq) => {
    const child = spawnCli(dlqArgs(dlq, "list"), { stdout: "piped", stderr: "null" });
    let lines = 0;
    const reading = readLines(child.stdout, () => lines++);
    try {
      await waitFor(() => lines > 1200, { what: "1200 lines", timeoutMs: 30_000 });
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await reading.catch(() => {});
    }
    assert.ok(lines < 3000, `killed halfway (${lines} lines)`);
    await waitFor(async () => await dlq.count(dlq.names.deadLetterQueue) === 3000, {
      what: "every dead letter back",
    });
    const numbers = await dlq.numbers(dlq.names.deadLetterQueue);
    assert.deepEqual([...numbers].sort((a, b) => a - b), range(0, 3000), "nothing lost");
    // Each channel's dead letters (a chunk of 512) come back in order, the
    // chunks in the order the broker notices their channels gone.
    const starts = numbers.filter((v, i) => i === 0 || numbers[i - 1]! + 1 !== v);
    assert.deepEqual(starts.filter((v) => v % 512 !== 0), [], `runs start at ${starts}`);
  });
});
