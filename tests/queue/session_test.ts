import assert from "node:assert/strict";
import { createLogger } from "../../src/cli/logger.ts";
import { realSleep } from "../../src/core/http/retry.ts";
import { toDownloadSettings } from "../../src/cli/download_options.ts";
import { resolveConsumeConfig } from "../../src/queue/config.ts";
import { createMetrics, serveMetrics } from "../../src/queue/metrics.ts";
import { BrokerConfigError, Consumer } from "../../src/queue/consumer.ts";
import { topologyNames } from "../../src/queue/topology.ts";
import { openSession } from "../../src/queue/session.ts";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { nodeTest, testBrokerUrl } from "../support/test_broker.ts";
import { randomEnv, startWorker, TelemetryServer, TestBroker, waitFor } from "./harness.ts";
import { endWorkerTest, scenario } from "./scenario.ts";

function config(env: string, amqpUrl: string) {
  return resolveConsumeConfig({
    env,
    amqpUrl,
    concurrency: 1,
    retryDelay: 1,
    maxDeliveries: 5,
    shutdownTimeout: 1,
    confirmTimeout: 5,
  }, {
    env: {},
    defaultWorkerId: "w",
    download: toDownloadSettings({
      dataDir: "/tmp/unused",
      maxBytes: 1e6,
      maxDecompressedBytes: 1e6,
      headersTimeout: 1,
      idleTimeout: 1,
      attemptTimeout: 1,
      attempts: 1,
      backoff: 0,
      maxRetryAfter: 1,
    }),
  });
}

Deno.test("Consumer.run() fails fast with BrokerConfigError when the broker refuses the login", async () => {
  const lines: string[] = [];
  const url = new URL(await testBrokerUrl());
  url.password = "wrong-secret";
  const worker = new Consumer(config(randomEnv(), url.href), {
    log: createLogger({ format: "json", write: (l) => lines.push(l) }),
  });
  await assert.rejects(worker.run(), (err) => {
    assert.ok(err instanceof BrokerConfigError);
    assert.match(err.message, /ACCESS_REFUSED|403/);
    assert.doesNotMatch(err.message, /wrong-secret/);
    return true;
  });
  assert.doesNotMatch(lines.join("\n"), /wrong-secret/);
});

Deno.test("Consumer.run() keeps retrying an unreachable broker until stopped", async () => {
  const lines: Record<string, unknown>[] = [];
  const worker = new Consumer(config(randomEnv(), "amqp://guest:guest@127.0.0.1:1/%2F"), {
    log: createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) }),
    sleep: (_ms, signal) => realSleep(10, signal),
  });
  const done = worker.run();
  await waitFor(() => lines.filter((l) => l.event === "broker_unreachable").length >= 3);
  assert.equal(worker.healthy, false);
  worker.stop();
  await done;
  assert.match(String(lines[0]?.error), /ECONNREFUSED/);
  assert.match(String(lines[0]?.url), /guest:\*\*\*@/);
});

nodeTest(
  "Consumer declares the retry queue with dead-lettering back to the main queue and no TTL",
  async (node) => {
    const env = randomEnv();
    const broker = await TestBroker.open(env);
    try {
      const out = await rabbitmqctl(
        node.name,
        "list_queues",
        "-q",
        "--no-table-headers",
        "name",
        "durable",
        "arguments",
      );
      const rows = out.split("\n").filter((l) => l.includes(env));
      const row = (name: string) => rows.find((r) => r.startsWith(name + "\t")) ?? "";
      assert.match(
        row(broker.names.retryQueue),
        /true\t.*x-dead-letter-exchange.*x-dead-letter-routing-key.*match\.telemetry\./,
      );
      assert.doesNotMatch(row(broker.names.retryQueue), /x-message-ttl/);
      for (
        const name of [broker.names.queue, broker.names.deadLetterQueue, broker.names.publishQueue]
      ) {
        assert.match(row(name), /\ttrue\t\[\]$/, name);
      }
      const bindings = await rabbitmqctl(
        node.name,
        "list_bindings",
        "-q",
        "--no-table-headers",
        "source_name",
        "destination_name",
        "routing_key",
      );
      assert.ok(
        bindings.includes(`match.exchange.${env}\tmatch.telemetry.${env}\tmatch.telemetry`),
      );
    } finally {
      await broker.cleanup();
    }
  },
);

