/**
 * `consume` on a private 3-node cluster (`tests/support/rabbitmq_cluster.ts`,
 * started on first use and stopped by the last test): quorum queues
 * replicated on every node, a message that survives `kill -9` of its
 * queue's leader, and a worker given every node's URL that goes on through
 * `kill -9` of the node it is connected to and through a rolling restart. `deno task test:cluster` runs
 * this module; `deno task test` leaves it out.
 */

import assert from "node:assert/strict";
import { type AMQPChannel, AMQPClient } from "amqp-client";
import {
  killNode,
  quorumMembers,
  type RabbitCluster,
  sharedCluster,
  stopClusterOnSignals,
  stopSharedCluster,
  untilRunning,
} from "../support/rabbitmq_cluster.ts";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { toDownloadSettings } from "../../src/cli/download_options.ts";
import { createLogger } from "../../src/cli/logger.ts";
import { createBackoff } from "../../src/core/backoff.ts";
import { isStartMarkName } from "../../src/core/store/start_marks.ts";
import { resolveConsumeConfig } from "../../src/queue/config.ts";
import { Consumer } from "../../src/queue/consumer.ts";
import { declareTopology, type TopologyNames, topologyNames } from "../../src/queue/topology.ts";
import { allowedTestHosts, randomEnv, TelemetryServer, waitFor } from "./harness.ts";

stopClusterOnSignals();

/** A connection to one node of the cluster, with a confirm channel. */
async function connect(url: string): Promise<{ client: AMQPClient; channel: AMQPChannel }> {
  const client = new AMQPClient(`${url}?frameMax=131072`);
  await client.connect();
  const channel = await client.channel();
  await channel.confirmSelect();
  return { client, channel };
}

function quorumNames(env: string): TopologyNames {
  return { ...topologyNames(env), queueType: "quorum" };
}

async function deleteEnv(url: string, names: TopologyNames): Promise<void> {
  const { client, channel } = await connect(url);
  for (const queue of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]) {
    await channel.queueDelete(queue);
  }
  await channel.exchangeDelete(names.exchange);
  await client.close();
}

/** The node of the cluster a URL (as the worker logs it, redacted) points at. */
function nodeOf(cluster: RabbitCluster, url: string) {
  const port = Number(new URL(url).port);
  const node = cluster.nodes.find((n) => n.port === port);
  if (node === undefined) throw new Error(`no node of the cluster at ${url}`);
  return node;
}

Deno.test("the cluster harness boots 3 clustered nodes; consume's quorum queues are replicated on all 3, and a message survives kill -9 of its queue's leader", async () => {
  const cluster = await sharedCluster();
  console.log(`cluster of 3 nodes booted in ${(cluster.bootMs / 1000).toFixed(1)} s`);
  const env = randomEnv();
  const names = quorumNames(env);
  const { client, channel } = await connect(cluster.urls[0]!);
  try {
    await declareTopology(channel, { names });
    const jobs = 20;
    for (let i = 0; i < jobs; i++) {
      await channel.basicPublish("", names.queue, JSON.stringify({ match_id: `m-${i}` }), {
        deliveryMode: 2,
      });
    }
    const { leader, members } = await quorumMembers(cluster, names.queue);
    assert.deepEqual(members.sort(), cluster.nodes.map((n) => n.name).sort());
    const leaderNode = cluster.nodes.find((n) => n.name === leader)!;
    const other = cluster.nodes.find((n) => n !== leaderNode)!;
    await client.close();

    const { down, back } = killNode(leaderNode, { downMs: 8_000 });
    await down;
    // While the old leader is down, the two others hold the queue: every message is there.
    const survivor = await connect(other.url);
    try {
      await waitFor(async () => {
        const ok = await survivor.channel.queueDeclare(names.queue, { passive: true });
        return ok.messageCount === jobs;
      }, { what: "the messages on the remaining nodes", timeoutMs: 30_000 });
      const taken: string[] = [];
      for (let i = 0; i < jobs; i++) {
        const message = await survivor.channel.basicGet(names.queue, { noAck: true });
        taken.push(JSON.parse(message?.bodyString() ?? "{}").match_id);
      }
      assert.deepEqual(taken, Array.from({ length: jobs }, (_, i) => `m-${i}`), "all, in order");
      const { leader: newLeader } = await quorumMembers(cluster, names.queue);
      assert.notEqual(newLeader, leader, "another node leads the queue");
    } finally {
      await survivor.client.close();
    }
    await back;
  } finally {
    await deleteEnv(cluster.urls[1]!, names);
  }
});

/** What a node loss sees of the worker running through it. */
interface LossContext {
  cluster: RabbitCluster;
  /** Its `broker_connected` lines so far. */
  connected(): Record<string, unknown>[];
  /** Its job lines so far, but for the jobs left unacked. */
  settled(): Record<string, unknown>[];
}

/**
 * Runs a worker given every node's URL (`--queue-type quorum`,
 * `--max-deliveries 2`) over a backlog of `jobs`, lets `lose` take nodes
 * away while jobs flow, then checks that nothing was lost, counted, retried
 * or dead-lettered, and that each job was downloaded and stored once.
 */
