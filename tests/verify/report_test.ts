import assert from "node:assert/strict";
import {
  problemLine,
  resultJson,
  summaryJson,
  summaryTable,
  Tally,
} from "../../src/verify/report.ts";
import type { VerifyResult } from "../../src/verify/result.ts";

const OK: VerifyResult = {
  path: "/d/matchID=a/raw.json.gz",
  matchId: "a",
  status: "ok",
  detail: "",
  bytes: 100,
  decompressedBytes: 1500,
  events: 12,
  seconds: 0.12345,
  gzipLayers: 1,
};

const BAD: VerifyResult = {
  path: "/d/matchID=b/raw.json.gz",
  matchId: "b",
  status: "invalid_json",
  detail: "invalid JSON at byte 42: expected ','",
  bytes: 50,
  decompressedBytes: 42,
  seconds: 0.01,
  offset: 42,
};

const MISSING: VerifyResult = {
  path: "/d/matchID=c",
  matchId: "c",
  status: "missing",
  detail: "no raw.json.gz",
  bytes: undefined,
  decompressedBytes: undefined,
  seconds: 0,
};

Deno.test("Tally counts statuses, files, bytes and resolved problems", () => {
  let t = 0;
  const tally = new Tally(() => (t += 500));
  tally.add(OK);
  tally.add({
    ...BAD,
    fix: { action: "quarantine", outcome: "done", resolved: true, detail: "x" },
  });
  tally.add(MISSING);
  const s = tally.summary();
  assert.equal(s.results, 3);
  assert.equal(s.files, 2);
  assert.equal(s.bytes, 150);
  assert.equal(s.decompressedBytes, 1542);
  assert.equal(s.counts.ok, 1);
  assert.equal(s.counts.invalid_json, 1);
  assert.equal(s.counts.missing, 1);
  assert.equal(s.counts.corrupt, 0);
  assert.deepEqual([s.problems, s.resolved, s.unresolved], [2, 1, 1]);
  assert.equal(s.seconds, 0.5);
});

Deno.test("resultJson() has the documented fields, null when unknown", () => {
  assert.deepEqual(resultJson(OK), {
    path: "/d/matchID=a/raw.json.gz",
    match_id: "a",
    status: "ok",
    detail: "",
    bytes: 100,
    decompressed_bytes: 1500,
    events: 12,
    seconds: 0.123,
    gzip_layers: 1,
  });
  const missing = resultJson(MISSING);
  assert.equal(missing.bytes, null);
  assert.equal(missing.decompressed_bytes, null);
  assert.equal("events" in missing, false);
  assert.equal(resultJson(BAD).offset, 42);
});

Deno.test("summaryJson() wraps the totals and lists non-zero statuses", () => {
  const tally = new Tally();
  tally.add(OK);
  tally.add(BAD);
  const json = summaryJson(tally.summary()) as { summary: Record<string, unknown> };
  assert.deepEqual(json.summary.statuses, { ok: 1, invalid_json: 1 });
  assert.equal(json.summary.problems, 1);
  assert.equal(json.summary.unresolved, 1);
});

Deno.test("summaryTable() lists ok and the statuses seen, then the totals", () => {
  const tally = new Tally();
  tally.add(BAD);
  const lines = summaryTable(tally.summary(), { fix: true });
  assert.match(lines[1]!, /^\s+ok\s+0$/);
  assert.match(lines[2]!, /^\s+invalid_json\s+1$/);
  assert.match(lines.join("\n"), /total\s+1/);
  assert.match(lines.at(-1)!, /--fix resolved 0, left 1 unresolved/);
});

Deno.test("summaryTable() writes 1 file and 1 problem in the singular", () => {
  const one = new Tally();
  one.add(BAD);
  assert.match(summaryTable(one.summary()).at(-1)!, /^1 file, .*; 1 problem$/);
  const two = new Tally();
  two.add(BAD);
  two.add(OK);
  assert.match(summaryTable(two.summary()).at(-1)!, /^2 files, .*; 1 problem$/);
  assert.match(summaryTable(new Tally().summary()).at(-1)!, /^0 files, .*; 0 problems$/);
});

Deno.test("problemLine() says what, where and what --fix did", () => {
  const line = problemLine({
    ...BAD,
    fix: {
      action: "quarantine",
      outcome: "done",
      resolved: true,
      detail: "moved to /q/raw.json.gz",
    },
  });
  assert.match(line, /^invalid_json\s+\/d\/matchID=b\/raw\.json\.gz: invalid JSON at byte 42/);
  assert.match(line, /-> moved to \/q\/raw\.json\.gz$/);
});
