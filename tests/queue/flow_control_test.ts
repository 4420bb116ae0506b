/**
 * A broker resource alarm, for real: the private node's memory watermark is
 * set so low that it blocks publishers, then put back.
 */

import assert from "node:assert/strict";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { nodeTest } from "../support/test_broker.ts";
import { createMetrics, serveMetrics } from "../../src/queue/metrics.ts";
import { randomEnv, startWorker, TelemetryServer, TestBroker, waitFor } from "./harness.ts";

/** RabbitMQ's default watermark, restored after the alarm. */
const DEFAULT_WATERMARK = "0.4";

nodeTest(
  "Consumer pauses on a broker alarm without reconnecting or acking, says so, and resumes",
  async (node) => {
    const env = randomEnv();
    const server = new TelemetryServer();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    server.behave = (matchId) =>
      matchId === "alarm-1" ? { type: "ok", until: gate } : { type: "ok" };
    const broker = await TestBroker.open(env);
    const metrics = await createMetrics();
    const worker = await startWorker(env, {
      flags: { concurrency: 1, confirmTimeout: 1 },
      worker: { metrics },
    });
    const http = serveMetrics(0, { metrics, health: () => worker.worker.health });
    const base = `http://127.0.0.1:${http.addr.port}`;
    let alarmOn = false;
    try {
      // A first job, so the worker's connection has published before the alarm.
      await broker.publish({ match_id: "alarm-0", telemetry_url: server.url("alarm-0") });
      await waitFor(() => worker.jobs().length === 1, { what: "the first job" });
      await broker.publish({ match_id: "alarm-1", telemetry_url: server.url("alarm-1") });
      await broker.publish({ match_id: "alarm-2", telemetry_url: server.url("alarm-2") });
      await waitFor(() => server.requests.has("alarm-1"), { what: "the gated download" });

      await rabbitmqctl(node.name, "set_vm_memory_high_watermark", "0.0000001");
      alarmOn = true;
      // The worker learns of the alarm once it publishes: let alarm-1 finish.
      release();
      await waitFor(() => worker.logs.some((l) => l.event === "broker_blocked"), {
        timeoutMs: 30_000,
        what: "broker_blocked",
      });
      // Well past the 1 s confirm timeout: still one session, nothing acked.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 503);
      assert.match(await health.text(), /blocked by the broker/);
      assert.match(
        await (await fetch(`${base}/metrics`)).text(),
        /telemetry_consume_broker_blocked 1/,
      );
      assert.equal(worker.logs.filter((l) => l.event === "broker_blocked").length, 1);
      assert.equal(worker.logs.filter((l) => l.event === "broker_connected").length, 1);
      assert.ok(!worker.logs.some((l) => l.event === "broker_connection_lost"));
      assert.equal(worker.jobs().length, 1, "no job settled while blocked");
      assert.ok(!server.requests.has("alarm-2"), "no new download started while blocked");

      await rabbitmqctl(node.name, "set_vm_memory_high_watermark", DEFAULT_WATERMARK);
      alarmOn = false;
      await waitFor(() => worker.jobs().length === 3, { timeoutMs: 30_000, what: "resumed" });
      assert.deepEqual(worker.jobs().map((l) => l.outcome), [
        "downloaded",
        "downloaded",
        "downloaded",
      ]);
      assert.ok(worker.logs.some((l) => l.event === "broker_unblocked"));
      assert.equal(worker.logs.filter((l) => l.event === "broker_connected").length, 1);
      const healthy = await fetch(`${base}/healthz`);
      assert.equal(healthy.status, 200);
      assert.equal(await healthy.text(), "ok: consuming\n");
      assert.match(
        await (await fetch(`${base}/metrics`)).text(),
        /telemetry_consume_broker_blocked 0/,
      );
      const announced = await broker.take(broker.names.publishQueue);
      assert.deepEqual(
        announced.map((m) => JSON.parse(m.bodyToString() ?? "").match_id).sort(),
        ["alarm-0", "alarm-1", "alarm-2"],
      );
    } finally {
      if (alarmOn) await rabbitmqctl(node.name, "set_vm_memory_high_watermark", DEFAULT_WATERMARK);
      release();
      await worker.stop();
      await http.shutdown();
      await broker.cleanup();
      await server.close();
      await Deno.remove(worker.dataDir, { recursive: true });
    }
  },
);
