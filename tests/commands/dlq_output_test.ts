import assert from "node:assert/strict";
import type { CommandIo } from "../../src/cli/io.ts";
import {
  type DlqEnding,
  endDlqRun,
  kindLines,
  LETTER_HEADER,
  letterJson,
  letterLine,
  letterPrinter,
  ofTotal,
  shortWarning,
} from "../../src/commands/dlq_output.ts";
import type { DeadLetter, DlqSummary } from "../../src/queue/dlq.ts";

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

/** Output captured in memory. */
function captureIo(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, isTty: false, print: (l) => out.push(l), error: (l) => err.push(l) };
}

const done: DlqSummary = {
  queue: "dlq.telemetry.prod",
  total: 10,
  scanned: 10,
  matched: 4,
  done: 4,
  removed: 4,
  byKind: { transient: 4 },
  short: false,
};

const words: DlqEnding = {
  what: "purge",
  after: (s) => `removed ${s.removed}`,
  line: (s) => `removed ${s.removed} from ${s.queue}`,
};

Deno.test("endDlqRun() prints the line, what is left and the counts by kind of a run that went through", () => {
  const io = captureIo();
  assert.equal(endDlqRun(io, done, { ...words, removes: { where: "" } }), 0);
  assert.deepEqual(io.out, [
    "removed 4 from dlq.telemetry.prod (6 left, in order)",
    "  transient            4",
  ]);
  assert.deepEqual(io.err, []);
});

Deno.test("endDlqRun() prints the JSON summary with the subcommand's fields, and short only when true", () => {
  const io = captureIo();
  endDlqRun(io, { ...done, short: true }, { ...words, json: (s) => ({ removed: s.removed }) });
  assert.deepEqual(JSON.parse(io.out[0]!), {
    summary: {
      queue: "dlq.telemetry.prod",
      total: 10,
      matched: 4,
      removed: 4,
      by_kind: { transient: 4 },
      short: true,
    },
  });
  assert.match(io.err[0]!, /^warning: dlq\.telemetry\.prod held 10 dead letters/);
});

Deno.test("endDlqRun() says in one line where a run stopped and where the dead letters are; exits 1", () => {
  const io = captureIo();
  const failure = { kind: "connection_lost" as const, message: "lost the broker: gone" };
  const code = endDlqRun(io, { ...done, scanned: 7, failure }, {
    ...words,
    removes: { where: "" },
  });
  assert.equal(code, 1);
  assert.deepEqual(io.out, []);
  assert.deepEqual(io.err, [
    "error: purge stopped after 7 of 10: lost the broker: gone; removed 4; " +
    "every other dead letter is still in dlq.telemetry.prod, in order",
  ]);
  const early = captureIo();
  endDlqRun(early, { ...done, failure: { kind: "busy", message: "being read" } }, words);
  assert.deepEqual(early.err, ["error: being read"], "a failure before the start says only why");
});

Deno.test("endDlqRun() takes a reader that went away from printed letters as done", () => {
  const io = captureIo();
  const failure = { kind: "handler" as const, message: "Broken pipe (os error 32)" };
  assert.equal(endDlqRun(io, { ...done, failure }, { ...words, letters: true }), 0);
  assert.deepEqual([io.out, io.err], [[], []]);
});

Deno.test("letterPrinter() prints the header once, then a line per dead letter; or JSON objects", () => {
  const letter = { position: 1, info: unknown } as DeadLetter;
  const text = captureIo();
  const print = letterPrinter(text, false);
  print(letter);
  print(letter);
  assert.deepEqual(text.out, [LETTER_HEADER, letterLine(unknown), letterLine(unknown)]);
  const json = captureIo();
  letterPrinter(json, true)(letter);
  assert.deepEqual(json.out.map((l) => JSON.parse(l)), [letterJson(unknown, 1)]);
});
