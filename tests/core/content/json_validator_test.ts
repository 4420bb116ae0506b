import assert from "node:assert/strict";
import {
  JsonValidator,
  MAX_CAPTURE_BYTES,
  ValidateStream,
  type ValidationSummary,
} from "../../../src/core/content/json_validator.ts";
import { TelemetryError } from "../../../src/core/errors.ts";
import { EXCERPT, TRUNCATED } from "../../support/real_fixtures.ts";
import { generateTelemetry } from "../../support/telemetry_fixture.ts";

const encoder = new TextEncoder();

/** Validates `bytes` split into the given chunks (cut positions). */
function validate(input: string | Uint8Array, cuts: number[] = []): ValidationSummary {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const validator = new JsonValidator();
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    validator.push(bytes.subarray(start, cut));
    start = cut;
  }
  return validator.end();
}

/** The TelemetryError that validating `input` throws. */
function failure(input: string | Uint8Array, cuts: number[] = []): TelemetryError {
  try {
    validate(input, cuts);
  } catch (err) {
    assert.ok(err instanceof TelemetryError, `expected a TelemetryError, got ${err}`);
    assert.equal(err.kind, "permanent");
    return err;
  }
  assert.fail(`expected validation to fail: ${String(input).slice(0, 80)}`);
}

/** Outcome of validating, as comparable data: the summary or the error. */
function outcome(input: Uint8Array, cuts: number[]): unknown {
  try {
    return validate(input, cuts);
  } catch (err) {
    if (!(err instanceof TelemetryError)) throw err;
    return { code: err.code, message: err.message, offset: err.offset };
  }
}

/** A small document with every kind of token. */
const ALL_TOKENS =
  `[ {"MatchId":"m.\\"q\\u00e9\\\\.abc","_T" : "Log\\u004datch", "n":[-0.5e+10, 0, 12.25E-3, -7, 1e5],
  "b":[true,false,null,{},[]], "s":"\\b\\f\\n\\r\\t\\/", "o":{"_T":"nested"}},\r\n\t{"_T":"Second","n":[-0.5e+10,0,1],` +
  `"o":{"a":{"b":[1,{"c":-0.25,"d":0}],"e":"\\u0041\\""},"f":{}},"x":1e5,"y":-3.25,"z":true,"w":false,"v":null,"u":12},` +
  `{"a":"\\\\"}]\n`;

Deno.test("JsonValidator validates minified telemetry", () => {
  const text = JSON.stringify([
    {
      MatchId: "match.bro.official.2018-04.eu.squad-fpp.abc",
      _D: "2018-04-05T20:51:00Z",
      _T: "LogMatchDefinition",
      _V: 2,
    },
    {
      common: { isGame: 0.1 },
      character: { location: { x: 1.5, y: -2, z: 3e-7 } },
      _T: "LogPlayerPosition",
    },
    { items: [], flag: true, none: null, _T: "LogMatchEnd" },
  ]);
  assert.deepEqual(validate(text), {
    bytes: text.length,
    events: 3,
    first: { type: "LogMatchDefinition", matchId: "match.bro.official.2018-04.eu.squad-fpp.abc" },
  });
});

Deno.test("JsonValidator validates pretty-printed telemetry", () => {
  const events = [{ _T: "LogMatchDefinition", MatchId: "m.1", a: [1, { b: [] }] }, { _T: "X" }];
  const text = JSON.stringify(events, null, "\t").replaceAll("\n", "\r\n");
  const padded = `\n  ${text}  \n`;
  assert.deepEqual(validate(padded), {
    bytes: padded.length,
    events: 2,
    first: { type: "LogMatchDefinition", matchId: "m.1" },
  });
});

Deno.test("JsonValidator counts bytes and events while pushing", () => {
  const validator = new JsonValidator();
  validator.push(encoder.encode('[{"a":1},{"b"'));
  assert.equal(validator.bytes, 13);
  assert.equal(validator.events, 2);
});

Deno.test("JsonValidator decodes escapes in the first event", () => {
  assert.deepEqual(validate(ALL_TOKENS), {
    bytes: encoder.encode(ALL_TOKENS).length,
    events: 3,
    first: { matchId: 'm."qé\\.abc', type: "LogMatch" },
  });
});

