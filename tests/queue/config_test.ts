import assert from "node:assert/strict";
import { topologyNames } from "../../src/queue/topology.ts";
import { toDownloadSettings } from "../../src/cli/download_options.ts";
import { TelemetryError } from "../../src/core/errors.ts";
import { type ConsumeFlags, resolveConsumeConfig } from "../../src/queue/config.ts";
import { redactAmqpUrl } from "../../src/queue/broker_settings.ts";

const download = toDownloadSettings({
  dataDir: "/tmp/data",
  maxBytes: 1e9,
  maxDecompressedBytes: 4e9,
  headersTimeout: 30,
  idleTimeout: 30,
  attemptTimeout: 120,
  attempts: 3,
  backoff: 1,
  maxRetryAfter: 60,
});
const defaults: ConsumeFlags = {
  concurrency: 4,
  retryDelay: 60,
  maxDeliveries: 5,
  shutdownTimeout: 30,
  confirmTimeout: 30,
};

function resolve(flags: Partial<ConsumeFlags>, env: Record<string, string> = {}) {
  return resolveConsumeConfig({ ...defaults, ...flags }, { env, download, defaultWorkerId: "h-1" });
}

function assertUsage(fn: () => unknown, pattern: RegExp) {
  assert.throws(
    fn,
    (err) => err instanceof TelemetryError && err.kind === "usage" && pattern.test(err.message),
  );
}

Deno.test("resolveConsumeConfig() builds the URL from RABBITMQ_* with a 30 s heartbeat and redacts the password", () => {
  const config = resolve({ env: "prod" }, {
    RABBITMQ_HOST: "mq.internal",
    RABBITMQ_PORT: "5673",
    RABBITMQ_USER: "worker",
    RABBITMQ_PASSWORD: "p@ss/word",
    RABBITMQ_VHOST: "pewstats",
  });
  assert.equal(
    config.amqpUrl,
    "amqp://worker:p%40ss%2Fword@mq.internal:5673/pewstats?heartbeat=30&frameMax=131072",
  );
  assert.equal(
    config.redactedUrl,
    "amqp://worker:***@mq.internal:5673/pewstats?heartbeat=30&frameMax=131072",
  );
  assert.doesNotMatch(config.redactedUrl, /p%40ss|p@ss/);
});

Deno.test("resolveConsumeConfig() defaults to guest@127.0.0.1:5672 vhost /", () => {
  assert.equal(
    resolve({ env: "prod" }).amqpUrl,
    "amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=30&frameMax=131072",
  );
});

Deno.test("resolveConsumeConfig() prefers --amqp-url, then RABBITMQ_URL, and keeps a given heartbeat", () => {
  const env = { RABBITMQ_URL: "amqps://a:b@x/v?heartbeat=10", RABBITMQ_HOST: "ignored" };
  assert.equal(
    resolve({ env: "p" }, env).amqpUrl,
    "amqps://a:b@x/v?heartbeat=10&frameMax=131072",
  );
  assert.equal(
    resolve({ env: "p", amqpUrl: "amqp://c:d@y/" }, env).amqpUrl,
    "amqp://c:d@y/?heartbeat=30&frameMax=131072",
  );
});

Deno.test("resolveConsumeConfig() rejects a non-amqp URL", () => {
  assertUsage(() => resolve({ env: "p", amqpUrl: "http://x/" }), /scheme http:/);
  assertUsage(() => resolve({ env: "p", amqpUrl: "not a url" }), /not a URL/);
});

Deno.test("resolveConsumeConfig() takes --env, then TELEMETRY_ENV, then ENVIRONMENT", () => {
  assert.equal(resolve({}, { ENVIRONMENT: "staging" }).env, "staging");
  assert.equal(resolve({}, { ENVIRONMENT: "staging", TELEMETRY_ENV: "dev" }).env, "dev");
  assert.equal(resolve({ env: "prod" }, { TELEMETRY_ENV: "dev" }).env, "prod");
});

Deno.test("resolveConsumeConfig() rejects a missing or malformed env", () => {
  assertUsage(() => resolve({}), /missing environment/);
  assertUsage(() => resolve({ env: "Prod" }), /\[a-z0-9-\]\+/);
  assertUsage(() => resolve({ env: "a.b" }), /invalid --env/);
});

Deno.test("resolveConsumeConfig() names the topology and converts seconds", () => {
  const config = resolve({ env: "prod", retryDelay: 1.5, shutdownTimeout: 0 });
  assert.deepEqual(config.names, topologyNames("prod"));
  assert.equal(config.retryDelayMs, 1500);
  assert.equal(config.shutdownTimeoutMs, 0);
  assert.equal(config.workerId, "h-1");
  assert.equal(
    resolve({ env: "prod", publishQueue: "match.processing.prod" }).names.publishQueue,
    "match.processing.prod",
  );
});

Deno.test("redactAmqpUrl() hides the password only", () => {
  assert.equal(redactAmqpUrl("amqp://u:secret@h:1/v"), "amqp://u:***@h:1/v");
  assert.equal(redactAmqpUrl("amqp://h/v"), "amqp://h/v");
  assert.equal(redactAmqpUrl("::"), "<invalid URL>");
});