nodeTest(
  "Consumer reconnects, redeclares and resumes after the broker closes its connection",
  async (node) => {
    await scenario(async ({ server, broker, worker }) => {
      await broker.publish({ match_id: "before-1", telemetry_url: server.url("before-1") });
      await waitFor(() => worker.jobs().length === 1);
      const connections = await rabbitmqctl(
        node.name,
        "list_connections",
        "-q",
        "--no-table-headers",
        "pid",
        "client_properties",
      );
      // The worker's connection is the newest; close every connection whose client is amqp-client with our env's consumer.
      const pids = connections.split("\n").filter((l) => l.includes("amqp-client")).map((l) =>
        l.split("\t")[0]!
      );
      const consumers = await rabbitmqctl(
        node.name,
        "list_consumers",
        "-q",
        "--no-table-headers",
        "queue_name",
        "channel_pid",
      );
      assert.ok(consumers.includes(broker.names.queue));
      const channelPid = consumers.split("\n").find((l) => l.startsWith(broker.names.queue + "\t"))
        ?.split("\t")[1];
      const channels = await rabbitmqctl(
        node.name,
        "list_channels",
        "-q",
        "--no-table-headers",
        "pid",
        "connection",
      );
      const connPid = channels.split("\n").find((l) => l.startsWith(channelPid + "\t"))?.split(
        "\t",
      )[1];
      assert.ok(connPid && pids.includes(connPid), "found the worker's connection");
      await rabbitmqctl(node.name, "close_connection", connPid, "test: forced close");
      await waitFor(() => worker.logs.filter((l) => l.event === "broker_connected").length === 2, {
        what: "reconnect",
      });
      await broker.publish({ match_id: "after-1", telemetry_url: server.url("after-1") });
      await waitFor(() => worker.jobs().length === 2, { what: "job after reconnect" });
      assert.equal(worker.jobs()[1]?.outcome, "downloaded");
      assert.equal((await broker.take(broker.names.publishQueue)).length, 2);
    });
  },
);

Deno.test("serveMetrics() serves Prometheus text and /healthz follows the worker", async () => {
  const metrics = await createMetrics();
  await scenario(async ({ server, broker, worker }) => {
    const http = serveMetrics(0, { metrics, health: () => worker.worker.health });
    const base = `http://127.0.0.1:${http.addr.port}`;
    try {
      await broker.publish({ match_id: "metric-1", telemetry_url: server.url("metric-1") });
      await broker.publish("{not json");
      await waitFor(() => worker.jobs().length === 2);
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.match(text, /telemetry_consume_jobs_total\{outcome="downloaded"\} 1/);
      assert.match(text, /telemetry_consume_dead_lettered_total\{kind="permanent"\} 1/);
      assert.match(text, /telemetry_consume_broker_connected 1/);
      assert.match(text, /telemetry_consume_in_flight 0/);
      assert.match(text, /telemetry_consume_bytes_stored_total [1-9]/);
      assert.match(text, /telemetry_consume_job_seconds_bucket/);
      assert.match(text, /telemetry_consume_process_resident_memory_bytes/);
      await worker.stop();
      const after = await fetch(`${base}/healthz`);
      assert.equal(after.status, 503);
      await after.body?.cancel();
    } finally {
      await worker.stop();
      await http.shutdown();
    }
  }, { worker: { metrics } });
});

Deno.test("Consumer starts with a new --retry-delay on the same queues, and each retry waits its own delay", async () => {
  const env = randomEnv();
  const server = new TelemetryServer();
  server.behave = (_id, request) =>
    request === 1 ? { type: "status", status: 503 } : { type: "ok" };
  const broker = await TestBroker.open(env);
  let worker = await startWorker(env, { flags: { retryDelay: 0.2 } });
  try {
    await worker.stop();
    await Deno.remove(worker.dataDir, { recursive: true });
    worker = await startWorker(env, { flags: { retryDelay: 1.5 } });
    const published = performance.now();
    await broker.publish({ match_id: "delay-1", telemetry_url: server.url("delay-1") });
    await waitFor(() => worker.jobs().some((j) => j.outcome === "downloaded"), {
      what: "the retried job done",
    });
    const waited = performance.now() - published;
    assert.ok(waited >= 1400, `the retry waited ${waited} ms, not the new 1.5 s`);
    assert.deepEqual(worker.jobs().map((j) => j.outcome), ["retry", "downloaded"]);
  } finally {
    await endWorkerTest({ worker, broker, server });
  }
});