Deno.test("JsonValidator gives the same result at every chunk split of a valid document", () => {
  const bytes = encoder.encode(ALL_TOKENS);
  const expected = validate(bytes);
  assert.deepEqual(validate(bytes, Array.from({ length: bytes.length }, (_, i) => i)), expected);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(validate(bytes, [cut]), expected, `split at ${cut}`);
  }
});

Deno.test("JsonValidator gives the same error at every chunk split of an invalid document", () => {
  const invalid = [
    `${ALL_TOKENS.slice(0, 60)}\u0001`,
    ALL_TOKENS.replace("12.25", "12.x"),
    ALL_TOKENS.slice(0, 150),
    ALL_TOKENS.replace('"y":-3.25', '"y":-3.x'),
    ALL_TOKENS.replace('"d":0}', '"d":01}'),
    ALL_TOKENS.replace('"w":false', '"w":falze'),
    ALL_TOKENS.replace('"e":"\\u0041', '"e":"\u0001'),
    ALL_TOKENS.replace('"f":{}}', '"f":{}]'),
    ALL_TOKENS.slice(0, -10),
  ];
  for (const text of invalid) {
    assert.notEqual(text, ALL_TOKENS);
    const bytes = encoder.encode(text);
    const expected = outcome(bytes, []);
    assert.equal((expected as { code: string }).code, "invalid_json");
    assert.deepEqual(outcome(bytes, Array.from({ length: bytes.length }, (_, i) => i)), expected);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(outcome(bytes, [cut]), expected, `split at ${cut}`);
    }
  }
});

Deno.test("JsonValidator reports each syntax error with its byte offset", () => {
  const cases: [string, number, string][] = [
    ['[{"a":1 x}]', 8, "expected ',' or '}' but found 'x'"],
    ['[{"a":[1 2]}]', 9, "expected ',' or ']' but found '2'"],
    ['[{"a" 1}]', 6, "expected ':' but found '1'"],
    ["[{a:1}]", 2, "expected a string key or '}' but found 'a'"],
    ['[{"a":1,}]', 8, "expected a string key but found '}'"],
    ['[{"a":[1,]}]', 9, "expected a JSON value but found ']'"],
    ['[{"a":}]', 6, "expected a JSON value but found '}'"],
    ['[{"a":[,]}]', 7, "expected a JSON value or ']' but found ','"],
    ['[{"a":"x\ty"}]', 8, "unescaped control character 0x09 in a string"],
    ['[{"a":"\\x"}]', 8, "expected an escape character (one of \" \\ / b f n r t u) but found 'x'"],
    ['[{"a":"\\u12G4"}]', 11, "expected a hex digit of a \\u escape but found 'G'"],
    ['[{"a":-x}]', 7, "expected a digit but found 'x'"],
    ['[{"a":1.}]', 8, "expected a digit but found '}'"],
    ['[{"a":1e}]', 8, "expected a digit or a sign but found '}'"],
    ['[{"a":1e+}]', 9, "expected a digit but found '}'"],
    ['[{"a":01}]', 7, "expected ',' or '}' but found '1'"],
    ['[{"a":+1}]', 6, "expected a JSON value but found '+'"],
    ['[{"a":.5}]', 6, "expected a JSON value but found '.'"],
    ['[{"a":tru}]', 9, "expected 'true' but found '}'"],
    ['[{"a":nul1}]', 9, "expected 'null' but found '1'"],
    ['[{"a":falsy}]', 10, "expected 'false' but found 'y'"],
    ['[{"a":1}},{}]', 8, "expected ',' or ']' but found '}'"],
    ['[{"a":[1}]}]', 8, "expected ',' or ']' but found '}'"],
    ['[{"a":1},]', 9, "expected a JSON value but found ']'"],
    ["[\u00ff]", 1, "expected a JSON value or ']' but found byte 0xc3"],
    ["x", 0, "expected a JSON value but found 'x'"],
  ];
  for (const [text, offset, message] of cases) {
    const err = failure(text);
    assert.equal(err.code, "invalid_json", text);
    assert.equal(err.offset, offset, text);
    assert.equal(err.message, `invalid JSON at byte ${offset}: ${message}`, text);
  }
});

