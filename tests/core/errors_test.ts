import assert from "node:assert/strict";
import { errorLine, isKind, TelemetryError } from "../../src/core/errors.ts";

Deno.test("TelemetryError carries kind, code, cause, Retry-After and offset", () => {
  const cause = new Error("socket hang up");
  const err = new TelemetryError("transient", "http_status", "HTTP 429 from host", {
    cause,
    retryAfterSeconds: 7,
  });
  assert.equal(err.kind, "transient");
  assert.equal(err.code, "http_status");
  assert.equal(err.cause, cause);
  assert.equal(err.retryAfterSeconds, 7);
  assert.equal(err.offset, undefined);
  assert.equal(err.name, "TelemetryError");
  assert.ok(err instanceof Error);
  const json = new TelemetryError("permanent", "invalid_json", "bad", { offset: 12 });
  assert.equal(json.offset, 12);
  assert.equal(json.cause, undefined);
});

Deno.test("isKind() checks the kind of TelemetryErrors only", () => {
  assert.equal(isKind(new TelemetryError("usage", "bad_match_id", "x"), "usage"), true);
  assert.equal(isKind(new TelemetryError("usage", "bad_match_id", "x"), "transient"), false);
  assert.equal(isKind(new Error("x"), "permanent"), false);
  assert.equal(isKind("x", "permanent"), false);
});

Deno.test("errorLine() renders any thrown value as one line", () => {
  assert.equal(errorLine(new Error("a\n   b\nc")), "a b c");
  assert.equal(errorLine("plain"), "plain");
  assert.equal(errorLine(42), "42");
});