async function throughNodeLosses(
  setup: { jobs: number; delayMs: number },
  lose: (context: LossContext) => Promise<void>,
): Promise<void> {
  const { jobs, delayMs } = setup;
  const cluster = await sharedCluster();
  const env = randomEnv();
  const names = quorumNames(env);
  const server = new TelemetryServer();
  server.behave = () => ({ type: "ok", delayMs });
  const dataDir = await Deno.makeTempDir({ prefix: "cluster-test-" });
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (line) => logs.push(JSON.parse(line)) });
  let worker: { consumer: Consumer; done: Promise<void> } | undefined;
  try {
    const { client, channel } = await connect(cluster.urls[0]!);
    await declareTopology(channel, { names });
    for (let i = 0; i < jobs; i++) {
      await channel.basicPublish(
        "",
        names.queue,
        JSON.stringify({ match_id: `c-${i}`, telemetry_url: server.url(`c-${i}`) }),
        { deliveryMode: 2, contentType: "application/json" },
      );
    }
    await client.close();
    const config = resolveConsumeConfig({
      env,
      amqpUrl: cluster.urls.join(","),
      concurrency: 4,
      retryDelay: 0.2,
      maxDeliveries: 2,
      shutdownTimeout: 5,
      confirmTimeout: 5,
      workerId: "cluster-worker",
      queueType: "quorum",
    }, {
      env: {},
      defaultWorkerId: "unused",
      download: toDownloadSettings({
        dataDir,
        allowHost: allowedTestHosts(),
        allowHttp: true,
        maxBytes: 1024 ** 3,
        maxDecompressedBytes: 4 * 1024 ** 3,
        headersTimeout: 5,
        idleTimeout: 5,
        attemptTimeout: 30,
        attempts: 1,
        backoff: 0,
        maxRetryAfter: 1,
      }),
    });
    const consumer = new Consumer(config, {
      log,
      backoff: createBackoff({ initialMs: 200, maxMs: 1000 }),
      connectTimeoutMs: 5_000,
    });
    worker = { consumer, done: consumer.run() };
    const settled = () => logs.filter((l) => l.event === "job" && l.outcome !== "unacked");
    await lose({
      cluster,
      connected: () => logs.filter((l) => l.event === "broker_connected"),
      settled,
    });
    await waitFor(() => new Set(settled().map((l) => l.match_id)).size === jobs, {
      what: "every job settled",
      timeoutMs: 120_000,
    });
    const lines = settled();
    assert.deepEqual(
      lines.filter((l) => !["downloaded", "already_exists"].includes(String(l.outcome))),
      [],
      "nothing retried or dead-lettered",
    );
    assert.ok(
      logs.some((l) => l.event === "job" && l.outcome === "unacked"),
      "jobs were in flight when a node went",
    );
    // The jobs cut off by a node loss had started: their starts were given back, not counted.
    assert.deepEqual(lines.filter((l) => l.attempt !== 1), [], "every job line is delivery 1");
    for (let i = 0; i < jobs; i++) {
      assert.equal(server.requests.get(`c-${i}`), 1, `c-${i} downloaded once`);
    }
    const stored: string[] = [];
    for await (const dir of Deno.readDir(dataDir)) {
      for await (const entry of Deno.readDir(`${dataDir}/${dir.name}`)) {
        if (entry.name === "raw.json.gz") stored.push(dir.name);
        assert.ok(!isStartMarkName(entry.name), `start mark left in ${dir.name}`);
      }
    }
    assert.equal(stored.length, jobs);
    const check = await connect(cluster.urls[0]!);
    try {
      for (const queue of [names.queue, names.retryQueue, names.deadLetterQueue]) {
        const ok = await check.channel.queueDeclare(queue, { passive: true });
        assert.equal(ok.messageCount, 0, `${queue} empty`);
      }
      const announced = await check.channel.queueDeclare(names.publishQueue, { passive: true });
      assert.ok(announced.messageCount >= jobs, "every job announced (some twice)");
    } finally {
      await check.client.close();
    }
  } catch (err) {
    const tail = logs.filter((l) => l.event !== "job" || l.outcome !== "downloaded").slice(-30);
    console.error(tail.map((l) => JSON.stringify(l)).join("\n"));
    throw err;
  } finally {
    if (worker !== undefined) {
      worker.consumer.stop();
      await worker.done;
    }
    await deleteEnv(cluster.urls[0]!, names);
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("a worker given every node's URL consumes quorum queues through kill -9 of its node: it reconnects to another, every job stored once, none counted or dead-lettered", async () => {
  await throughNodeLosses({ jobs: 300, delayMs: 40 }, async ({ cluster, connected, settled }) => {
    await waitFor(() => settled().length >= 40, { what: "jobs flowing", timeoutMs: 60_000 });
    const first = nodeOf(cluster, String(connected()[0]?.url));
    const { down, back } = killNode(first, { downMs: 5_000 });
    await down;
    await waitFor(() => connected().length >= 2, {
      what: "the worker reconnected to another node",
      timeoutMs: 60_000,
    });
    assert.notEqual(nodeOf(cluster, String(connected()[1]?.url)).name, first.name);
    await back;
    await untilRunning(cluster, { nodes: 3 });
  });
});

Deno.test("a rolling restart of the 3 nodes one by one (stop_app, start_app) with the worker running: every job stored once, none counted or dead-lettered", async () => {
  await throughNodeLosses({ jobs: 500, delayMs: 150 }, async ({ cluster, settled }) => {
    for (const node of cluster.nodes) {
      const before = settled().length;
      await waitFor(() => settled().length >= before + 20, {
        what: `jobs flowing before ${node.name} restarts`,
        timeoutMs: 60_000,
      });
      await rabbitmqctl(node.name, "stop_app");
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await rabbitmqctl(node.name, "start_app");
      await untilRunning(cluster, { nodes: 3 });
    }
  });
});

Deno.test("the cluster stops, its nodes and directory gone", async () => {
  const cluster = await sharedCluster();
  await stopSharedCluster();
  await assert.rejects(Deno.stat(cluster.dir), Deno.errors.NotFound);
});