Deno.test("JsonValidator says an HTML page or XML document is not JSON, still permanent invalid_json", () => {
  const html = "the content is an HTML page (starts with '<'), not JSON: " +
    "the URL may point to an error or login page";
  const xml = "the content is an XML document (starts with '<?xml'), not JSON: " +
    "the URL may point to an error or login page";
  const cases: [string, number[], number, string][] = [
    ["<!DOCTYPE html>\n<html><body>Sign in</body></html>", [], 0, html],
    ["<html>", [1], 0, html],
    ["\r\n  <html>", [], 4, html],
    ['<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', [], 0, xml],
  ];
  for (const [text, cuts, offset, message] of cases) {
    const err = failure(text, cuts);
    assert.equal(err.kind, "permanent", text);
    assert.equal(err.code, "invalid_json", text);
    assert.equal(err.offset, offset, text);
    assert.equal(err.message, message, text);
  }
});

Deno.test("JsonValidator reports an unexpected end with the offset of the end", () => {
  const cases: [string, string][] = [
    ["[", "an array"],
    ['[{"a":1}', "an array"],
    ['[{"a":1', "a number"],
    ['[{"a":"xy', "a string"],
    ['[{"a":"x\\', "a string escape"],
    ['[{"a":"\\u00', "a \\u escape"],
    ['[{"a":tr', "a literal"],
    ['[{"a"', "an object"],
    ['[{"a":', "an object"],
    ['[{"a":[', "an array"],
  ];
  for (const [text, inside] of cases) {
    const err = failure(text);
    assert.equal(err.code, "invalid_json", text);
    assert.equal(err.offset, text.length, text);
    assert.match(
      err.message,
      new RegExp(
        `^unexpected end of JSON at byte ${text.length} \\(inside ${
          inside.replace("\\", "\\\\")
        }, `,
      ),
      text,
    );
  }
  assert.match(failure('[{},{},{"a"').message, /after 2 complete events\)$/);
});

Deno.test("JsonValidator refuses a top-level value that is not an array", () => {
  const cases: [string, string][] = [
    ['{"_T":"x"}', "an object"],
    ["5", "a number"],
    ["-1", "a number"],
    ['"text"', "a string"],
    ["true", "a boolean"],
    ["null", "null"],
  ];
  for (const [text, kind] of cases) {
    const err = failure(`  ${text}`);
    assert.equal(err.code, "not_telemetry");
    assert.equal(err.offset, 2);
    assert.equal(
      err.message,
      `top-level JSON value is ${kind}, expected an array of events (byte 2)`,
    );
  }
});

Deno.test("JsonValidator refuses array elements that are not objects", () => {
  const one = failure("[1]");
  assert.equal(one.code, "not_telemetry");
  assert.equal(one.message, "event 0 is a number, expected an object (byte 1)");
  assert.equal(one.offset, 1);
  const second = failure("[{}, 2]");
  assert.equal(second.code, "not_telemetry");
  assert.equal(second.message, "event 1 is a number, expected an object (byte 5)");
  assert.equal(failure('[{},["x"]]').message, "event 1 is an array, expected an object (byte 4)");
  assert.equal(failure("[{},\n null]").message, "event 1 is null, expected an object (byte 6)");
});

Deno.test("JsonValidator refuses an empty array", () => {
  const err = failure(" [ \n ] ");
  assert.equal(err.code, "not_telemetry");
  assert.equal(err.message, "empty array: no events");
  assert.equal(err.offset, 5);
});

Deno.test("JsonValidator reports empty or whitespace-only content as empty", () => {
  for (const text of ["", " ", "\r\n\t  \n"]) {
    const err = failure(text);
    assert.equal(err.code, "empty");
    assert.equal(err.message, "content is empty");
  }
});

Deno.test("JsonValidator refuses data after the end of the array", () => {
  assert.deepEqual(validate("[{}] \n\t\r").events, 1);
  for (const [text, offset] of [["[{}] x", 5], ["[{}][{}]", 4], ['[{"a":1}]\u0000', 9]] as const) {
    const err = failure(text);
    assert.equal(err.code, "invalid_json");
    assert.equal(err.offset, offset);
    assert.equal(err.message, `unexpected data after the end of the array at byte ${offset}`);
  }
});

