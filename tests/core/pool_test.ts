import assert from "node:assert/strict";
import { runPool } from "../../src/core/pool.ts";

Deno.test("runPool() never runs more than `concurrency` workers at once", async () => {
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  await runPool(Array.from({ length: 20 }, (_, i) => i), {
    concurrency: 4,
    worker: async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 2));
      seen.push(n);
      running--;
    },
  });
  assert.equal(peak, 4);
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
});

Deno.test("runPool() pulls lazily from an async source", async () => {
  let pulled = 0;
  async function* source() {
    for (let i = 0; i < 5; i++) {
      pulled++;
      yield i;
    }
  }
  let maxAhead = 0;
  let done = 0;
  await runPool(source(), {
    concurrency: 2,
    worker: async () => {
      maxAhead = Math.max(maxAhead, pulled - done);
      await new Promise((r) => setTimeout(r, 1));
      done++;
    },
  });
  assert.ok(maxAhead <= 2, `read ${maxAhead} ahead`);
});

Deno.test("runPool() rejects a bad concurrency before any work", async () => {
  await assert.rejects(
    runPool([1], { concurrency: 0, worker: () => Promise.resolve() }),
    RangeError,
  );
});
