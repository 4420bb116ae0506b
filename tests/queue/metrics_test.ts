import assert from "node:assert/strict";
import { TelemetryError } from "../../src/core/errors.ts";
import { createMetrics, type Metrics, serveMetrics } from "../../src/queue/metrics.ts";
import { runCli } from "../support/cli.ts";

const IN_USE = (port: number) =>
  `metrics port ${port} is already in use (--metrics-port): ` +
  "stop the other process or pick another port";

Deno.test("serveMetrics() names the port and the flag when the port is taken", () => {
  using listener = Deno.listen({ port: 0 });
  const { port } = listener.addr;
  assert.throws(
    () => serveMetrics(port, { metrics: {} as Metrics, health: () => ({ ok: true, detail: "" }) }),
    (err) => {
      assert.ok(err instanceof TelemetryError, String(err));
      assert.equal(err.kind, "fatal");
      assert.equal(err.message, IN_USE(port));
      assert.ok(err.cause instanceof Deno.errors.AddrInUse);
      return true;
    },
  );
});

Deno.test("serveMetrics() taken port: consume says which port and flag in one line, exit 1", async () => {
  using listener = Deno.listen({ port: 0 });
  const { port } = listener.addr;
  const dataDir = await Deno.makeTempDir({ prefix: "metrics-port-" });
  try {
    const [stdout, stderr, code] = await runCli([
      "consume",
      "--env",
      "test",
      "--data-dir",
      dataDir,
      "--amqp-url",
      "amqp://guest:guest@127.0.0.1:1/",
      "--metrics-port",
      String(port),
    ]);
    assert.equal(code, 1, stderr);
    assert.equal(stdout, "");
    assert.ok(stderr.includes(IN_USE(port)), stderr);
    assert.doesNotMatch(stderr, /os error 98/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("createMetrics() store_paused gauge: 0 at start, 1 while paused, 0 after; a requeued job is counted by outcome", async () => {
  const metrics = await createMetrics();
  const gauge = async () =>
    (await metrics.render()).split("\n").find((l) =>
      l.startsWith("telemetry_consume_store_paused ")
    );
  assert.equal(await gauge(), "telemetry_consume_store_paused 0");
  metrics.storePaused(true);
  assert.equal(await gauge(), "telemetry_consume_store_paused 1");
  metrics.storePaused(false);
  assert.equal(await gauge(), "telemetry_consume_store_paused 0");
  metrics.jobSettled({ outcome: "requeued", attempt: 1, kind: "store" }, {
    bytes: undefined,
    seconds: 0.1,
  });
  assert.match(await metrics.render(), /telemetry_consume_jobs_total\{outcome="requeued"\} 1/);
});

Deno.test("serveMetrics() /healthz answers 503 with the store pause's reason", async () => {
  const server = serveMetrics(0, {
    metrics: await createMetrics(),
    health: () => ({ ok: false, detail: "store paused: cannot write x: no space left on device" }),
  });
  try {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
    assert.equal(response.status, 503);
    assert.equal(
      await response.text(),
      "unhealthy: store paused: cannot write x: no space left on device\n",
    );
  } finally {
    await server.shutdown();
  }
});