Deno.test("Consumer refuses a retry queue left with an older version's TTL, saying what to run", async () => {
  const env = randomEnv();
  const url = await testBrokerUrl();
  const { AMQPClient } = await import("amqp-client");
  const client = new AMQPClient(url);
  await client.connect();
  const channel = await client.channel();
  const names = topologyNames(env);
  await channel.queueDeclare(names.retryQueue, { durable: true }, {
    "x-message-ttl": 60_000,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": names.queue,
  });
  const lines: string[] = [];
  const worker = new Consumer(config(env, url), {
    log: createLogger({ format: "json", write: (l) => lines.push(l) }),
  });
  try {
    await assert.rejects(worker.run(), (err) => {
      assert.ok(err instanceof BrokerConfigError);
      assert.match(
        err.message,
        /rabbitmqctl delete_queue match\.telemetry\.retry\.t-\S+ --if-empty/,
      );
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  } finally {
    const cleanup = await client.channel();
    for (
      const queue of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]
    ) {
      await cleanup.queueDelete(queue);
    }
    await cleanup.exchangeDelete(names.exchange);
    await client.close();
  }
});

Deno.test("openSession() gives up a handshake that never comes and closes its socket: 50 tries leak no fd", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  const amqpUrl = `amqp://guest:guest@127.0.0.1:${listener.addr.port}/%2F`;
  const url = { amqpUrl, redactedUrl: amqpUrl.replace(":guest@", ":***@") };
  const options = {
    names: topologyNames("t-silent"),
    prefetch: 1,
    confirmTimeoutMs: 1_000,
    onMessage() {},
  };
  function openFds(): number {
    return Array.from(Deno.readDirSync("/proc/self/fd")).length;
  }
  async function closeAccepted(): Promise<void> {
    for (const conn of accepted.splice(0)) conn.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    // A first try loads the AMQP client, whose files stay open.
    await assert.rejects(openSession(url, { ...options, connectTimeoutMs: 50 }));
    await closeAccepted();
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      await assert.rejects(
        openSession(url, { ...options, connectTimeoutMs: 50 }),
        /no AMQP handshake within 0.05 s/,
      );
    }
    await closeAccepted();
    const after = openFds();
    assert.ok(after - before <= 2, `open fds went from ${before} to ${after}`);
    const controller = new AbortController();
    const aborted = openSession(url, { ...options, signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, /connect aborted/);
  } finally {
    await closeAccepted();
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("Session.pause() stops deliveries without ending the session; resume() consumes again", async () => {
  const env = randomEnv();
  const broker = await TestBroker.open(env);
  const url = await testBrokerUrl();
  const received: string[] = [];
  const session = await openSession({ amqpUrl: url, redactedUrl: url }, {
    names: topologyNames(env),
    prefetch: 4,
    confirmTimeoutMs: 5_000,
    onMessage(message) {
      received.push(message.bodyToString() ?? "");
      void message.ack();
    },
  });
  try {
    await broker.publish("one");
    await waitFor(() => received.length === 1, { what: "first delivery" });
    await session.pause();
    await broker.publish("two");
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(received, ["one"], "nothing delivered while paused");
    assert.equal(session.alive, true, "the session stays up");
    assert.equal(await broker.count(broker.names.queue), 1);
    await session.resume();
    await waitFor(() => received.length === 2, { what: "delivery after the resume" });
    assert.deepEqual(received, ["one", "two"]);
    assert.equal(session.alive, true);
    await session.cancel();
    await session.resume();
    await broker.publish("three");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received.length, 2, "no resume after a cancel");
  } finally {
    await session.close();
    await broker.cleanup();
  }
});
