import assert from "node:assert/strict";
import { healthzUrl, probeHealth } from "../../../src/core/http/health_probe.ts";
import { TelemetryError } from "../../../src/core/errors.ts";

Deno.test("healthzUrl() appends /healthz, replaces /metrics and keeps /healthz", () => {
  const cases: [string, string][] = [
    ["http://localhost:9092", "http://localhost:9092/healthz"],
    ["http://localhost:9092/", "http://localhost:9092/healthz"],
    ["http://localhost:9092/metrics", "http://localhost:9092/healthz"],
    ["https://mon.example/worker-1/", "https://mon.example/worker-1/healthz"],
    ["http://10.0.0.5:9092/healthz?x=1", "http://10.0.0.5:9092/healthz"],
  ];
  for (const [given, expected] of cases) assert.equal(healthzUrl(given), expected, given);
});

Deno.test("healthzUrl() refuses what is not an http(s) URL as a usage error", () => {
  for (const given of ["localhost:9092", "ftp://host/", "not a url"]) {
    assert.throws(() => healthzUrl(given), (err) => {
      assert.ok(err instanceof TelemetryError);
      assert.equal(err.kind, "usage");
      assert.match(err.message, /--metrics-url/);
      return true;
    });
  }
});

Deno.test("probeHealth() gives the status and first line, or the error within the deadline", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 2_000));
    return new Response("unhealthy: stopping\nmore\n", { status: 503 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    assert.deepEqual(await probeHealth(`${base}/healthz`), {
      url: `${base}/healthz`,
      status: 503,
      body: "unhealthy: stopping",
    });
    const slow = await probeHealth(`${base}/slow`, { timeoutMs: 100 });
    assert.equal(slow.status, null);
    assert.equal(slow.error, "no answer within 0.1 s");
  } finally {
    await server.shutdown();
  }
});
