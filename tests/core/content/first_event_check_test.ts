import assert from "node:assert/strict";
import { checkFirstEvent, FirstEventCheck } from "../../../src/core/content/first_event_check.ts";
import { TelemetryError } from "../../../src/core/errors.ts";
import { generateTelemetry, telemetryMatchId } from "../../support/telemetry_fixture.ts";

const encoder = new TextEncoder();

function wrongMatch(err: unknown): boolean {
  assert.ok(err instanceof TelemetryError, String(err));
  assert.equal(err.code, "wrong_match");
  assert.equal(err.kind, "permanent");
  return true;
}

Deno.test("checkFirstEvent() refuses a LogMatchDefinition of another match", () => {
  const first = { type: "LogMatchDefinition", matchId: telemetryMatchId("abc") };
  checkFirstEvent(first, "abc");
  checkFirstEvent(first, undefined);
  checkFirstEvent({ type: "LogMatchStart", matchId: "x.other" }, "abc");
  assert.throws(() => checkFirstEvent(first, "other"), wrongMatch);
});

Deno.test("FirstEventCheck refuses another match as soon as the first event is complete", () => {
  const check = new FirstEventCheck("other");
  const bytes = generateTelemetry({ matchId: "abc", events: 100 });
  const end = new TextDecoder().decode(bytes).indexOf("},{") + 1;
  check.push(bytes.subarray(0, end - 1)); // all but the first event's closing brace
  assert.equal(check.done, false);
  assert.throws(() => check.push(bytes.subarray(end - 1, end)), wrongMatch);
  assert.equal(check.done, true);
});

Deno.test("FirstEventCheck is done once the first event of the right match is read", () => {
  const check = new FirstEventCheck("abc");
  const bytes = generateTelemetry({ matchId: "abc", events: 100 });
  check.push(bytes.subarray(0, 2000));
  assert.equal(check.done, true);
  check.push(encoder.encode("not even JSON")); // no longer looked at
});

Deno.test("FirstEventCheck refuses content that is not JSON at its first byte", () => {
  const check = new FirstEventCheck("abc");
  assert.throws(() => check.push(encoder.encode("<!DOCTYPE html>")), (err: unknown) => {
    assert.ok(err instanceof TelemetryError);
    assert.equal(err.code, "invalid_json");
    return true;
  });
});

Deno.test("FirstEventCheck stops reading a large chunk soon after the first event", () => {
  // One 256 KiB chunk, as GunzipStream emits it: the first event, then a
  // body whose fault lies far past it. The check must not read that far
  // (the content's own validation reports it): it validates a few KiB, not
  // the whole chunk a second time.
  const head = new TextDecoder().decode(generateTelemetry({ matchId: "abc", events: 3 }));
  const firstEvent = head.slice(0, head.indexOf("},{") + 2);
  const filler = `{"_T":"LogPlayerPosition","elapsedTime":1},`.repeat(6000);
  const chunk = encoder.encode(`${firstEvent}${filler}{"broken": }`);
  assert.ok(chunk.length > 200 * 1024);
  const check = new FirstEventCheck("abc");
  check.push(chunk);
  assert.equal(check.done, true);
});
