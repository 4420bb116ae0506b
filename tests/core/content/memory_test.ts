import assert from "node:assert/strict";
import {
  createReleaser,
  RELEASE_EVERY_BYTES,
  releaseDeadChunks,
} from "../../../src/core/content/memory.ts";

Deno.test("releaseDeadChunks() runs a collection only when gc is exposed", () => {
  const hasGc = typeof (globalThis as { gc?: unknown }).gc === "function";
  assert.equal(releaseDeadChunks(), hasGc);
});

Deno.test("createReleaser() collects once per RELEASE_EVERY_BYTES", () => {
  const calls: unknown[] = [];
  const global = globalThis as { gc?: (options?: unknown) => void };
  const saved = global.gc;
  global.gc = (options) => void calls.push(options);
  try {
    const count = createReleaser();
    count(RELEASE_EVERY_BYTES - 1);
    assert.equal(calls.length, 0);
    count(1);
    assert.deepEqual(calls, [{ type: "minor" }]);
    count(RELEASE_EVERY_BYTES * 2);
    assert.equal(calls.length, 2);
  } finally {
    if (saved === undefined) delete global.gc;
    else global.gc = saved;
  }
});
