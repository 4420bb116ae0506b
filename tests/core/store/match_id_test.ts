import assert from "node:assert/strict";
import {
  isValidMatchId,
  matchIdFromTelemetry,
  parseMatchId,
  telemetryMatches,
} from "../../../src/core/store/match_id.ts";
import { TelemetryError } from "../../../src/core/errors.ts";

Deno.test("parseMatchId() accepts uuids and dotted ids", () => {
  assert.equal(
    parseMatchId("fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c"),
    "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c",
  );
  assert.equal(parseMatchId("a.b_c-D9"), "a.b_c-D9");
  assert.equal(parseMatchId("x".repeat(128)), "x".repeat(128));
});

Deno.test("parseMatchId() rejects path traversal and bad characters with a usage error", () => {
  for (const bad of [".", "..", "../x", "a/b", "a\\b", "", "x".repeat(129), "a b", "é", "a\0"]) {
    assert.throws(() => parseMatchId(bad), (err: unknown) => {
      assert.ok(err instanceof TelemetryError);
      assert.equal(err.kind, "usage");
      assert.equal(err.code, "bad_match_id");
      assert.ok(!err.message.includes("\n"));
      return true;
    }, bad);
  }
  assert.throws(() => parseMatchId(42), /invalid match id 42/);
});

Deno.test("parseMatchId() names the bad value in the message", () => {
  assert.throws(() => parseMatchId("../etc"), /"\.\.\/etc"/);
});

Deno.test("isValidMatchId() agrees with parseMatchId()", () => {
  assert.equal(isValidMatchId("abc"), true);
  assert.equal(isValidMatchId(".."), false);
  assert.equal(isValidMatchId("a/b"), false);
});

Deno.test("matchIdFromTelemetry() takes the last dot-separated part", () => {
  assert.equal(
    matchIdFromTelemetry("match.bro.official.2018-04.eu.squad-fpp.2018.04.05.fc6db7bd-f16b"),
    "fc6db7bd-f16b",
  );
  assert.equal(matchIdFromTelemetry("match.bro."), undefined);
  assert.equal(matchIdFromTelemetry("plain"), "plain");
});

Deno.test("telemetryMatches() requires the .<id> suffix, not a mere ending", () => {
  assert.equal(telemetryMatches("match.bro.x.abc", "abc"), true);
  assert.equal(telemetryMatches("match.bro.x.zabc", "abc"), false);
  assert.equal(telemetryMatches("match.bro.x.abc", "x.abc"), true);
});
