import assert from "node:assert/strict";
import {
  checkFilter,
  type DeadLetterInfo,
  describeDeadLetter,
  exportRecord,
  isFiltered,
  matchesFilter,
} from "../../src/queue/dead_letter.ts";

const encoder = new TextEncoder();
const NOW = new Date("2026-11-28T12:00:00.000Z");

function info(overrides: Partial<DeadLetterInfo> = {}): DeadLetterInfo {
  return {
    matchId: "m-1",
    kind: "transient",
    code: "http_status",
    error: "HTTP 503 from telemetry-cdn.pubg.com",
    attempts: 5,
    failedAt: "2026-11-28T10:00:00.000Z", // two hours before NOW
    worker: "host-1",
    originalQueue: "match.telemetry.prod",
    ...overrides,
  };
}

Deno.test("describeDeadLetter() reads the match id and the headers the worker writes", () => {
  const letter = describeDeadLetter({
    body: encoder.encode('{"match_id":"abc","telemetry_url":"https://x/y"}'),
    properties: {
      headers: {
        "x-error": "HTTP 404",
        "x-error-kind": "permanent",
        "x-error-code": "http_status",
        "x-attempts": 1,
        "x-failed-at": "2026-11-28T12:00:00.000Z",
        "x-worker-id": "host-1",
        "x-original-queue": "match.telemetry.prod",
      },
    },
  });
  assert.deepEqual(letter, {
    matchId: "abc",
    kind: "permanent",
    code: "http_status",
    error: "HTTP 404",
    attempts: 1,
    failedAt: "2026-11-28T12:00:00.000Z",
    worker: "host-1",
    originalQueue: "match.telemetry.prod",
  });
});

Deno.test("describeDeadLetter() gives null for what a body or headers lack", () => {
  for (const body of [null, encoder.encode("not json"), encoder.encode("[1]")]) {
    const letter = describeDeadLetter({ body, properties: {} });
    assert.equal(letter.matchId, null);
    assert.equal(letter.kind, null);
    assert.equal(letter.attempts, null);
  }
});

Deno.test("matchesFilter() with no filter matches everything", () => {
  assert.ok(matchesFilter(info(), {}, NOW));
  assert.ok(matchesFilter(info({ kind: null, failedAt: null }), {}, NOW));
  assert.equal(isFiltered({}), false);
  assert.equal(isFiltered({ kinds: [] }), false);
});

Deno.test("matchesFilter() --kind matches any of the kinds given", () => {
  assert.ok(matchesFilter(info(), { kinds: ["permanent", "transient"] }, NOW));
  assert.ok(!matchesFilter(info(), { kinds: ["permanent"] }, NOW));
  assert.ok(!matchesFilter(info({ kind: null }), { kinds: ["permanent"] }, NOW));
});

Deno.test("matchesFilter() --match-id matches the body's match id exactly", () => {
  assert.ok(matchesFilter(info(), { matchIds: ["m-2", "m-1"] }, NOW));
  assert.ok(!matchesFilter(info(), { matchIds: ["m-10"] }, NOW));
  assert.ok(!matchesFilter(info({ matchId: null }), { matchIds: ["m-1"] }, NOW));
});

Deno.test("matchesFilter() --error-contains ignores case", () => {
  assert.ok(matchesFilter(info(), { errorContains: "http 503" }, NOW));
  assert.ok(!matchesFilter(info(), { errorContains: "HTTP 404" }, NOW));
  assert.ok(!matchesFilter(info({ error: null }), { errorContains: "HTTP" }, NOW));
});

Deno.test("matchesFilter() --older-than/--newer-than compare x-failed-at with now", () => {
  const hour = 3_600_000;
  assert.ok(matchesFilter(info(), { olderThanMs: hour }, NOW));
  assert.ok(matchesFilter(info(), { olderThanMs: 2 * hour }, NOW), "exactly 2 h old counts");
  assert.ok(!matchesFilter(info(), { olderThanMs: 3 * hour }, NOW));
  assert.ok(matchesFilter(info(), { newerThanMs: 3 * hour }, NOW));
  assert.ok(!matchesFilter(info(), { newerThanMs: 2 * hour }, NOW));
  assert.ok(matchesFilter(info(), { olderThanMs: hour, newerThanMs: 3 * hour }, NOW));
  assert.ok(!matchesFilter(info({ failedAt: null }), { olderThanMs: hour }, NOW));
  assert.ok(!matchesFilter(info({ failedAt: "yesterday" }), { newerThanMs: 99 * hour }, NOW));
});

Deno.test("exportRecord() keeps the body as text and makes headers and properties JSON", () => {
  const record = exportRecord({
    body: encoder.encode('{"match_id":"é"}'),
    properties: {
      contentType: "application/json",
      deliveryMode: 2,
      timestamp: new Date("2026-11-28T12:00:00.000Z"),
      headers: {
        "x-attempts": 5,
        "x-death": [{ count: 1, time: new Date("2026-11-28T11:00:00.000Z") }],
        raw: new Uint8Array([1, 2, 3]),
        big: 2n ** 62n,
      },
    },
  });
  assert.deepEqual(record, {
    body: '{"match_id":"é"}',
    body_encoding: "utf8",
    headers: {
      "x-attempts": 5,
      "x-death": [{ count: 1, time: "2026-11-28T11:00:00.000Z" }],
      raw: "AQID",
      big: "4611686018427387904",
    },
    properties: {
      contentType: "application/json",
      deliveryMode: 2,
      timestamp: "2026-11-28T12:00:00.000Z",
    },
  });
  assert.doesNotThrow(() => JSON.stringify(record));
});

Deno.test("exportRecord() writes a body that is not UTF-8 as base64", () => {
  const record = exportRecord({ body: new Uint8Array([0xff, 0xfe, 0x00]), properties: {} });
  assert.equal(record.body_encoding, "base64");
  assert.equal(record.body, "//4A");
  assert.deepEqual(record.headers, {});
});

Deno.test("checkFilter() refuses a time window that selects nothing and an empty --error-contains", () => {
  const filter = { kinds: ["transient"], olderThanMs: 3_600_000, newerThanMs: 86_400_000 };
  assert.equal(checkFilter(filter), filter);
  assert.throws(
    () => checkFilter({ olderThanMs: 7_200_000, newerThanMs: 3_600_000 }),
    /^TelemetryError: --older-than and --newer-than select nothing: --older-than must be the shorter/,
  );
  assert.throws(() => checkFilter({ olderThanMs: 60_000, newerThanMs: 60_000 }), /select nothing/);
  assert.throws(() => checkFilter({ errorContains: "  " }), /--error-contains needs some text/);
});
