/**
 * `consume --queue-type quorum` on a real broker (the suite's private node):
 * the topology and its arguments, queues declared by other services, the
 * one-line error when the types differ, the retry delay through a quorum
 * retry queue, and the delivery count (starts, bounded by the broker's
 * count of returns).
 */

import assert from "node:assert/strict";
import { type AMQPChannel, AMQPClient, type AMQPMessage } from "amqp-client";
import { rabbitmqctl, type RabbitNode } from "../support/rabbitmq_node.ts";
import { nodeTest, testBrokerUrl } from "../support/test_broker.ts";
import { createBackoff } from "../../src/core/backoff.ts";
import { isStartMarkName, markStart } from "../../src/core/store/start_marks.ts";
import {
  declareTopology,
  QUORUM_DELIVERY_LIMIT,
  type TopologyNames,
  topologyNames,
} from "../../src/queue/topology.ts";
import { resolveConsumeConfig } from "../../src/queue/config.ts";
import { randomEnv, waitFor } from "./harness.ts";
import {
  brokerRefusal,
  deleteTopology,
  withFixture,
  type WorkerOptions,
  workerTest,
} from "./scenario.ts";
import { brokerChildEnv } from "./operator_support.ts";
import { Child, testArgs } from "../commands/consume_child.ts";

/** The test's own connection, with the environment's topology declared as quorum queues. */
class QuorumBroker {
  readonly names: TopologyNames;
  #client: AMQPClient;
  #channel: AMQPChannel;

  private constructor(names: TopologyNames, client: AMQPClient, channel: AMQPChannel) {
    this.names = names;
    this.#client = client;
    this.#channel = channel;
  }

  static async open(env: string): Promise<QuorumBroker> {
    const { client, channel } = await connect();
    const names: TopologyNames = { ...topologyNames(env), queueType: "quorum" };
    await declareTopology(channel, { names });
    return new QuorumBroker(names, client, channel);
  }

  get channel(): AMQPChannel {
    return this.#channel;
  }

