/**
 * The shutdown budget of `telemetry consume`: after SIGTERM, at any moment,
 * the process exits 0 within `--shutdown-timeout` plus 5 s, all told.
 */

import assert from "node:assert/strict";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { nodeTest } from "../support/test_broker.ts";
import { randomEnv, TelemetryServer, TestBroker, waitFor } from "../queue/harness.ts";
import { brokerChildEnv } from "../queue/operator_support.ts";
import { Child, listTree, testArgs } from "./consume_child.ts";

/** What the worker promises beyond --shutdown-timeout (SHUTDOWN_MARGIN_MS). */
const MARGIN_S = 5;

/** A TCP port that accepts connections and never says a word. */
function blackHole(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    close() {
      listener.close();
      for (const conn of held) {
        try {
          conn.close();
        } catch { /* already closed by the peer */ }
      }
    },
  };
}

/** Sends SIGTERM and returns the exit code and the seconds it took. */
async function terminate(child: Child): Promise<{ code: number; seconds: number }> {
  const started = performance.now();
  child.process.kill("SIGTERM");
  const code = await child.exit();
  return { code, seconds: (performance.now() - started) / 1000 };
}

Deno.test("telemetry consume exits 0 in time on SIGTERM while connecting to a broker that never answers", async () => {
  const hole = blackHole();
  const dataDir = await Deno.makeTempDir();
  const shutdown = 2;
  const child = new Child(
    testArgs(randomEnv(), dataDir, ["--shutdown-timeout", String(shutdown)]),
    { ...await brokerChildEnv(), RABBITMQ_HOST: "127.0.0.1", RABBITMQ_PORT: String(hole.port) },
  );
  try {
    await waitFor(() => child.events("consume_started").length === 1, { what: "started" });
    // Well into the (30 s) connect deadline.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { code, seconds } = await terminate(child);
    assert.equal(code, 0, child.raw.join("\n"));
    assert.ok(seconds < shutdown + MARGIN_S, `exited after ${seconds} s`);
    assert.equal(child.events("shutdown_done").length, 1, child.raw.join("\n"));
    assert.equal(child.events("broker_connected").length, 0);
  } finally {
    await child.kill();
    hole.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("telemetry consume exits 0 in time on SIGTERM while waiting to reconnect to a broker that is down", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close(); // connects to it are refused
  const dataDir = await Deno.makeTempDir();
  const shutdown = 1;
  const child = new Child(
    testArgs(randomEnv(), dataDir, ["--shutdown-timeout", String(shutdown)]),
    { ...await brokerChildEnv(), RABBITMQ_HOST: "127.0.0.1", RABBITMQ_PORT: String(port) },
  );
  try {
    await waitFor(() => child.events("broker_unreachable").length >= 1, { what: "refused" });
    const { code, seconds } = await terminate(child);
    assert.equal(code, 0, child.raw.join("\n"));
    assert.ok(seconds < shutdown + MARGIN_S, `exited after ${seconds} s`);
    assert.equal(child.events("shutdown_done").length, 1);
  } finally {
    await child.kill();
    await Deno.remove(dataDir, { recursive: true });
  }
});

nodeTest(
  "telemetry consume exits 0 in time on SIGTERM while a publish waits on a blocked broker, leaving the job unacked",
  async (node) => {
    const env = randomEnv();
    const dataDir = await Deno.makeTempDir();
    const server = new TelemetryServer();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    server.behave = (id) => id === "blocked-1" ? { type: "ok", until: gate } : { type: "ok" };
    const broker = await TestBroker.open(env);
    const shutdown = 1;
    const child = new Child(
      testArgs(env, dataDir, ["--shutdown-timeout", String(shutdown), "--confirm-timeout", "30"]),
      await brokerChildEnv(),
    );
    let alarmOn = false;
    try {
      await waitFor(() => child.events("broker_connected").length === 1, { what: "connected" });
      await broker.publish({ match_id: "blocked-0", telemetry_url: server.url("blocked-0") });
      await waitFor(() => child.events("job").length === 1, { what: "first job" });
      await broker.publish({ match_id: "blocked-1", telemetry_url: server.url("blocked-1") });
      await waitFor(() => server.requests.has("blocked-1"), { what: "gated download" });
      await rabbitmqctl(node.name, "set_vm_memory_high_watermark", "0.0000001");
      alarmOn = true;
      release();
      await waitFor(() => child.events("broker_blocked").length === 1, {
        timeoutMs: 30_000,
        what: "broker_blocked",
      });
      const { code, seconds } = await terminate(child);
      assert.equal(code, 0, child.raw.join("\n"));
      assert.ok(seconds < shutdown + MARGIN_S, `exited after ${seconds} s`);
      assert.equal(child.events("job")[1]?.outcome, "unacked", child.raw.join("\n"));
      await rabbitmqctl(node.name, "set_vm_memory_high_watermark", "0.4");
      alarmOn = false;
      // Nothing lost: the unacked job is back in its queue.
      await waitFor(async () => await broker.count(broker.names.queue) === 1, {
        what: "the job requeued",
      });
      assert.deepEqual(
        (await listTree(dataDir)).filter((p) => p.endsWith(".tmp")),
        [],
        "no temp file left",
      );
    } finally {
      if (alarmOn) await rabbitmqctl(node.name, "set_vm_memory_high_watermark", "0.4");
      release();
      await child.kill();
      await broker.cleanup();
      await server.close();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);
