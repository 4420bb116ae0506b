import assert from "node:assert/strict";
import {
  assessStatus,
  pauseReason,
  statusJson,
  type StatusReport,
  statusText,
} from "../../src/commands/status_report.ts";
import type { StoreStats } from "../../src/core/store/store_stats.ts";
import type { QueueState } from "../../src/queue/status.ts";

function queue(name: string, messages: number, consumers: number): QueueState {
  return { name, exists: true, messages, consumers, type: "quorum" };
}

/** A report whose counts are all `n`: no consumer, `n` dead letters, `n` of everything stored. */
function reportOf(n: number): StatusReport {
  const stats: StoreStats = {
    dataDir: "/data",
    matches: n,
    bytes: 2048,
    withoutFile: n,
    irregular: 0,
    tempFiles: n,
    tempBytes: 10,
    staleTempFiles: n,
    unreadable: n,
    seconds: 0.1,
  };
  return {
    env: "prod",
    at: new Date(0),
    maxDlq: 0,
    worker: null,
    store: { dataDir: "/data", stats },
    broker: {
      url: "amqp://guest:***@127.0.0.1/",
      deadLetters: null,
      queues: {
        input: queue("match.telemetry.prod", n, 0),
        retry: queue("match.telemetry.retry.prod", 0, 0),
        dead_letter: queue("dlq.telemetry.prod", n, 0),
        processing: queue("match.processing.telemetry.prod", 0, 1),
      },
    },
  };
}

/**
 * Checks the warnings and the store line of {@linkcode reportOf}(n); returns
 * the report, its verdict and its screen.
 */
function checkCounts(n: number, warnings: string[], storeLine: string) {
  const report = reportOf(n);
  const verdict = assessStatus(report);
  assert.deepEqual(verdict.warnings, warnings);
  const screen = statusText(report, verdict);
  assert.ok(screen.includes(storeLine), screen.join("\n"));
  return { report, verdict, screen };
}

Deno.test("assessStatus() and statusText() write a count of 1 in the singular", () => {
  const { report, verdict, screen } = checkCounts(
    1,
    [
      "1 temp file older than 1 h in /data: left by a crash ('telemetry verify --fix' removes it)",
      "1 entry of /data could not be read",
    ],
    "store: /data: 1 match, 2.0 KiB; 1 temp file (10 B, 1 older than 1 h); " +
      "1 match dir without raw.json.gz (0.1 s)",
  );
  assert.deepEqual(verdict.problems, [
    "nothing consumes match.telemetry.prod (1 job waiting)",
    "1 dead letter in dlq.telemetry.prod, more than --max-dlq 0",
  ]);
  assert.equal(screen.at(-1), "status: unhealthy (2 problems)");
  assert.equal(
    statusText(report, { ...verdict, problems: ["x"] }).at(-1),
    "status: unhealthy (1 problem)",
  );
});

Deno.test("assessStatus() and statusText() write other counts in the plural", () => {
  checkCounts(
    2,
    [
      "2 temp files older than 1 h in /data: left by a crash ('telemetry verify --fix' removes them)",
      "2 entries of /data could not be read",
    ],
    "store: /data: 2 matches, 2.0 KiB; 2 temp files (10 B, 2 older than 1 h); " +
      "2 match dirs without raw.json.gz (0.1 s)",
  );
});

Deno.test("assessStatus() warns of free space below consume's default floor; statusJson() gives it in bytes", () => {
  const report = reportOf(0);
  const MiB = 1024 ** 2;
  report.store = { dataDir: "/data", space: { free: 512 * MiB, total: 8192 * MiB } };
  const verdict = assessStatus(report);
  assert.deepEqual(verdict.warnings, [
    "512.0 MiB free of 8.0 GiB (6%) on the file system of /data: below consume's default " +
    "--min-free-space 1.0 GiB, where a worker pauses",
  ]);
  const screen = statusText(report, verdict);
  assert.ok(screen.includes("store free space: 512.0 MiB free of 8.0 GiB (6%)"), screen.join("\n"));
  const store = statusJson(report, verdict).store as Record<string, unknown>;
  assert.deepEqual([store.free_bytes, store.total_bytes], [512 * MiB, 8192 * MiB]);
  report.store.space = { free: 2048 * MiB, total: 8192 * MiB };
  assert.deepEqual(assessStatus(report).warnings, []);
});

Deno.test("pauseReason() reads a 503 'unhealthy: store paused: <reason>', nothing else", () => {
  const url = "http://127.0.0.1:9092/healthz";
  assert.equal(
    pauseReason({ url, status: 503, body: "unhealthy: store paused: read-only file system" }),
    "read-only file system",
  );
  assert.equal(pauseReason({ url, status: 503, body: "unhealthy: not connected" }), undefined);
  assert.equal(pauseReason({ url, status: 200, body: "ok: consuming" }), undefined);
  assert.equal(pauseReason({ url, status: null, body: null, error: "refused" }), undefined);
});

Deno.test("assessStatus(): a queue that exists but is unavailable (home node down) is a problem for the input queue, a warning for the others", () => {
  const report = reportOf(1);
  const down = "home node 'rabbit@b' of durable queue is down or inaccessible";
  report.broker.queues.input = { ...report.broker.queues.input, unavailable: down };
  report.broker.queues.dead_letter = { ...report.broker.queues.dead_letter, unavailable: down };
  const verdict = assessStatus(report);
  assert.ok(
    verdict.problems.includes(`queue match.telemetry.prod exists but is unavailable: ${down}`),
    verdict.problems.join("\n"),
  );
  assert.ok(
    verdict.warnings.includes(`queue dlq.telemetry.prod (dead letters) is unavailable: ${down}`),
    verdict.warnings.join("\n"),
  );
  const screen = statusText(report, verdict).join("\n");
  assert.match(screen, /match\.telemetry\.prod\s+unavailable/);
  const json = statusJson(report, verdict) as { queues: Record<string, { unavailable: unknown }> };
  assert.equal(json.queues.input?.unavailable, down);
  assert.equal(json.queues.retry?.unavailable, null);
});
