import assert from "node:assert/strict";
import { assessStatus, type StatusReport, statusText } from "../../src/commands/status_report.ts";
import type { StoreStats } from "../../src/core/store/store_stats.ts";
import type { QueueState } from "../../src/queue/status.ts";

function queue(name: string, messages: number, consumers: number): QueueState {
  return { name, exists: true, messages, consumers };
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

Deno.test("assessStatus() and statusText() write a count of 1 in the singular", () => {
  const report = reportOf(1);
  const verdict = assessStatus(report);
  assert.deepEqual(verdict.problems, [
    "nothing consumes match.telemetry.prod (1 job waiting)",
    "1 dead letter in dlq.telemetry.prod, more than --max-dlq 0",
  ]);
  assert.deepEqual(verdict.warnings, [
    "1 temp file older than 1 h in /data: left by a crash ('telemetry verify --fix' removes it)",
    "1 entry of /data could not be read",
  ]);
  const screen = statusText(report, verdict);
  assert.ok(
    screen.includes(
      "store: /data: 1 match, 2.0 KiB; 1 temp file (10 B, 1 older than 1 h); " +
        "1 match dir without raw.json.gz (0.1 s)",
    ),
    screen.join("\n"),
  );
  assert.equal(screen.at(-1), "status: unhealthy (2 problems)");
  assert.equal(
    statusText(report, { ...verdict, problems: ["x"] }).at(-1),
    "status: unhealthy (1 problem)",
  );
});

Deno.test("assessStatus() and statusText() write other counts in the plural", () => {
  const report = reportOf(2);
  const verdict = assessStatus(report);
  assert.deepEqual(verdict.warnings, [
    "2 temp files older than 1 h in /data: left by a crash ('telemetry verify --fix' removes them)",
    "2 entries of /data could not be read",
  ]);
  assert.ok(
    statusText(report, verdict).includes(
      "store: /data: 2 matches, 2.0 KiB; 2 temp files (10 B, 2 older than 1 h); " +
        "2 match dirs without raw.json.gz (0.1 s)",
    ),
  );
});
