import assert from "node:assert/strict";
import { writeAllSync } from "../../src/cli/write_all.ts";

/** A writer that takes at most `chunk` bytes per call and records them. */
function slowWriter(chunk: number) {
  const taken: number[] = [];
  let calls = 0;
  return {
    taken,
    calls: () => calls,
    writeSync(p: Uint8Array): number {
      calls++;
      const part = p.subarray(0, chunk);
      taken.push(...part);
      return part.length;
    },
  };
}

Deno.test("writeAllSync() loops until every byte of a partial writer is written", () => {
  const writer = slowWriter(2);
  writeAllSync(writer, new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(writer.taken, [1, 2, 3, 4, 5]);
  assert.equal(writer.calls(), 3);
});

Deno.test("writeAllSync() encodes text as UTF-8", () => {
  const writer = slowWriter(1);
  writeAllSync(writer, "é\n");
  assert.equal(new TextDecoder().decode(new Uint8Array(writer.taken)), "é\n");
});

Deno.test("writeAllSync() does not call the writer for empty data", () => {
  const writer = slowWriter(4);
  writeAllSync(writer, "");
  assert.equal(writer.calls(), 0);
});

Deno.test("writeAllSync() throws WriteZero when the writer takes no bytes", () => {
  assert.throws(
    () => writeAllSync({ writeSync: () => 0 }, "x"),
    Deno.errors.WriteZero,
  );
});
