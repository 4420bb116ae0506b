import assert from "node:assert/strict";
import { parseJobLine, readJobs } from "../../src/commands/jobs_file.ts";

Deno.test("parseJobLine() reads queue-shaped objects", () => {
  assert.deepEqual(
    parseJobLine('{"match_id":"abc","telemetry_url":"https://h/x","map_name":"Erangel"}', 3),
    {
      line: 3,
      url: "https://h/x",
      matchId: "abc",
    },
  );
  assert.deepEqual(parseJobLine('{"telemetry_url":"https://h/x"}', 1), {
    line: 1,
    url: "https://h/x",
  });
});

Deno.test("parseJobLine() explains what is wrong with a line", () => {
  assert.match(parseJobLine("{nope", 2).error?.message ?? "", /not JSON/);
  assert.match(parseJobLine("[1]", 2).error?.message ?? "", /not a JSON object/);
  assert.match(parseJobLine('{"match_id":"a"}', 4).error?.message ?? "", /no "telemetry_url"/);
  assert.match(
    parseJobLine('{"match_id":5,"telemetry_url":"u"}', 5).error?.message ?? "",
    /"match_id" is not a string/,
  );
});

Deno.test("parseJobLine() gives a bad line the job error code bad_job, not a flag error", () => {
  for (const text of ["{nope", "[1]", '{"match_id":"a"}', '{"match_id":5,"telemetry_url":"u"}']) {
    const { error } = parseJobLine(text, 1);
    assert.equal(error?.code, "bad_job", text);
    assert.equal(error?.kind, "usage", text);
  }
});

Deno.test("parseJobLine() keeps the match id of a bad line when it has one", () => {
  const job = parseJobLine('{"match_id":"abc"}', 7);
  assert.equal(job.line, 7);
  assert.equal(job.matchId, "abc");
  assert.equal(job.error?.code, "bad_job");
});

Deno.test("readJobs() streams a file line by line, skipping blank lines and CRs", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(
      path,
      '{"telemetry_url":"a"}\r\n\n{"telemetry_url":"b","match_id":"m"}',
    );
    const jobs = [];
    for await (const job of readJobs(path)) jobs.push(job);
    assert.deepEqual(jobs, [{ line: 1, url: "a" }, { line: 3, url: "b", matchId: "m" }]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("readJobs() reports an unreadable file as a usage error", async () => {
  await assert.rejects(async () => {
    for await (const _ of readJobs("/nonexistent/jobs.ndjson")) { /* nothing */ }
  }, /cannot read --jobs \/nonexistent\/jobs\.ndjson/);
});
