/**
 * One test per row of SETTLE_RULES: which outcome and delivery count fall
 * in it (`ruleFor`), and what the row says settling does. The rows' effect
 * on a real broker is tested end to end in consumer_test.ts,
 * delivery_count_test.ts and tests/commands/consume_test.ts.
 */

import assert from "node:assert/strict";
import {
  brokerReturns,
  ruleFor,
  SETTLE_RULES,
  settleRulesMarkdown,
} from "../../src/queue/settle.ts";
import type { DownloadResult } from "../../src/core/download.ts";
import type { Failure, Job } from "../../src/queue/messages.ts";

const JOB: Job = { matchId: "m-1", url: "https://telemetry-cdn.pubg.com/x", body: {} };
const MAX = { maxDeliveries: 3 };

function failed(kind: Failure["kind"]) {
  return { type: "failed" as const, job: JOB, failure: { kind, code: "x", message: "why" } };
}

Deno.test("settle row stored: any delivery → processing queue, ack", () => {
  const outcome = { type: "stored" as const, job: JOB, result: {} as DownloadResult };
  for (const attempt of [1, 3, 9]) assert.equal(ruleFor(outcome, { attempt, ...MAX }), "stored");
  assert.deepEqual([SETTLE_RULES.stored.to, SETTLE_RULES.stored.then], ["processing", "ack"]);
});

Deno.test("settle row transient_retry: a transient failure below --max-deliveries → retry queue, ack", () => {
  for (const attempt of [1, 2]) {
    assert.equal(ruleFor(failed("transient"), { attempt, ...MAX }), "transient_retry");
  }
  const { to, then } = SETTLE_RULES.transient_retry;
  assert.deepEqual([to, then], ["retry", "ack"]);
});

Deno.test("settle row transient_exhausted: a transient failure at --max-deliveries → DLQ, ack", () => {
  for (const attempt of [3, 4]) {
    assert.equal(ruleFor(failed("transient"), { attempt, ...MAX }), "transient_exhausted");
  }
  const { to, then } = SETTLE_RULES.transient_exhausted;
  assert.deepEqual([to, then], ["dead_letter", "ack"]);
});

Deno.test("settle row rejected: a permanent or usage failure at any delivery → DLQ, ack", () => {
  for (const kind of ["permanent", "usage"] as const) {
    for (const attempt of [1, 3]) {
      assert.equal(ruleFor(failed(kind), { attempt, ...MAX }), "rejected");
    }
  }
  assert.deepEqual([SETTLE_RULES.rejected.to, SETTLE_RULES.rejected.then], ["dead_letter", "ack"]);
});

Deno.test("settle row crashed: started --max-deliveries times and never finished → DLQ, ack", () => {
  const outcome = { type: "crashed" as const, job: JOB, starts: 3 };
  assert.equal(ruleFor(outcome, { attempt: 3, ...MAX }), "crashed");
  assert.deepEqual([SETTLE_RULES.crashed.to, SETTLE_RULES.crashed.then], ["dead_letter", "ack"]);
});

Deno.test("settle row store_fault: a store fault at any delivery → nothing published, nack with requeue, never the DLQ", () => {
  for (const attempt of [1, 3, 9]) {
    assert.equal(ruleFor(failed("store"), { attempt, ...MAX }), "store_fault");
  }
  const { to, then, logged } = SETTLE_RULES.store_fault;
  assert.deepEqual([to, then, logged], ["none", "nack, requeue", "`requeued`"]);
});

Deno.test("settle row interrupted: stopped on purpose → nothing published, left unacked", () => {
  const outcome = { type: "aborted" as const, job: JOB, reason: "stopping" };
  for (const attempt of [1, 3]) assert.equal(ruleFor(outcome, { attempt, ...MAX }), "interrupted");
  const { to, then } = SETTLE_RULES.interrupted;
  assert.deepEqual([to, then], ["none", "leave unacked"]);
});

Deno.test("settle row publish_failed: decided by the publish, never by the outcome; left unacked", () => {
  const outcomes = [
    { type: "stored" as const, job: JOB, result: {} as DownloadResult },
    failed("transient"),
    failed("permanent"),
  ];
  for (const outcome of outcomes) {
    assert.notEqual(ruleFor(outcome, { attempt: 1, ...MAX }), "publish_failed");
  }
  assert.equal(SETTLE_RULES.publish_failed.then, "leave unacked");
});

Deno.test("settleRulesMarkdown() has one line per row, in the table's order", () => {
  const lines = settleRulesMarkdown().split("\n");
  const rows = Object.values(SETTLE_RULES);
  assert.equal(lines.length, 2 + rows.length);
  rows.forEach((rule, i) => assert.ok(lines[i + 2]!.startsWith(`| ${rule.outcome} |`)));
});

Deno.test("brokerReturns() reads a quorum queue's count of returns: x-delivery-count, or x-acquired-count (RabbitMQ 4.3), the larger", () => {
  assert.equal(brokerReturns(undefined), 0);
  assert.equal(brokerReturns({}), 0);
  assert.equal(brokerReturns({ "x-delivery-count": 3 }), 3);
  assert.equal(brokerReturns({ "x-delivery-count": 1, "x-acquired-count": 4 }), 4);
  assert.equal(brokerReturns({ "x-delivery-count": "junk", "x-acquired-count": -2 }), 0);
});
