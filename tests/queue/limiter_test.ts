import assert from "node:assert/strict";
import { KeyedLock, Semaphore } from "../../src/queue/limiter.ts";

Deno.test("Semaphore lets N holders in and hands permits over in order", async () => {
  const semaphore = new Semaphore(2);
  await semaphore.acquire();
  await semaphore.acquire();
  const order: number[] = [];
  const third = semaphore.acquire().then(() => order.push(3));
  const fourth = semaphore.acquire().then(() => order.push(4));
  await Promise.resolve();
  assert.deepEqual(order, []);
  semaphore.release();
  await third;
  semaphore.release();
  await fourth;
  assert.deepEqual(order, [3, 4]);
  assert.throws(() => new Semaphore(0), RangeError);
});

Deno.test("KeyedLock serialises one key and runs other keys concurrently", async () => {
  const lock = new KeyedLock();
  const events: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const a1 = lock.run("a", async () => {
    events.push("a1 start");
    await gate;
    events.push("a1 end");
  });
  const a2 = lock.run("a", () => Promise.resolve(void events.push("a2")));
  const b = lock.run("b", () => Promise.resolve(void events.push("b")));
  await b;
  assert.deepEqual(events, ["a1 start", "b"]);
  release();
  await Promise.all([a1, a2]);
  assert.deepEqual(events, ["a1 start", "b", "a1 end", "a2"]);
  await assert.rejects(lock.run("a", () => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await lock.run("a", () => Promise.resolve(7)), 7);
});
