import assert from "node:assert/strict";
import { plural } from "../../src/cli/plural.ts";

Deno.test("plural() writes the singular for 1 only", () => {
  assert.equal(plural(1, "file"), "1 file");
  assert.equal(plural(0, "file"), "0 files");
  assert.equal(plural(2, "temp file"), "2 temp files");
  assert.equal(plural(1, "entry", "entries"), "1 entry");
  assert.equal(plural(3, "entry", "entries"), "3 entries");
});
