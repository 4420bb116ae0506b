import assert from "node:assert/strict";
import { resolve } from "node:path";
import {
  isTempFileName,
  matchDir,
  matchIdOfDirName,
  rawPath,
  tempFileName,
} from "../../../src/core/store/storage.ts";

Deno.test("rawPath() follows <data-dir>/matchID=<id>/raw.json.gz", () => {
  assert.equal(rawPath("/data", "abc"), "/data/matchID=abc/raw.json.gz");
  assert.equal(matchDir("/data/", "abc"), "/data/matchID=abc");
});

Deno.test("rawPath() resolves a relative data dir against the cwd", () => {
  assert.equal(rawPath("data/telemetry", "abc"), resolve("data/telemetry/matchID=abc/raw.json.gz"));
});

Deno.test("rawPath() refuses ids that would escape the data dir", () => {
  assert.throws(() => rawPath("/data", ".."), /invalid match id/);
  assert.throws(() => rawPath("/data", "../etc"), /invalid match id/);
});

Deno.test("matchIdOfDirName() strips the prefix or gives undefined", () => {
  assert.equal(matchIdOfDirName("matchID=abc"), "abc");
  assert.equal(matchIdOfDirName("other"), undefined);
});

Deno.test("tempFileName() makes unique names that isTempFileName() recognises", () => {
  const a = tempFileName();
  const b = tempFileName();
  assert.notEqual(a, b);
  assert.ok(isTempFileName(a), a);
  assert.equal(isTempFileName("raw.json.gz"), false);
  assert.equal(isTempFileName("part-0.parquet"), false);
});
