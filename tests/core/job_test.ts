import assert from "node:assert/strict";
import { parseJobJson } from "../../src/core/job.ts";
import { parseJobLine } from "../../src/commands/jobs_file.ts";
import { MessageError, parseJob } from "../../src/queue/messages.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** Bad jobs, the fault code and the words every caller says. */
const FAULTS: [text: string, code: string, message: string][] = [
  ["{x", "bad_body", "the job is not valid JSON"],
  ["[1]", "bad_body", "the job is not a JSON object"],
  ["null", "bad_body", "the job is not a JSON object"],
  ['{"match_id":5,"telemetry_url":"u"}', "missing_field", 'the job\'s "match_id" is not a string'],
  ['{"match_id":"","telemetry_url":"u"}', "missing_field", 'the job\'s "match_id" is empty'],
  ['{"match_id":"a"}', "missing_field", 'the job has no "telemetry_url"'],
  ['{"match_id":"a","telemetry_url":null}', "missing_field", 'the job has no "telemetry_url"'],
  [
    '{"match_id":"a","telemetry_url":7}',
    "missing_field",
    'the job\'s "telemetry_url" is not a string',
  ],
  ['{"match_id":"a","telemetry_url":""}', "missing_field", 'the job\'s "telemetry_url" is empty'],
];

Deno.test("parseJobJson() reads bytes and text alike and keeps the whole object", () => {
  const text = '{"match_id":"m-1","telemetry_url":"https://x/y","map_name":"Erangel"}';
  const expected = {
    job: {
      matchId: "m-1",
      url: "https://x/y",
      body: { match_id: "m-1", telemetry_url: "https://x/y", map_name: "Erangel" },
    },
  };
  assert.deepEqual(parseJobJson(text), expected);
  assert.deepEqual(parseJobJson(encode(text)), expected);
});

Deno.test("parseJobJson() names each fault with its code", () => {
  for (const [text, code, message] of FAULTS) {
    assert.deepEqual(parseJobJson(text).fault?.code, code, text);
    assert.equal(parseJobJson(text).fault?.message, message, text);
  }
  assert.equal(parseJobJson(null).fault?.message, "the job is not valid JSON");
  assert.equal(parseJobJson(encode("")).fault?.message, "the job is not valid JSON");
});

Deno.test("parseJobJson() requires match_id unless told otherwise", () => {
  const text = '{"telemetry_url":"https://x/y"}';
  assert.equal(parseJobJson(text).fault?.message, 'the job has no "match_id"');
  assert.equal(parseJobJson('{"match_id":null,"telemetry_url":"u"}').fault?.code, "missing_field");
  assert.deepEqual(parseJobJson(text, { requireMatchId: false }).job?.url, "https://x/y");
  assert.equal(
    parseJobJson('{"match_id":null,"telemetry_url":"u"}', { requireMatchId: false }).job?.matchId,
    undefined,
  );
  assert.equal(
    parseJobJson('{"match_id":5,"telemetry_url":"u"}', { requireMatchId: false }).fault?.message,
    'the job\'s "match_id" is not a string',
  );
});

Deno.test("parseJobJson() keeps the match id of a job without a URL", () => {
  assert.equal(parseJobJson('{"match_id":"abc"}').fault?.matchId, "abc");
  assert.equal(parseJobJson('{"match_id":5}').fault?.matchId, undefined);
});

Deno.test("parseJobLine() and the queue's parseJob() say the same words for the same fault", () => {
  for (const [text, code, message] of FAULTS) {
    assert.equal(parseJobLine(text, 1).error?.message, message, text);
    assert.throws(
      () => parseJob(encode(text)),
      (err) => err instanceof MessageError && err.code === code && err.message === message,
      text,
    );
  }
});
