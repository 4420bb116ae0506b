import assert from "node:assert/strict";
import { ExitCode } from "../../src/cli/exit_code.ts";
import type { CommandIo } from "../../src/cli/io.ts";
import { runOperator } from "../../src/commands/operator_run.ts";

/** Output captured in memory. */
function captureIo(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, isTty: false, print: (l) => out.push(l), error: (l) => err.push(l) };
}

const steps = {
  summary: (s: { error: string | undefined; sent: number }) => `sent ${s.sent}`,
  failure: (s: { error: string | undefined; sent: number }) => `${s.error}; sent ${s.sent}`,
  verdict: (s: { error: string | undefined; sent: number }) =>
    s.sent > 0 ? ExitCode.Ok : ExitCode.Failed,
};

Deno.test("runOperator() prints the summary and returns the verdict", async () => {
  const io = captureIo();
  const signal = new AbortController().signal;
  let cleaned = 0;
  let seen: AbortSignal | undefined;
  const code = await runOperator({ io, signal }, {
    ...steps,
    run: (s) => {
      seen = s;
      return Promise.resolve({ error: undefined, sent: 2 });
    },
    cleanup: () => Promise.resolve(void cleaned++),
  });
  assert.equal(code, ExitCode.Ok);
  assert.equal(seen, signal, "the caller's signal goes to the core");
  assert.deepEqual(io.out, ["sent 2"]);
  assert.deepEqual(io.err, []);
  assert.equal(cleaned, 1);
});

Deno.test("runOperator() prints the summary, then the error line, and exits 1 for a run that stopped early", async () => {
  const io = captureIo();
  const bar = {
    finished: 0,
    finish() {
      this.finished++;
    },
  };
  const code = await runOperator({ io, signal: new AbortController().signal }, {
    ...steps,
    bar,
    run: () => Promise.resolve({ error: "interrupted", sent: 1 }),
  });
  // Interrupted, but not by a signal this command listened for: 1.
  assert.equal(code, ExitCode.Failed);
  assert.deepEqual(io.out, ["sent 1"]);
  assert.deepEqual(io.err, ["error: interrupted; sent 1"]);
  assert.equal(bar.finished, 1);
});

Deno.test("runOperator() prints one error line and exits 1 when the core cannot start, and still cleans up", async () => {
  const io = captureIo();
  let cleaned = 0;
  const code = await runOperator({ io, signal: new AbortController().signal }, {
    ...steps,
    run: () => Promise.reject(new Error("cannot reach the broker\nat all")),
    cleanup: () => Promise.resolve(void cleaned++),
  });
  assert.equal(code, ExitCode.Failed);
  assert.deepEqual(io.out, []);
  assert.deepEqual(io.err, ["error: cannot reach the broker at all"]);
  assert.equal(cleaned, 1);
});
