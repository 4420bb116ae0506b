import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearStarts,
  countStarts,
  endStart,
  isStartMarkName,
  markStart,
  START_MARK_PREFIX,
} from "../../../src/core/store/start_marks.ts";
import { withTempDir } from "../../support/helpers.ts";

const RECORD = { worker: "w-1", startedAt: "2026-12-06T00:00:00.000Z" };

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("markStart() records who started the job, in a new file per start", async () => {
  await withTempDir(async (dataDir) => {
    const a = await markStart(dataDir, "m-1", RECORD);
    const b = await markStart(dataDir, "m-1", { ...RECORD, worker: "w-2" });
    assert.notEqual(a.path, b.path);
    assert.ok(isStartMarkName(a.path.split("/").pop()!));
    assert.deepEqual(JSON.parse(await Deno.readTextFile(a.path)), RECORD);
    assert.equal(await countStarts(dataDir, "m-1"), 2);
    assert.equal(a.createdDir, true);
    assert.equal(b.createdDir, false);
  });
});

Deno.test("countStarts() is 0 for a match without a directory, and counts only marks", async () => {
  await withTempDir(async (dataDir) => {
    assert.equal(await countStarts(dataDir, "none"), 0);
    await markStart(dataDir, "m-1", RECORD);
    const dir = join(dataDir, "matchID=m-1");
    await Deno.writeTextFile(join(dir, "raw.json.gz"), "x");
    await Deno.writeTextFile(join(dir, ".raw.json.gz.abc.tmp"), "x");
    assert.equal(await countStarts(dataDir, "m-1"), 1);
  });
});

Deno.test("endStart() unsettled removes only its own mark, and the directory it created", async () => {
  await withTempDir(async (dataDir) => {
    const mine = await markStart(dataDir, "m-1", RECORD);
    const dead = await markStart(dataDir, "m-1", RECORD);
    assert.equal(await endStart(mine, { settled: false }), 1);
    assert.deepEqual(await names(join(dataDir, "matchID=m-1")), [dead.path.split("/").pop()]);
    await endStart(dead, { settled: false });
    // dead did not create the directory, mine did but it was not empty then: it stays
    assert.deepEqual(await names(dataDir), ["matchID=m-1"]);
    const again = await markStart(dataDir, "m-2", RECORD);
    await endStart(again, { settled: false });
    assert.deepEqual(await names(dataDir), ["matchID=m-1"], "the empty directory it made is gone");
  });
});

Deno.test("endStart() settled removes every mark of the match, and keeps a stored file", async () => {
  await withTempDir(async (dataDir) => {
    await markStart(dataDir, "m-1", RECORD); // a worker that died
    const mine = await markStart(dataDir, "m-1", RECORD);
    await Deno.writeTextFile(join(dataDir, "matchID=m-1", "raw.json.gz"), "x");
    assert.equal(await endStart(mine, { settled: true }), 2);
    assert.deepEqual(await names(join(dataDir, "matchID=m-1")), ["raw.json.gz"]);
  });
});

Deno.test("clearStarts() removes the marks of dead workers only", async () => {
  await withTempDir(async (dataDir) => {
    await markStart(dataDir, "m-1", RECORD);
    await markStart(dataDir, "m-1", RECORD);
    await Deno.writeTextFile(join(dataDir, "matchID=m-1", "part-0.parquet"), "x");
    assert.equal(await clearStarts(dataDir, "m-1"), 2);
    assert.equal(await clearStarts(dataDir, "gone"), 0);
    assert.deepEqual(await names(join(dataDir, "matchID=m-1")), ["part-0.parquet"]);
  });
});

Deno.test("isStartMarkName() takes .start.<random> and nothing else", () => {
  assert.ok(isStartMarkName(`${START_MARK_PREFIX}a1b2c3`));
  for (const name of [START_MARK_PREFIX, "raw.json.gz", ".raw.json.gz.x.tmp", "start.x"]) {
    assert.ok(!isStartMarkName(name), name);
  }
});

Deno.test("markStart() refuses an invalid match id before touching the store", async () => {
  await withTempDir(async (dataDir) => {
    await assert.rejects(markStart(dataDir, "../x", RECORD));
    assert.deepEqual(await names(dataDir), []);
  });
});
