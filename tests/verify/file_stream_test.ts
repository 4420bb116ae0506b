import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileStream, readWholeFileSync } from "../../src/verify/file_stream.ts";
import { withTempDir } from "../support/helpers.ts";

/** Writes `bytes` to a file in a temporary directory and runs `fn` with its path. */
function withFile(bytes: Uint8Array, fn: (path: string) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const path = join(dir, "f");
    await Deno.writeFile(path, bytes);
    await fn(path);
  });
}

Deno.test("readWholeFileSync() reads a file whole, an empty one too", async () => {
  const bytes = new Uint8Array(5000).map((_, i) => i % 251);
  await withFile(bytes, async (path) => {
    using file = Deno.openSync(path);
    assert.deepEqual(readWholeFileSync(file, bytes.length), bytes);
    await Deno.writeFile(path, new Uint8Array(0));
    using empty = Deno.openSync(path);
    assert.deepEqual(readWholeFileSync(empty, 0), new Uint8Array(0));
  });
});

Deno.test("readWholeFileSync() gives up on a file that grew, back at its start", async () => {
  const bytes = new Uint8Array(3000).map((_, i) => i % 7);
  await withFile(bytes, async (path) => {
    using file = Deno.openSync(path);
    assert.equal(readWholeFileSync(file, 1000), undefined);
    const all = await new Response(readFileStream(file)).bytes();
    assert.deepEqual(all, bytes);
  });
});
