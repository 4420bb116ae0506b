import assert from "node:assert/strict";
import { LineBatcher } from "../../src/verify/line_batcher.ts";

Deno.test("LineBatcher writes a batch once it holds maxChars", () => {
  const written: string[] = [];
  const batcher = new LineBatcher((text) => written.push(text), { maxChars: 12, now: () => 0 });
  batcher.add("abcd");
  batcher.add("efgh");
  assert.deepEqual(written, []);
  batcher.add("ij");
  assert.deepEqual(written, ["abcd\nefgh\nij"]);
  batcher.add("k");
  batcher.flush();
  batcher.flush();
  assert.deepEqual(written, ["abcd\nefgh\nij", "k"]);
});

Deno.test("LineBatcher writes a batch once its first line is maxDelayMs old", () => {
  const written: string[] = [];
  let now = 0;
  const batcher = new LineBatcher((text) => written.push(text), {
    maxDelayMs: 100,
    now: () => now,
  });
  batcher.add("a");
  now = 99;
  batcher.add("b");
  assert.deepEqual(written, []);
  now = 100;
  batcher.add("c");
  assert.deepEqual(written, ["a\nb\nc"]);
  batcher.flush();
  assert.deepEqual(written, ["a\nb\nc"]);
});

Deno.test("LineBatcher writes a waiting batch from its timer", async () => {
  const written: string[] = [];
  const batcher = new LineBatcher((text) => written.push(text), { maxDelayMs: 5 });
  batcher.add("late");
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(written, ["late"]);
  batcher.flush();
});
