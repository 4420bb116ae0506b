/**
 * `publishRun()` without a broker (a dry run); the target against the real
 * broker is exercised by `enqueue_test.ts` and `announce_test.ts`.
 */

import assert from "node:assert/strict";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { publishRun, publishTotals } from "../../src/queue/publish_target.ts";

/** Settings of a broker nothing listens on: a dry run must not connect. */
const broker = resolveBrokerSettings(
  { env: "dry", amqpUrl: "amqp://guest:guest@127.0.0.1:1/" },
  {},
);

Deno.test("publishTotals() starts a run at zero, without error", () => {
  assert.deepEqual(publishTotals("q", true), {
    queue: "q",
    dryRun: true,
    unconfirmed: 0,
    seconds: 0,
    error: undefined,
  });
});

Deno.test("publishRun() in a dry run connects to nothing, runs the body without a target and times it", async () => {
  const summary = { ...publishTotals(broker.names.queue, true), sent: 0 };
  let given: unknown = "unset";
  const result = await publishRun(summary, async (target) => {
    given = target;
    await new Promise((resolve) => setTimeout(resolve, 5));
    summary.sent++;
  }, { broker });
  assert.equal(result, summary);
  assert.equal(given, undefined);
  assert.equal(summary.sent, 1);
  assert.ok(summary.seconds > 0);
  assert.equal(summary.error, undefined);
});

Deno.test("publishRun() refuses to start when the broker cannot be reached, before the body runs", async () => {
  let ran = false;
  await assert.rejects(
    publishRun(publishTotals(broker.names.queue, false), () => {
      ran = true;
      return Promise.resolve();
    }, { broker }),
    /cannot reach the broker/,
  );
  assert.equal(ran, false);
});