Deno.test("JsonValidator accepts nesting of 512 levels and refuses 513", () => {
  // The top-level array and the event object are 2 levels.
  const ok = `[{"a":${"[".repeat(510)}${"]".repeat(510)}}]`;
  assert.equal(validate(ok).events, 1);
  const deep = `[{"a":${"[".repeat(511)}${"]".repeat(511)}}]`;
  const err = failure(deep);
  assert.equal(err.code, "invalid_json");
  assert.equal(err.offset, 6 + 510);
  assert.equal(err.message, `invalid JSON at byte ${6 + 510}: nesting deeper than 512`);
  assert.equal(
    failure(`[{"a":${'{"b":'.repeat(600)}`).message,
    `invalid JSON at byte ${6 + 510 * 5}: nesting deeper than 512`,
  );
});

Deno.test("JsonValidator rethrows the first error on later calls", () => {
  const validator = new JsonValidator();
  validator.push(encoder.encode("[{"));
  let first: unknown;
  try {
    validator.push(encoder.encode("x"));
  } catch (err) {
    first = err;
  }
  assert.ok(first instanceof TelemetryError);
  assert.throws(() => validator.push(encoder.encode('"a":1}]')), (err) => err === first);
  assert.throws(() => validator.end(), (err) => err === first);
});

Deno.test("JsonValidator refuses push() after end()", () => {
  const validator = new JsonValidator();
  validator.push(encoder.encode("[{}]"));
  const summary = validator.end();
  assert.equal(validator.end(), summary);
  assert.throws(() => validator.push(encoder.encode(" ")), /after end\(\)/);
});

Deno.test("JsonValidator captures the first event's fields at every chunk split", () => {
  const text = '[{"x":{"_T":"inner","MatchId":"no"},"_T":"LogMatch\\u0044efinition",' +
    '"MatchId":"match.bro.\\"quoted\\".\\u00e9t\\u00e9.8c1c8a56"},{"_T":"Other","MatchId":"other"}]';
  const bytes = encoder.encode(text);
  const expected = { type: "LogMatchDefinition", matchId: 'match.bro."quoted".été.8c1c8a56' };
  assert.deepEqual(validate(bytes).first, expected);
  assert.deepEqual(
    validate(bytes, Array.from({ length: bytes.length }, (_, i) => i)).first,
    expected,
  );
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(validate(bytes, [cut]).first, expected, `split at ${cut}`);
  }
});

Deno.test("JsonValidator captures keys written with escapes", () => {
  assert.deepEqual(validate('[{"\\u005fT":"A","Match\\u0049d":"B"}]').first, {
    type: "A",
    matchId: "B",
  });
});

Deno.test("JsonValidator omits first-event fields that are absent or not strings", () => {
  assert.deepEqual(validate('[{"a":1},{"_T":"late","MatchId":"late"}]').first, {});
  assert.deepEqual(validate('[{"_T":5,"MatchId":{"x":"y"}}]').first, {});
  assert.deepEqual(validate('[{"MatchId":null}]').first, {});
  assert.deepEqual(validate('[{"_T":"A","_T":["B"]}]').first, {});
  assert.deepEqual(validate('[{"_T":["B"],"_T":"A"}]').first, { type: "A" });
});

Deno.test("JsonValidator skips first-event values longer than the capture limit", () => {
  const long = "x".repeat(MAX_CAPTURE_BYTES + 1);
  const exact = "y".repeat(MAX_CAPTURE_BYTES);
  assert.deepEqual(validate(`[{"MatchId":"${long}","_T":"${exact}"}]`).first, { type: exact });
});

Deno.test("JsonValidator refuses the truncated real 2018 file as an unexpected end", async () => {
  const bytes = await Deno.readFile(
    TRUNCATED,
  );
  const err = failure(bytes, [100_000, 1_000_001]);
  assert.equal(err.code, "invalid_json");
  assert.equal(err.offset, bytes.length);
  assert.match(
    err.message,
    /^unexpected end of JSON at byte \d+ \(inside .*, after 5459 complete events\)$/,
  );
});

