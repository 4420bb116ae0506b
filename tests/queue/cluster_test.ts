/**
 * `consume` on a private 3-node cluster (`tests/support/rabbitmq_cluster.ts`,
 * started on first use and stopped by the last test): quorum queues
 * replicated on every node, a message that survives `kill -9` of its
 * queue's leader, and a worker given every node's URL that goes on through
 * `kill -9` of the node it is connected to and through a rolling restart; a
 * `dlq replay` cut by `kill -9` of its node, then finished by a rerun; a
 * classic queue whose home node is down, unavailable rather than missing. `deno task test:cluster` runs
 * this module; `deno task test` leaves it out.
 */

import assert from "node:assert/strict";
import { type AMQPChannel, AMQPClient, type Field } from "amqp-client";
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
import { runCli, spawnCli } from "../support/cli.ts";
import { createLogger } from "../../src/cli/logger.ts";
import { createBackoff } from "../../src/core/backoff.ts";
import { isStartMarkName } from "../../src/core/store/start_marks.ts";
import { Broker, QueueUnavailableError } from "../../src/queue/broker.ts";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { Consumer } from "../../src/queue/consumer.ts";
import { deadLetterHeaders } from "../../src/queue/messages.ts";
import { readBrokerStatus } from "../../src/queue/status.ts";
import { declareTopology, type TopologyNames, topologyNames } from "../../src/queue/topology.ts";
import { randomEnv, TelemetryServer, testConsumeConfig, waitFor } from "./harness.ts";

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
    const config = testConsumeConfig(env, {
      amqpUrl: cluster.urls.join(","),
      dataDir,
      flags: { maxDeliveries: 2, workerId: "cluster-worker", queueType: "quorum" },
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

/** Publishes dead letters `dl-0` … `dl-{n-1}` to the DLQ, with the worker's headers. */
async function fillDeadLetters(channel: AMQPChannel, names: TopologyNames, n: number) {
  const now = new Date();
  for (let start = 0; start < n; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - start) }, (_, j) => {
        const headers = deadLetterHeaders(undefined, {
          failure: { kind: "transient", code: "test", message: "HTTP 503" },
          attempts: 5,
          queue: names.queue,
          workerId: "cluster-test",
          now,
        });
        return channel.basicPublish(
          "",
          names.deadLetterQueue,
          JSON.stringify({ match_id: `dl-${start + j}` }),
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

/** The numbers of every message of a queue, in order (removing them). */
async function drainNumbers(channel: AMQPChannel, queue: string): Promise<number[]> {
  const count = (await channel.queueDeclare(queue, { passive: true })).messageCount;
  const numbers: number[] = [];
  if (count === 0) return numbers;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => done = resolve);
  const consumer = await channel.basicConsume(queue, { noAck: true }, (message) => {
    numbers.push(Number(JSON.parse(message.bodyString() ?? "{}").match_id.slice(3)));
    if (numbers.length === count) done();
  });
  await all;
  await consumer.cancel();
  return numbers;
}

/** The DLQ's ready, unacked (by `rabbitmqctl`) and consumer counts, and the job queue's ready count. */
async function replayCounts(
  cluster: RabbitCluster,
  channel: AMQPChannel,
  names: TopologyNames,
): Promise<{ ready: number; unacked: number; consumers: number; jobs: number }> {
  const dlq = await channel.queueDeclare(names.deadLetterQueue, { passive: true });
  const jobs = await channel.queueDeclare(names.queue, { passive: true });
  const rows = JSON.parse(
    await rabbitmqctl(
      cluster.nodes[1]!.name,
      "list_queues",
      "name",
      "messages_unacknowledged",
      "--formatter",
      "json",
    ),
  ) as { name: string; messages_unacknowledged: number }[];
  const unacked = rows.find((r) => r.name === names.deadLetterQueue)?.messages_unacknowledged ?? 0;
  return {
    ready: dlq.messageCount,
    unacked,
    consumers: dlq.consumerCount,
    jobs: jobs.messageCount,
  };
}

Deno.test("telemetry dlq replay given every node's URL, cut by kill -9 of its node: exits 1 saying how far it got, nothing lost, and a rerun finishes the job", async () => {
  const cluster = await sharedCluster();
  const env = randomEnv();
  const names = quorumNames(env);
  const letters = 4_000;
  // The CLI connects to the first node listed, the one killed; the test's
  // connection is to the second.
  let own = await connect(cluster.urls[1]!);
  const replayArgs = ["dlq", "replay", "--env", env, "--amqp-url", cluster.urls.join(",")];
  try {
    await declareTopology(own.channel, { names });
    await fillDeadLetters(own.channel, names, letters);
    const child = spawnCli(replayArgs, { stdout: "piped", stderr: "piped" });
    const output = child.output();
    await waitFor(async () => {
      const ok = await own.channel.queueDeclare(names.queue, { passive: true });
      return ok.messageCount >= 500;
    }, { what: "the replay under way", timeoutMs: 60_000 });
    const { down, back } = killNode(cluster.nodes[0]!, { downMs: 3_000 });
    await down;
    const { code, stdout, stderr } = await output;
    const errorText = new TextDecoder().decode(stderr);
    assert.equal(code, 1, `${new TextDecoder().decode(stdout)}${errorText}`);
    const line = errorText.trim().split("\n").at(-1) ?? "";
    const far = line.match(
      /^error: replay stopped after (\d+) of 4000: lost the broker: .*; replayed (\d+) \(now in match\.telemetry\.[^)]+\)(; \d+ more were copied to \S+ but are still in the DLQ too)?; every other dead letter is still in dlq\.telemetry\.\S+, in order$/,
    );
    assert.ok(
      far !== null,
      `exit ${code}; stderr: ${errorText}; stdout: ${new TextDecoder().decode(stdout)}`,
    );
    const replayed = Number(far[2]);
    assert.ok(replayed > 0 && replayed < letters, line);
    await back;
    await untilRunning(cluster, { nodes: 3 });

    // Nothing lost: every dead letter is ready in the DLQ, still unacked
    // there, or in the job queue (one confirmed but not acked: in both).
    let counts = await replayCounts(cluster, own.channel, names);
    assert.ok(counts.jobs >= replayed, JSON.stringify(counts));
    assert.ok(counts.ready + counts.unacked + counts.jobs >= letters, JSON.stringify(counts));
    // RabbitMQ 3.10 keeps the dead letters of the channels the replay had
    // finished taking from (their consumers cancelled) unacked, under a
    // consumer of the lost connection, until the queue's leader changes.
    const held = counts.consumers > 0;
    if (held) {
      const { leader } = await quorumMembers(cluster, names.deadLetterQueue);
      await own.client.close().catch(() => {});
      await rabbitmqctl(leader!, "stop_app");
      await rabbitmqctl(leader!, "start_app");
      await untilRunning(cluster, { nodes: 3 });
      own = await connect(cluster.nodes.find((n) => n.name !== leader)!.url);
    }
    await waitFor(async () => {
      counts = await replayCounts(cluster, own.channel, names);
      return counts.consumers === 0 && counts.unacked === 0 &&
        counts.ready + counts.jobs >= letters;
    }, { what: "every dead letter back in a queue", timeoutMs: 60_000 });

    const rerun = await runCli(replayArgs);
    assert.equal(rerun[2], 0, rerun[1]);
    assert.match(rerun[0], /^replayed \d+ dead letters from dlq\.telemetry\./);
    counts = await replayCounts(cluster, own.channel, names);
    assert.equal(counts.ready + counts.unacked, 0, "the DLQ is empty");
    const jobs = await drainNumbers(own.channel, names.queue);
    assert.equal(new Set(jobs).size, letters, "every dead letter is a job");
    const swaps = jobs.filter((v, i) => i > 0 && jobs[i - 1]! > v).length;
    console.log(
      `replay cut after ${far[1]} of ${letters} (${replayed} replayed); ` +
        `${jobs.length - letters} in both queues; ${
          held ? "a leader restart released the rest; " : ""
        }` +
        `the rerun replayed the rest; ${swaps} places out of order in the job queue`,
    );
  } finally {
    await own.client.close().catch(() => {});
    await deleteEnv(cluster.urls[1]!, names);
  }
});

Deno.test("a classic queue whose home node is down: queueCounts() says unavailable, not missing, and status reports it as existing", async () => {
  const cluster = await sharedCluster();
  const env = randomEnv();
  const names = topologyNames(env);
  const home = cluster.nodes[2]!;
  const own = await connect(home.url);
  await own.channel.queueDeclare(names.queue, { durable: true });
  await own.client.close();
  const broker = resolveBrokerSettings({ env, amqpUrl: cluster.urls.join(",") }, {});
  await rabbitmqctl(home.name, "stop_app");
  try {
    const connection = await Broker.connect(broker, { timeoutMs: 10_000 });
    try {
      await assert.rejects(
        connection.queueCounts(names.queue),
        (err) =>
          err instanceof QueueUnavailableError && err.kind === "unreachable" &&
          err.message.includes(`queue ${names.queue} exists but is unavailable through `) &&
          /home node .* is down or inaccessible/.test(err.message),
      );
      assert.equal(await connection.queueCounts(names.retryQueue), undefined, "a missing one");
    } finally {
      await connection.close();
    }
    const status = await readBrokerStatus(broker, { connectTimeoutMs: 10_000, maxDlqScan: 0 });
    assert.equal(status.failure, undefined);
    const input = status.queues.input;
    assert.deepEqual([input.exists, input.messages, input.consumers], [true, null, null]);
    assert.match(input.unavailable ?? "", /is down or inaccessible/);
    assert.equal(status.queues.retry.exists, false);
  } finally {
    await rabbitmqctl(home.name, "start_app");
    await untilRunning(cluster, { nodes: 3 });
    const { client, channel } = await connect(home.url);
    await channel.queueDelete(names.queue);
    await client.close();
  }
});

Deno.test("the cluster stops, its nodes and directory gone", async () => {
  const cluster = await sharedCluster();
  await stopSharedCluster();
  await assert.rejects(Deno.stat(cluster.dir), Deno.errors.NotFound);
});