  async publish(body: unknown): Promise<void> {
    await this.#channel.basicPublish("", this.names.queue, JSON.stringify(body), {
      deliveryMode: 2,
      contentType: "application/json",
    });
  }

  async take(queue: string): Promise<AMQPMessage[]> {
    const out: AMQPMessage[] = [];
    for (;;) {
      const message = await this.#channel.basicGet(queue, { noAck: true });
      if (message === null) return out;
      out.push(message);
    }
  }

  /**
   * Takes the first `count` messages of the job queue unacked and closes
   * the channel: the broker gives them back, though no job started.
   */
  async giveBack(count: number): Promise<AMQPMessage[]> {
    const channel = await this.#client.channel();
    const taken: AMQPMessage[] = [];
    for (let i = 0; i < count; i++) {
      const message = await channel.basicGet(this.names.queue, { noAck: false });
      if (message === null) throw new Error("no message to give back");
      taken.push(message);
    }
    await channel.close();
    return taken;
  }

  async count(queue: string): Promise<number> {
    return (await this.#channel.queueDeclare(queue, { passive: true })).messageCount;
  }

  async cleanup(): Promise<void> {
    await deleteTopology(this.#channel, this.names);
    await this.#client.close();
  }
}

async function connect(): Promise<{ client: AMQPClient; channel: AMQPChannel }> {
  const url = new URL(await testBrokerUrl());
  url.searchParams.set("frameMax", "131072");
  const client = new AMQPClient(url.href);
  await client.connect();
  const channel = await client.channel();
  await channel.confirmSelect();
  return { client, channel };
}

/** `rabbitmqctl list_queues name type arguments` of one environment's queues. */
async function listQueues(
  node: RabbitNode,
  names: TopologyNames,
): Promise<Record<string, { type: string; arguments: Record<string, unknown> }>> {
  const rows = JSON.parse(
    await rabbitmqctl(node.name, "list_queues", "name", "type", "arguments", "--formatter", "json"),
  ) as { name: string; type: string; arguments: [string, string, unknown][] }[];
  const mine = [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue];
  return Object.fromEntries(
    rows.filter((r) => mine.includes(r.name)).map((r) => [
      r.name,
      { type: r.type, arguments: Object.fromEntries(r.arguments.map(([k, , v]) => [k, v])) },
    ]),
  );
}

/** The options of a worker on quorum queues that reconnects quickly. */
function quorumWorker(
  flags: { concurrency?: number; maxDeliveries: number; retryDelay?: number },
): WorkerOptions {
  return {
    flags: { concurrency: 1, ...flags, queueType: "quorum" },
    worker: { backoff: createBackoff({ initialMs: 200, maxMs: 1000 }) },
  };
}

nodeTest(
  "--queue-type quorum declares every queue as a quorum queue: delivery limit on the job queue and the DLQ, the retry queue dead-letters at-least-once",
  async (node) => {
    await withFixture(QuorumBroker.open, async (broker) => {
      const { names } = broker;
      // Declared again, as on every reconnect: the same arguments, accepted.
      await declareTopology(broker.channel, { names });
      const queues = await listQueues(node, names);
      const limited = { "x-queue-type": "quorum", "x-delivery-limit": QUORUM_DELIVERY_LIMIT };
      assert.deepEqual(queues, {
        [names.queue]: { type: "quorum", arguments: limited },
        [names.retryQueue]: {
          type: "quorum",
          arguments: {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": names.queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
          },
        },
        [names.deadLetterQueue]: { type: "quorum", arguments: limited },
        [names.publishQueue]: { type: "quorum", arguments: { "x-queue-type": "quorum" } },
      });
    });
  },
);

nodeTest(
  "quorum queues another service declared (x-queue-type only, or with arguments of its own) are taken as they are, and that service can still declare them",
  async (node) => {
    const env = randomEnv();
    const names = topologyNames(env);
    const { client, channel } = await connect();
    try {
      const own = { "x-queue-type": "quorum", "x-delivery-limit": 7, "x-max-length": 100 };
      const theirs: Record<string, Record<string, unknown>> = {
        [names.queue]: { "x-queue-type": "quorum" },
        [names.publishQueue]: own,
        [names.deadLetterQueue]: { "x-queue-type": "quorum" },
      };
      for (const [queue, args] of Object.entries(theirs)) {
        await channel.queueDeclare(queue, { durable: true }, args);
      }
      await declareTopology(channel, { names: { ...names, queueType: "quorum" } });
      for (const [queue, args] of Object.entries(theirs)) {
        await channel.queueDeclare(queue, { durable: true }, args);
      }
      const queues = await listQueues(node, names);
      for (const [queue, args] of Object.entries(theirs)) {
        assert.deepEqual(queues[queue], { type: "quorum", arguments: args });
      }
      assert.equal(queues[names.retryQueue]?.type, "quorum");
    } finally {
      await deleteTopology(channel, names);
      await client.close();
    }
  },
);

Deno.test("telemetry consume on quorum queues without --queue-type exits 1 with one line naming the queue, its type and the flag; and the other way round", async () => {
  const dataDir = await Deno.makeTempDir();
  const { client, channel } = await connect();
  const cases = [
    { declared: { "x-queue-type": "quorum" }, args: [], existing: "quorum", declares: "classic" },
    { declared: {}, args: ["--queue-type", "quorum"], existing: "classic", declares: "quorum" },
  ];
  try {
    for (const { declared, args, existing, declares } of cases) {
      const env = randomEnv();
      const names = topologyNames(env);
      await channel.queueDeclare(names.queue, { durable: true }, declared);
      try {
        const line = await brokerRefusal(
          new Child(testArgs(env, dataDir, args), await brokerChildEnv()),
        );
        assert.match(
          line,
          new RegExp(
            `refused the configuration: \\(406 PRECONDITION_FAILED\\) queue ${names.queue} is a ` +
              `${existing} queue, not ${declares}: pass --queue-type ${existing}, `,
          ),
        );
        assert.doesNotMatch(line, /\n/);
      } finally {
        await deleteTopology(channel, names);
      }
    }
  } finally {
    await client.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("on quorum queues a transient failure waits --retry-delay in the retry queue, comes back and is the next delivery; at --max-deliveries it is dead-lettered", async () => {
  await workerTest(QuorumBroker.open, async ({ server, broker, start }) => {
    server.behave = (matchId, request) =>
      matchId === "flaky-1" && request === 1 || matchId === "broken-1"
        ? { type: "status", status: 503 }
        : { type: "ok" };
    const running = await start(quorumWorker({ maxDeliveries: 3, retryDelay: 0.6 }));
    await broker.publish({ match_id: "flaky-1", telemetry_url: server.url("flaky-1") });
    await waitFor(() => running.jobs().length === 2, { what: "flaky-1 retried and stored" });
    const [retry, stored] = running.jobs();
    assert.deepEqual([retry?.outcome, retry?.attempt], ["retry", 1]);
    assert.deepEqual([stored?.outcome, stored?.attempt], ["downloaded", 2]);
    const times = running.logs.filter((l) => l.event === "job").map((l) =>
      Date.parse(String(l.time))
    );
    assert.ok(
      times[1]! - times[0]! >= 550,
      `waited ${times[1]! - times[0]!} ms in the retry queue`,
    );

    await broker.publish({ match_id: "broken-1", telemetry_url: server.url("broken-1") });
    await waitFor(() => running.jobs().length === 5, { what: "broken-1 dead-lettered" });
    assert.deepEqual(
      running.jobs().slice(2).map((l) => [l.outcome, l.attempt]),
      [["retry", 1], ["retry", 2], ["dead_lettered", 3]],
    );
    const [dead] = await broker.take(broker.names.deadLetterQueue);
    assert.equal(dead?.properties.headers?.["x-attempts"], 3);
    assert.match(String(dead?.properties.headers?.["x-error"]), /^gave up after 3 deliveries: /);
    assert.equal(await broker.count(broker.names.retryQueue), 0);
  });
});

Deno.test("on quorum queues a worker killed (kill -9) during the job counts: after --max-deliveries such starts the job is dead-lettered, not started again", async () => {
  await workerTest(QuorumBroker.open, async ({ env, server, broker, dataDir, start }) => {
    server.behave = () => ({ type: "stall" });
    await broker.publish({ match_id: "killer-1", telemetry_url: server.url("killer-1") });
    for (let start = 1; start <= 2; start++) {
      const child = new Child(
        testArgs(env, dataDir, ["--queue-type", "quorum", "--max-deliveries", "2"]),
        await brokerChildEnv(),
      );
      try {
        await waitFor(() => server.requests.get("killer-1") === start, {
          what: `start ${start} of the job`,
          timeoutMs: 20_000,
        });
      } finally {
        await child.kill(); // kill -9 mid-download: its start mark stays
      }
    }
    const running = await start(quorumWorker({ maxDeliveries: 2 }));
    await waitFor(() => running.jobs().length === 1, { what: "the job settled" });
    const [line] = running.jobs();
    assert.deepEqual([line?.outcome, line?.kind, line?.attempt], [
      "dead_lettered",
      "redelivered",
      2,
    ]);
    assert.equal(server.requests.get("killer-1"), 2, "not started a third time");
    const [dead] = await broker.take(broker.names.deadLetterQueue);
    assert.match(
      String(dead?.properties.headers?.["x-error"]),
      /^started 2 times and never finished/,
    );
    const left = [];
    for await (const entry of Deno.readDir(`${dataDir}/matchID=killer-1`)) {
      if (isStartMarkName(entry.name)) left.push(entry.name); // (a kill -9 leaves its temp file)
    }
    assert.deepEqual(left, [], "the marks are gone");
  });
});

Deno.test("on quorum queues returns without a start count nothing, and start marks of another message of the match count only as far as the broker gave this one back", async () => {
  await workerTest(QuorumBroker.open, async ({ server, broker, dataDir, start }) => {
    // returned-1: given back twice with no start (as by a node loss, or a stop before the job began).
    await broker.publish({ match_id: "returned-1", telemetry_url: server.url("returned-1") });
    await broker.giveBack(1);
    // once-1: given back once, and its match has two marks: one of them may be its own start.
    await broker.publish({ match_id: "once-1", telemetry_url: server.url("once-1") });
    const [returned] = await broker.giveBack(2);
    assert.equal(returned?.properties.headers?.["x-delivery-count"], 1);
    const died = { worker: "dead-worker", startedAt: "2026-12-01T00:00:00.000Z" };
    await markStart(dataDir, "once-1", died);
    await markStart(dataDir, "once-1", died);
    // stale-1: a first delivery whose match kept two marks of workers that died on another message.
    await markStart(dataDir, "stale-1", died);
    await markStart(dataDir, "stale-1", died);
    const running = await start(quorumWorker({ maxDeliveries: 2, concurrency: 1 }));
    await waitFor(() => running.jobs().length === 2, { what: "returned-1 and once-1 settled" });
    await broker.publish({ match_id: "stale-1", telemetry_url: server.url("stale-1") });
    await waitFor(() => running.jobs().length === 3, { what: "stale-1 settled" });
    const byId = Object.fromEntries(running.jobs().map((l) => [l.match_id, l]));
    assert.deepEqual([byId["returned-1"]?.outcome, byId["returned-1"]?.attempt], ["downloaded", 1]);
    assert.deepEqual([byId["once-1"]?.outcome, byId["once-1"]?.attempt], ["downloaded", 2]);
    // On a classic queue its two marks would reach --max-deliveries 2: dead-lettered unstarted.
    assert.deepEqual([byId["stale-1"]?.outcome, byId["stale-1"]?.attempt], ["downloaded", 1]);
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
    const marks: string[] = [];
    for await (const dir of Deno.readDir(dataDir)) {
      for await (const entry of Deno.readDir(`${dataDir}/${dir.name}`)) {
        if (isStartMarkName(entry.name)) marks.push(`${dir.name}/${entry.name}`);
      }
    }
    assert.deepEqual(marks, [], "settled deliveries take every mark of their match");
  });
});

Deno.test("resolveConsumeConfig() takes --queue-type classic (the default, names unchanged) or quorum, and with quorum --max-deliveries below the delivery limit", () => {
  const flags = {
    env: "prod",
    amqpUrl: "amqp://u:p@127.0.0.1:5672/",
    concurrency: 1,
    retryDelay: 1,
    maxDeliveries: 5,
    shutdownTimeout: 1,
    confirmTimeout: 1,
  };
  const context = { env: {}, download: { dataDir: "/tmp/unused" }, defaultWorkerId: "w" };
  const classic = resolveConsumeConfig(flags, context);
  assert.equal(classic.queueType, "classic");
  assert.deepEqual(classic.names, topologyNames("prod"));
  const quorum = resolveConsumeConfig({ ...flags, queueType: "quorum" }, context);
  assert.deepEqual(quorum.names, { ...topologyNames("prod"), queueType: "quorum" });
  assert.throws(
    () => resolveConsumeConfig({ ...flags, queueType: "stream" }, context),
    /invalid --queue-type "stream": expected classic or quorum/,
  );
  assert.throws(
    () =>
      resolveConsumeConfig(
        { ...flags, queueType: "quorum", maxDeliveries: QUORUM_DELIVERY_LIMIT },
        context,
      ),
    /with --queue-type quorum, expected less than the queues' x-delivery-limit 1000000/,
  );
});