Deno.test("JsonValidator accepts the truncated real 2018 file cut after its last event and closed", async () => {
  const bytes = await Deno.readFile(
    TRUNCATED,
  );
  // The file stops inside its last event, which starts after the last `},{`
  // (the data is ASCII, so string and byte offsets agree).
  const text = new TextDecoder().decode(bytes);
  const cut = text.lastIndexOf("},{") + 1;
  assert.ok(cut > 0);
  const fixed = new Uint8Array(cut + 1);
  fixed.set(bytes.subarray(0, cut));
  fixed[cut] = 0x5d;
  const summary = validate(fixed, [65_536, 131_072, 2_000_000]);
  assert.equal(summary.events, 5459);
  assert.equal(summary.first.type, "LogMatchDefinition");
  assert.equal(
    summary.first.matchId,
    "match.bro.official.2018-04.eu.squad-fpp.2018.04.05.fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c",
  );
  assert.doesNotThrow(() => JSON.parse(new TextDecoder().decode(fixed)));
});

Deno.test("JsonValidator accepts the pretty-printed real 2018 excerpt", async () => {
  const bytes = await Deno.readFile(EXCERPT);
  const summary = validate(bytes, [1000, 1001, 5000]);
  assert.equal(summary.events, 29);
  assert.equal(summary.bytes, bytes.length);
  assert.equal(summary.first.type, "LogMatchDefinition");
  assert.ok(summary.first.matchId?.endsWith(".8c1c8a56-4104-46ef-8aec-5e012b041574"));
});

/** A tiny deterministic PRNG (mulberry32). */
function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random JSON text (ASCII only) with random whitespace. */
function randomJson(random: () => number, depth: number): string {
  const ws = () =>
    [" ", "\n", "\t", "\r", ""][Math.floor(random() * 5)]!.repeat(random() < 0.8 ? 0 : 2);
  const pick = Math.floor(random() * (depth > 3 ? 5 : 7));
  switch (pick) {
    case 0:
      return String(
        [0, -0, 1, -12, 3.25, -0.5, 1e21, 1.5e-7, 123456789012][Math.floor(random() * 9)],
      );
    case 1:
      return [
        "true",
        "false",
        "null",
        "0.0",
        "-0",
        "1E+2",
        "2e-0",
        "10",
      ][Math.floor(random() * 8)]!;
    case 2:
    case 3:
      return JSON.stringify(
        [
          "",
          "a",
          'q"uote',
          "back\\slash",
          "tab\t",
          "\u0001",
          "é",
          "/",
          "\ud83d",
        ][Math.floor(random() * 9)]!,
      ).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
    case 4:
      return `"${["\\u00e9", "\\/", "\\b", "\\uD83D\\uDE00", "x"][Math.floor(random() * 5)]}"`;
    case 5: {
      const items = Array.from(
        { length: Math.floor(random() * 4) },
        () => ws() + randomJson(random, depth + 1) + ws(),
      );
      return `[${items.join(",")}]`;
    }
    default: {
      const members = Array.from(
        { length: Math.floor(random() * 4) },
        () =>
          `${ws()}"k${Math.floor(random() * 3)}"${ws()}:${ws()}${
            randomJson(random, depth + 1)
          }${ws()}`,
      );
      return `{${members.join(",")}}`;
    }
  }
}

/** One random ASCII edit: replace, insert or delete a byte. */
function mutate(random: () => number, text: string): string {
  const chars = '{}[],:"\\ 0123456789.eE+-tfnul\u0001x\n';
  const at = Math.floor(random() * (text.length + 1));
  const ch = chars[Math.floor(random() * chars.length)]!;
  const kind = Math.floor(random() * 3);
  if (kind === 0) return text.slice(0, at) + ch + text.slice(at + 1);
  if (kind === 1) return text.slice(0, at) + ch + text.slice(at);
  return text.slice(0, at) + text.slice(at + 1);
}

/** Whether JSON.parse accepts the text and it has the telemetry shape. */
function isTelemetry(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  return Array.isArray(value) && value.length > 0 &&
    value.every((event) => typeof event === "object" && event !== null && !Array.isArray(event));
}

