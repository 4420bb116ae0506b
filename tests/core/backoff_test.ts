import assert from "node:assert/strict";
import { createBackoff, exponentialDelay } from "../../src/core/backoff.ts";

Deno.test("createBackoff() doubles up to the cap and starts over after reset()", () => {
  const backoff = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [100, 200, 400, 800, 1000, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 100);
});

Deno.test("createBackoff() draws each delay from [d/2, d]", () => {
  const low = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual([low.next(), low.next()], [50, 100]);
});

Deno.test("createBackoff() rejects bad options", () => {
  assert.throws(() => createBackoff({ initialMs: -1 }), RangeError);
  assert.throws(() => createBackoff({ initialMs: 10, maxMs: 5 }), RangeError);
  assert.throws(() => createBackoff({ factor: 0.5 }), RangeError);
});

Deno.test("exponentialDelay() grows by the factor up to the cap, without one by default", () => {
  assert.deepEqual([0, 1, 2, 3].map((step) => exponentialDelay(step, { initialMs: 10 })), [
    10,
    20,
    40,
    80,
  ]);
  assert.equal(exponentialDelay(3, { initialMs: 10, factor: 3, maxMs: 100 }), 100);
});
