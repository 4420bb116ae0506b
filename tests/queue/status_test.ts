/**
 * `readBrokerStatus()` against the real test broker: each queue's type,
 * read with a declare the broker refuses (classic and quorum queues, with
 * and without arguments of their own; nothing is ever created), and the
 * reads that go on through the next listed node when one is lost or stops
 * answering during them.
 */

import assert from "node:assert/strict";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { PROBE_QUEUE_TYPE, readBrokerStatus } from "../../src/queue/status.ts";
import { declareTopology, topologyNames } from "../../src/queue/topology.ts";
import { queueReadProxy, withEnvQueues } from "../support/status_support.ts";
import { testBrokerUrl } from "../support/test_broker.ts";
import { randomEnv } from "./harness.ts";
import { testBrokerSettings, withBroker } from "./operator_support.ts";

function everyRole(type: string) {
  return { input: type, retry: type, dead_letter: type, processing: type };
}

function types(status: Awaited<ReturnType<typeof readBrokerStatus>>) {
  return Object.fromEntries(Object.entries(status.queues).map(([role, q]) => [role, q.type]));
}

Deno.test("readBrokerStatus() reads the type of the classic queues the worker declares, the retry queue's dead-letter arguments included", async () => {
  await withBroker(async (_broker, env) => {
    const status = await readBrokerStatus(await testBrokerSettings(env));
    assert.equal(status.failure, undefined);
    assert.equal(status.typeError, undefined);
    assert.deepEqual(types(status), everyRole("classic"));
  });
});

Deno.test("readBrokerStatus() reads quorum queues as quorum: the worker's, and one another service declared with arguments of its own", async () => {
  const env = randomEnv();
  await withEnvQueues(env, async (client) => {
    const names = { ...topologyNames(env), queueType: "quorum" as const };
    const channel = await client.channel();
    await channel.queueDeclare(names.publishQueue, { durable: true }, {
      "x-queue-type": "quorum",
      "x-max-length": 100,
      "x-delivery-limit": 7,
    });
    await declareTopology(channel, { names });
    const status = await readBrokerStatus(await testBrokerSettings(env));
    assert.equal(status.failure, undefined);
    assert.deepEqual(types(status), everyRole("quorum"));
    // The refusals closed only their own channels: the queues are as they were.
    const counts = await channel.queueDeclare(names.publishQueue, { passive: true });
    assert.equal(counts.messageCount, 0);
  });
});

Deno.test("readBrokerStatus() never creates a queue: missing queues have no type, and the probe's type cannot be declared", async () => {
  const env = randomEnv();
  await withEnvQueues(env, async (client) => {
    const names = topologyNames(env);
    const channel = await client.channel();
    await channel.queueDeclare(names.queue, { durable: true });
    const status = await readBrokerStatus(await testBrokerSettings(env));
    assert.equal(status.queues.input.type, "classic");
    for (const role of ["retry", "dead_letter", "processing"] as const) {
      assert.deepEqual(
        [status.queues[role].exists, status.queues[role].type],
        [false, null],
        role,
      );
    }
    const probe = await client.channel();
    probe.onerror = () => {};
    await assert.rejects(
      probe.queueDeclare(names.retryQueue, { durable: true }, { "x-queue-type": PROBE_QUEUE_TYPE }),
      /unsupported queue type/,
    );
    const check = await client.channel();
    check.onerror = () => {};
    await assert.rejects(check.queueDeclare(names.retryQueue, { passive: true }), /NOT_FOUND/);
  });
});

for (const fault of ["drop", "stall"] as const) {
  Deno.test(
    `readBrokerStatus() reads through the next listed node when the first ${
      fault === "drop" ? "is lost" : "stops answering"
    } during the reads; with no other node, the broker is lost`,
    async () => {
      await withBroker(async (broker, env) => {
        const direct = await testBrokerUrl();
        const proxy = queueReadProxy(
          { hostname: "127.0.0.1", port: Number(new URL(direct).port) },
          fault,
        );
        try {
          const both = resolveBrokerSettings({ env, amqpUrl: [proxy.urlFor(direct), direct] }, {});
          const status = await readBrokerStatus(both, { connectTimeoutMs: 2_000 });
          assert.equal(status.failure, undefined, status.failure?.message);
          assert.equal(status.node, both.urls[1]!.redacted);
          assert.equal(status.queues.input.name, broker.names.queue);
          assert.deepEqual([status.queues.input.exists, status.queues.input.type], [
            true,
            "classic",
          ]);
          assert.equal(proxy.declares, 1);

          const alone = resolveBrokerSettings({ env, amqpUrl: proxy.urlFor(direct) }, {});
          const lost = await readBrokerStatus(alone, { connectTimeoutMs: 1_000 });
          assert.equal(lost.failure?.kind, "lost");
          assert.match(
            lost.failure?.message ?? "",
            fault === "drop"
              ? /^lost the broker at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+\S*: /
              : /: no answer to the queue reads within 1 s$/,
          );
          assert.equal(lost.node, undefined);
          assert.equal(lost.queues.input.exists, null);
        } finally {
          await proxy.close();
        }
      });
    },
  );
}
