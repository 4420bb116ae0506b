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

Deno.test("runPool() starts no item once its signal aborts and waits for the running ones", async () => {
  const controller = new AbortController();
  const started: number[] = [];
  let finished = 0;
  await runPool(Array.from({ length: 10 }, (_, i) => i), {
    concurrency: 2,
    signal: controller.signal,
    worker: async (n) => {
      started.push(n);
      if (n === 2) controller.abort();
      await new Promise((r) => setTimeout(r, n === 1 ? 50 : 5));
      finished++;
    },
  });
  // 0 and 1 run, 2 aborts; the other lane, done with 1 after that, takes nothing more.
  assert.deepEqual(started.sort((a, b) => a - b), [0, 1, 2]);
  assert.equal(finished, 3, "the running workers were awaited");
});

Deno.test("runPool() stops waiting for a source that has nothing more to give when aborted", async () => {
  const controller = new AbortController();
  let pulls = 0;
  // A source that never answers, like stdin with nobody typing.
  const source: AsyncIterable<number> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        pulls++;
        return new Promise<IteratorResult<number>>(() => {});
      },
    }),
  };
  let ran = 0;
  let settled = false;
  const pool = runPool(source, {
    concurrency: 2,
    signal: controller.signal,
    worker: () => Promise.resolve(void ran++),
  }).finally(() => settled = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, "before the abort, the pool waits for the source");
  assert.equal(pulls, 2, "each lane waits on the source");
  controller.abort();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    pool.then(() => "stopped"),
    new Promise((r) => timer = setTimeout(() => r("still waiting after 1 s"), 1_000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "stopped");
  assert.equal(pulls, 2, "nothing more asked of the source");
  assert.equal(ran, 0, "no worker ran");
});
