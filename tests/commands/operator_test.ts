import assert from "node:assert/strict";
import { ExitCode } from "../../src/cli/exit_code.ts";
import type { CommandIo } from "../../src/cli/io.ts";
import { TelemetryError } from "../../src/core/errors.ts";
import {
  operatorHelp,
  renderJson,
  startFailure,
  summaryJson,
  terminalBar,
  withInterrupt,
} from "../../src/commands/operator.ts";

/** Output captured in memory. */
function captureIo(isTty = false): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, isTty, print: (l) => out.push(l), error: (l) => err.push(l) };
}

Deno.test("renderJson() writes the fields in the order given, snake_case, null where undefined", () => {
  const value = { resumeLine: undefined, queue: "q", dryRun: false, notSent: 2, extra: "left out" };
  assert.equal(
    JSON.stringify(renderJson(value, "queue dryRun notSent:not_audited resumeLine")),
    '{"queue":"q","dry_run":false,"not_audited":2,"resume_line":null}',
  );
});

Deno.test("renderJson() leaves out an undefined name? field and rounds numbers to 3 decimals", () => {
  const value = { error: undefined, code: "bad_body", seconds: 0.12345, count: 7 };
  assert.deepEqual(renderJson(value, "error? code:error_code? seconds count"), {
    error_code: "bad_body",
    seconds: 0.123,
    count: 7,
  });
  assert.deepEqual(renderJson({ byKind: { a: 1 } }, "byKind"), { by_kind: { a: 1 } });
});

Deno.test("summaryJson() wraps the fields in a summary object on one line", () => {
  assert.equal(
    summaryJson({ matched: 3, short: undefined }, "matched short?"),
    '{"summary":{"matched":3}}',
  );
});

Deno.test("terminalBar() draws only on a terminal", () => {
  const options = { label: "replay", unit: "items" } as const;
  assert.equal(terminalBar(captureIo(false), options), undefined);
  assert.ok(terminalBar(captureIo(true), options) !== undefined);
});

Deno.test("withInterrupt() hands the caller's signal to the run and returns its code", async () => {
  const signal = new AbortController().signal;
  let seen: AbortSignal | undefined;
  const code = await withInterrupt(signal, (s, stopped) => {
    seen = s;
    return Promise.resolve(stopped() ?? ExitCode.Failed);
  });
  assert.equal(seen, signal);
  assert.equal(code, ExitCode.Failed, "no signal received: stopped() says nothing");
});

Deno.test("withInterrupt() listens for SIGINT/SIGTERM when the caller gives no signal", async () => {
  let seen: AbortSignal | undefined;
  const code = await withInterrupt(undefined, (s, stopped) => {
    seen = s;
    return Promise.resolve(stopped() ?? ExitCode.Ok);
  });
  assert.equal(code, ExitCode.Ok);
  assert.ok(seen instanceof AbortSignal && !seen.aborted);
});

Deno.test("startFailure() prints one error line and exits 2 for a usage error, 1 otherwise", () => {
  const io = captureIo();
  assert.equal(startFailure(io, new TelemetryError("usage", "bad_option", "bad --env")), 2);
  assert.equal(startFailure(io, new Error("cannot\nopen")), 1);
  assert.deepEqual(io.err, ["error: bad --env", "error: cannot open"]);
});

Deno.test("operatorHelp() puts about, examples, the broker's and the command's variables, and the exit codes in order", () => {
  const text = operatorHelp({
    about: "Does things.",
    examples: ["telemetry x --env prod", "telemetry x --env prod --json"],
    environment: "  TELEMETRY_DATA_DIR           default for --data-dir",
    exitCodes: "Exit codes: 0 done.",
  });
  assert.match(
    text,
    /^\nDoes things\.\n\nExamples:\n {2}telemetry x --env prod\n {2}telemetry x --env prod --json\n\nEnvironment:\n {2}TELEMETRY_ENV/,
  );
  assert.match(
    text,
    /\n {2}TELEMETRY_DATA_DIR {11}default for --data-dir\n\nExit codes: 0 done\.$/,
  );
});
