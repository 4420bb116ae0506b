import assert from "node:assert/strict";
import { TelemetryError } from "../../../src/core/errors.ts";
import { backoffDelay, realSleep, retry } from "../../../src/core/http/retry.ts";

function transient(options = {}) {
  return new TelemetryError("transient", "network", "boom", options);
}

Deno.test("retry() retries transient errors with 2^attempt backoff, then succeeds", async () => {
  const sleeps: number[] = [];
  let calls = 0;
  const value = await retry(() => {
    calls++;
    if (calls < 3) return Promise.reject(transient());
    return Promise.resolve("ok");
  }, { sleep: (ms) => Promise.resolve(void sleeps.push(ms)) });
  assert.equal(value, "ok");
  assert.deepEqual(sleeps, [2000, 4000]);
});

Deno.test("retry() gives up after the last attempt and rethrows its error", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => Promise.reject(transient({ cause: ++calls })), {
      attempts: 3,
      sleep: () => Promise.resolve(),
    }),
    (err: unknown) => err instanceof TelemetryError && err.cause === 3,
  );
  assert.equal(calls, 3);
});

Deno.test("retry() does not retry permanent or usage errors", async () => {
  for (const kind of ["permanent", "usage"] as const) {
    let calls = 0;
    await assert.rejects(retry(() => {
      calls++;
      return Promise.reject(new TelemetryError(kind, "http_status", "HTTP 403"));
    }, { sleep: () => Promise.resolve() }));
    assert.equal(calls, 1);
  }
});

Deno.test("retry() validates the attempts before doing any work", async () => {
  await assert.rejects(retry(() => Promise.resolve(1), { attempts: 0 }), RangeError);
});

Deno.test("retry() stops when the signal aborts during the wait", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const run = retry(() => Promise.reject(transient()), {
    backoffMs: 10_000,
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error("stop")), 20);
  await assert.rejects(run, /stop/);
  assert.ok(performance.now() - started < 5_000);
});

Deno.test("backoffDelay() honours Retry-After up to the cap", () => {
  const base = { backoffMs: 1000, maxRetryAfterMs: 60_000 };
  assert.equal(backoffDelay(1, base), 2000);
  assert.equal(backoffDelay(2, base), 4000);
  assert.equal(backoffDelay(1, { ...base, error: transient({ retryAfterSeconds: 30 }) }), 30_000);
  assert.equal(backoffDelay(1, { ...base, error: transient({ retryAfterSeconds: 3600 }) }), 60_000);
  assert.equal(backoffDelay(3, { ...base, error: transient({ retryAfterSeconds: 1 }) }), 8000);
});

Deno.test("realSleep() waits and can be aborted, with the signal's reason", async () => {
  await realSleep(1);
  const reason = new Error("aborted");
  const controller = new AbortController();
  controller.abort(reason);
  await assert.rejects(realSleep(10_000, controller.signal), (err) => err === reason);
  const later = new AbortController();
  const sleeping = realSleep(10_000, later.signal);
  later.abort(reason);
  await assert.rejects(sleeping, (err) => err === reason);
});
