import assert from "node:assert/strict";
import { ExitCode, exitCodeFor, exitCodeForSignal } from "../../src/cli/exit_code.ts";
import { TelemetryError } from "../../src/core/errors.ts";

Deno.test("exitCodeFor() maps usage errors to 2 and everything else to 1", () => {
  assert.equal(exitCodeFor(new TelemetryError("usage", "bad_match_id", "x")), ExitCode.Usage);
  assert.equal(exitCodeFor(new TelemetryError("permanent", "http_status", "x")), ExitCode.Failed);
  assert.equal(exitCodeFor(new TelemetryError("transient", "timeout", "x")), ExitCode.Failed);
  assert.equal(exitCodeFor(new Error("bug")), ExitCode.Failed);
});

Deno.test("exitCodeForSignal() gives 130 for SIGINT and 143 for SIGTERM", () => {
  assert.equal(exitCodeForSignal("SIGINT"), 130);
  assert.equal(exitCodeForSignal("SIGTERM"), 143);
});
