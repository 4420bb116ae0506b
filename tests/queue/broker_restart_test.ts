/**
 * The test that restarts the broker application: it stops and starts only
 * the suite's private node, and always starts it again.
 */

import assert from "node:assert/strict";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { nodeTest } from "../support/test_broker.ts";
import { randomEnv, startWorker, TelemetryServer, TestBroker, waitFor } from "./harness.ts";

nodeTest(
  "Worker survives a broker restart with jobs in flight: every job stored once and announced",
  async (node) => {
    const env = randomEnv();
    const jobs = 60;
    const server = new TelemetryServer();
    server.behave = () => ({ type: "ok", delayMs: 200 });
    const broker = await TestBroker.open(env);
    const worker = await startWorker(env, { flags: { concurrency: 4 } });
    let appStopped = false;
    try {
      for (let i = 0; i < jobs; i++) {
        await broker.publish({
          match_id: `restart-${i}`,
          telemetry_url: server.url(`restart-${i}`),
        });
      }
      await waitFor(() => worker.jobs().length >= 6, { what: "some jobs done" });
      await waitFor(() => server.active > 0, { what: "downloads in flight when the broker stops" });
      appStopped = true;
      await rabbitmqctl(node.name, "stop_app");
      await rabbitmqctl(node.name, "start_app");
      appStopped = false;
      const announced = new Map<string, number>();
      await waitFor(async () => {
        for (const message of await broker.take(broker.names.publishQueue)) {
          const id = String(JSON.parse(message.bodyString() ?? "{}").match_id);
          announced.set(id, (announced.get(id) ?? 0) + 1);
        }
        return announced.size === jobs;
      }, { what: "every job announced", timeoutMs: 60_000 });
      await waitFor(async () => await broker.count(broker.names.queue) === 0, {
        what: "queue empty",
      });
      assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
      for (let i = 0; i < jobs; i++) {
        const dir = `${worker.dataDir}/matchID=restart-${i}`;
        const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
        assert.deepEqual(names, ["raw.json.gz"], `job ${i}: exactly one stored file`);
      }
      const lost = worker.logs.filter((l) => l.event === "broker_connection_lost");
      assert.ok(lost.length >= 1, "the worker saw the connection drop");
      await waitFor(() => worker.logs.filter((l) => l.event === "broker_connected").length >= 2, {
        what: "reconnected",
      });
      assert.ok(worker.jobs().some((l) => l.outcome === "unacked"), "some jobs were cut off");
    } catch (err) {
      const lines = worker.logs.filter((l) => l.event !== "job" || l.outcome !== "downloaded");
      console.error(lines.map((l) => JSON.stringify(l)).join("\n"));
      throw err;
    } finally {
      if (appStopped) await rabbitmqctl(node.name, "start_app");
      await worker.stop();
      await broker.cleanup();
      await server.close();
      await Deno.remove(worker.dataDir, { recursive: true });
    }
  },
);
