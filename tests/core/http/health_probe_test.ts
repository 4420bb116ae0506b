import assert from "node:assert/strict";
import { healthzUrl, probeHealth } from "../../../src/core/http/health_probe.ts";
import { TelemetryError } from "../../../src/core/errors.ts";
import { closedPort } from "../../support/status_support.ts";

const EXPECTED = "expected http://HOST:PORT (e.g. http://127.0.0.1:9092)";

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

Deno.test("healthzUrl() shows the expected form for a host and port without a scheme", () => {
  const cases: [string, string][] = [
    ["localhost:9092", `--metrics-url localhost:9092 is not a URL: ${EXPECTED}`],
    ["not a url", `--metrics-url "not a url" is not a URL: ${EXPECTED}`],
    ["ftp://host/", `--metrics-url ftp://host/ is not an http(s) URL: ${EXPECTED}`],
  ];
  for (const [given, message] of cases) {
    assert.throws(() => healthzUrl(given), (err) => {
      assert.ok(err instanceof TelemetryError);
      assert.equal(err.message, message);
      return true;
    });
  }
});

Deno.test("healthzUrl() never repeats the credentials of a value it refuses", () => {
  for (const given of ["ftp://admin:s3cret@host/", "admin:s3cret@localhost:9092"]) {
    assert.throws(() => healthzUrl(given), (err) => {
      assert.ok(err instanceof TelemetryError);
      assert.doesNotMatch(err.message, /s3cret/);
      assert.match(err.message, /expected http:\/\/HOST:PORT/);
      return true;
    });
  }
});

Deno.test("probeHealth() says 'connection refused' when nothing listens", async () => {
  const answer = await probeHealth(`http://127.0.0.1:${closedPort()}/healthz`);
  assert.equal(answer.status, null);
  assert.equal(answer.error, "connection refused");
});

Deno.test("probeHealth() finds a refused connection anywhere in the error's cause chain", async () => {
  const refused = [
    new TypeError("fetch failed", { cause: new Deno.errors.ConnectionRefused("refused") }),
    new TypeError("fetch failed", {
      cause: new Error("x", {
        cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }),
      }),
    }),
  ];
  for (const err of refused) {
    const answer = await probeHealth("http://127.0.0.1:9/healthz", {
      fetch: () => Promise.reject(err),
    });
    assert.equal(answer.error, "connection refused");
  }
  const dns = await probeHealth("http://h.invalid:9092/healthz", {
    fetch: () =>
      Promise.reject(
        new TypeError("fetch failed", {
          cause: new Error(
            "error sending request for url (http://h.invalid:9092/healthz): client error (Connect): dns error: failed to lookup address information",
          ),
        }),
      ),
  });
  assert.equal(
    dns.error,
    "client error (Connect): dns error: failed to lookup address information",
  );
});

Deno.test("probeHealth() sends the URL's credentials but never shows them", async () => {
  let authorization: string | null = null;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    authorization = req.headers.get("authorization");
    return new Response("ok\n");
  });
  try {
    const answer = await probeHealth(`http://admin:s3cret@127.0.0.1:${server.addr.port}/healthz`);
    assert.deepEqual(answer, {
      url: `http://127.0.0.1:${server.addr.port}/healthz`,
      status: 200,
      body: "ok",
    });
    assert.equal(authorization, `Basic ${btoa("admin:s3cret")}`);
    const gone = await probeHealth(`http://admin:s3cret@127.0.0.1:${closedPort()}/healthz`);
    assert.doesNotMatch(JSON.stringify(gone), /s3cret|admin/);
  } finally {
    await server.shutdown();
  }
});
