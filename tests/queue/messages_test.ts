import assert from "node:assert/strict";
import { TelemetryError } from "../../src/core/errors.ts";
import {
  deadLetterHeaders,
  failureOf,
  MAX_COPIED_HEADER_BYTES,
  MessageError,
  parseJob,
  previousAttempts,
  processingBody,
  retryHeaders,
} from "../../src/queue/messages.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("parseJob() reads match_id, telemetry_url and keeps the rest", () => {
  const job = parseJob(
    encode('{"match_id":"m-1","telemetry_url":"https://x/y","map_name":"Erangel"}'),
  );
  assert.equal(job.matchId, "m-1");
  assert.equal(job.url, "https://x/y");
  assert.equal(job.body.map_name, "Erangel");
});

Deno.test("parseJob() rejects bodies that are not job objects", () => {
  for (
    const [body, code] of [
      ["{x", "bad_body"],
      ["[]", "bad_body"],
      ["null", "bad_body"],
      ["", "bad_body"],
      ['{"match_id":"m"}', "missing_field"],
      ['{"match_id":3,"telemetry_url":"u"}', "missing_field"],
    ]
  ) {
    assert.throws(
      () => parseJob(encode(body!)),
      (err) => err instanceof MessageError && err.code === code,
      body,
    );
  }
  assert.throws(() => parseJob(null), MessageError);
  assert.throws(
    () => parseJob(encode('{"match_id":"..","telemetry_url":"u"}')),
    (err) => err instanceof TelemetryError && err.kind === "usage",
  );
});

Deno.test("previousAttempts() reads x-attempts and restarts for DLQ replays", () => {
  assert.equal(previousAttempts(undefined), 0);
  assert.equal(previousAttempts({ "x-attempts": 3 }), 3);
  assert.equal(previousAttempts({ "x-attempts": 3n }), 3);
  assert.equal(previousAttempts({ "x-attempts": "junk" }), 0);
  assert.equal(previousAttempts({ "x-attempts": 5, "x-error": "old" }), 0);
});

Deno.test("failureOf() keeps kinds and treats unknown errors as transient", () => {
  assert.deepEqual(
    failureOf(new TelemetryError("permanent", "http_status", "HTTP 404\nnot found")),
    {
      kind: "permanent",
      code: "http_status",
      message: "HTTP 404 not found",
    },
  );
  assert.equal(failureOf(new MessageError("bad_body", "x")).kind, "permanent");
  assert.equal(failureOf(new Error("disk on fire")).kind, "transient");
});

Deno.test("deadLetterHeaders() and retryHeaders() set the x- headers", () => {
  const failure = { kind: "permanent" as const, code: "http_status", message: "HTTP 404" };
  const now = new Date("2024-11-28T12:00:00Z");
  const dead = deadLetterHeaders({ trace: "t" }, {
    failure,
    attempts: 2,
    queue: "q",
    workerId: "w",
    now,
  });
  assert.deepEqual(dead, {
    trace: "t",
    "x-error": "HTTP 404",
    "x-error-kind": "permanent",
    "x-error-code": "http_status",
    "x-attempts": 2,
    "x-original-queue": "q",
    "x-failed-at": "2024-11-28T12:00:00.000Z",
    "x-worker-id": "w",
  });
  const retry = retryHeaders(dead, { attempts: 1, failure });
  assert.deepEqual(retry, { trace: "t", "x-attempts": 1, "x-last-error": "HTTP 404" });
});

Deno.test("processingBody() has every field, nulls for missing optional ones", () => {
  const body = JSON.parse(processingBody(
    { matchId: "m", url: "u", body: { map_name: "Erangel" } },
    {
      result: {
        outcome: "downloaded",
        matchId: "m",
        path: "/d/matchID=m/raw.json.gz",
        bytes: 2_621_440,
        seconds: 1,
        attempts: 1,
      },
      workerId: "w",
      environment: "prod",
      queue: "match.processing.telemetry.prod",
      now: new Date("2024-11-28T12:00:00Z"),
    },
  ));
  assert.deepEqual(body, {
    match_id: "m",
    file_path: "/d/matchID=m/raw.json.gz",
    file_size_mb: 2.5,
    map_name: "Erangel",
    game_mode: null,
    match_datetime: null,
    downloaded_at: "2024-11-28T12:00:00.000Z",
    worker_id: "w",
    environment: "prod",
    queue_target: "match.processing.telemetry.prod",
  });
});

Deno.test("deadLetterHeaders() copies inbound headers only up to a budget, and says what it dropped", () => {
  const failure = {
    kind: "permanent" as const,
    code: "invalid_json" as const,
    message: "x".repeat(1000),
  };
  const original: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) original[`h${i}`] = "v".repeat(1024); // 40 KiB in all
  const headers = deadLetterHeaders(original, {
    failure,
    attempts: 1,
    queue: "q",
    workerId: "w",
    now: new Date(0),
  });
  const copied = Object.keys(headers).filter((k) => k.startsWith("h"));
  assert.ok(copied.length > 0 && copied.length < 40);
  assert.equal(headers["x-headers-dropped"], 40 - copied.length);
  assert.ok(JSON.stringify(headers).length < MAX_COPIED_HEADER_BYTES + 4096);
  assert.equal(headers["x-error"], failure.message);
  const retry = retryHeaders(original, { attempts: 2, failure });
  assert.equal(retry["x-headers-dropped"], 40 - copied.length);
});