Deno.test("JsonValidator agrees with JSON.parse on random documents and mutations", () => {
  const random = makeRandom(20240528);
  let accepted = 0;
  let rejected = 0;
  for (let round = 0; round < 15_000; round++) {
    const value = randomJson(random, 0);
    const where = random();
    let text = where < 0.1
      ? value
      : where < 0.5
      ? `[{"k": ${value}}${random() < 0.5 ? ',{"k":[]}' : ""}]`
      : `[{"k":[]},{"k":${value},"j":${value}}]`;
    if (round % 4 !== 0) text = mutate(random, text);
    if (random() < 0.3) text = mutate(random, text);
    const bytes = encoder.encode(text);
    const cuts = [Math.floor(random() * (bytes.length + 1))].sort((a, b) => a - b);
    if (random() < 0.5) cuts.push(Math.max(cuts[0]!, Math.floor(random() * (bytes.length + 1))));
    const expected = isTelemetry(text);
    let actual = true;
    try {
      validate(bytes, cuts);
    } catch (err) {
      if (!(err instanceof TelemetryError)) throw err;
      actual = false;
    }
    assert.equal(actual, expected, `round ${round}: ${JSON.stringify(text)}`);
    if (actual) accepted++;
    else rejected++;
  }
  assert.ok(accepted > 2000 && rejected > 2000, `accepted ${accepted}, rejected ${rejected}`);
});

Deno.test("JsonValidator gives the same result whole and byte by byte on mutated telemetry", () => {
  // Whole, minified telemetry goes mostly through the fast path; pushed one
  // byte at a time, through the general states only.
  const text = new TextDecoder().decode(generateTelemetry({ matchId: "m", events: 30 }));
  const random = makeRandom(20261130);
  let accepted = 0;
  for (let round = 0; round < 200; round++) {
    const mutated = round === 0 ? text : mutate(random, text);
    const bytes = encoder.encode(mutated);
    const expected = outcome(bytes, []);
    assert.deepEqual(
      outcome(bytes, Array.from({ length: bytes.length }, (_, i) => i)),
      expected,
      `round ${round}`,
    );
    if ("events" in (expected as object)) accepted++;
  }
  assert.ok(accepted > 10 && accepted < 190, `accepted ${accepted}`);
});

Deno.test("ValidateStream passes chunks through and keeps the summary", async () => {
  const chunks = ['[{"_T":"LogMatch', 'Definition","MatchId":"m.2"}', ",{}]"].map((s) =>
    encoder.encode(s)
  );
  const stream = new ValidateStream();
  assert.equal(stream.summary, undefined);
  const out = await Array.fromAsync(ReadableStream.from(chunks).pipeThrough(stream));
  assert.deepEqual(out, chunks);
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  assert.deepEqual(stream.summary, {
    bytes: total,
    events: 2,
    first: { type: "LogMatchDefinition", matchId: "m.2" },
  });
  assert.equal(stream.bytes, total);
  assert.equal(stream.events, 2);
});

Deno.test("ValidateStream errors the stream on invalid content", async () => {
  const stream = ReadableStream.from([encoder.encode('[{"a":1}'), encoder.encode(",]")])
    .pipeThrough(new ValidateStream());
  await assert.rejects(
    stream.pipeTo(new WritableStream()),
    (err) => err instanceof TelemetryError && err.code === "invalid_json" && err.offset === 9,
  );
});

Deno.test("ValidateStream errors the stream on an unexpected end", async () => {
  const validate = new ValidateStream();
  await assert.rejects(
    ReadableStream.from([encoder.encode('[{"a":1}')]).pipeThrough(validate).pipeTo(
      new WritableStream(),
    ),
    (err) => err instanceof TelemetryError && err.code === "invalid_json" && err.offset === 8,
  );
  assert.equal(validate.summary, undefined);
});

Deno.test("JsonValidator tells when the first event is complete, with its fields", () => {
  const validator = new JsonValidator();
  validator.push(encoder.encode('[{"_T":"LogMatchDefinition","MatchId":"m.1","x":{"y":1}'));
  assert.equal(validator.firstEventComplete, false, "still inside the first event");
  validator.push(encoder.encode("}"));
  assert.equal(validator.firstEventComplete, true);
  assert.deepEqual(validator.first, { type: "LogMatchDefinition", matchId: "m.1" });
  validator.push(encoder.encode(',{"_T":"X"}]'));
  assert.equal(validator.firstEventComplete, true);
  assert.equal(new JsonValidator().firstEventComplete, false);
});
