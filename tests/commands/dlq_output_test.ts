import assert from "node:assert/strict";
import {
  kindLines,
  LETTER_HEADER,
  letterJson,
  letterLine,
  ofTotal,
  shortWarning,
} from "../../src/commands/dlq_output.ts";
import type { DlqSummary } from "../../src/queue/dlq.ts";

const unknown = {
  matchId: null,
  kind: null,
  code: null,
  error: null,
  attempts: null,
  failedAt: null,
  worker: null,
  originalQueue: null,
};

Deno.test("letterLine() lines up with LETTER_HEADER and shows - where a header is missing", () => {
  const line = letterLine({
    ...unknown,
    matchId: "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c",
    kind: "transient",
    attempts: 5,
    error: "gave up\nafter 5 deliveries",
  });
  assert.equal(line.indexOf("transient"), LETTER_HEADER.indexOf("KIND"));
  assert.equal(line.indexOf("5  "), LETTER_HEADER.indexOf("ATTEMPTS") + 7);
  assert.ok(line.endsWith("gave up after 5 deliveries"), "one line");
  assert.match(letterLine(unknown), /^- +- +- +- +- +- +-$/);
});

Deno.test("letterJson() names every field and gives null where unknown", () => {
  assert.deepEqual(letterJson(unknown, 3), {
    position: 3,
    match_id: null,
    error_kind: null,
    error_code: null,
    error: null,
    attempts: null,
    failed_at: null,
    worker: null,
    original_queue: null,
  });
});

Deno.test("kindLines() lists the most frequent kind first", () => {
  assert.deepEqual(kindLines({ usage: 1, transient: 7, permanent: 7 }), [
    "  permanent            7",
    "  transient            7",
    "  usage                1",
  ]);
  assert.deepEqual(kindLines({}), []);
});

Deno.test("ofTotal() says 'N of M' only when it is not all of them", () => {
  assert.equal(ofTotal(3, 340), "3 of 340 dead letters");
  assert.equal(ofTotal(340, 340), "340 dead letters");
  assert.equal(ofTotal(1, 1), "1 dead letter");
});

Deno.test("shortWarning() speaks only when the queue held fewer than counted", () => {
  const summary: DlqSummary = {
    queue: "dlq.telemetry.prod",
    total: 10,
    scanned: 7,
    matched: 7,
    done: 7,
    removed: 0,
    byKind: {},
    short: true,
  };
  assert.match(String(shortWarning(summary)), /held 10 dead letters .* only 7 could be read/);
  assert.equal(shortWarning({ ...summary, short: false }), undefined);
});
