import assert from "node:assert/strict";
import { ExitCode, exitCodeFor, exitCodeForSignal } from "../../src/cli/exit_code.ts";
import { type ErrorCode, type ErrorKind, TelemetryError } from "../../src/core/errors.ts";

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

/**
 * Every {@linkcode ErrorCode} with the kinds it is built with (`grep 'new TelemetryError('`):
 * a new code does not compile until it is listed here, and then needs its row in docs/operations.md.
 */
const KINDS_OF_CODE = {
  bad_match_id: ["usage"],
  url_refused: ["usage"],
  bad_option: ["usage", "permanent"],
  bad_job: ["usage"],
  data_dir: ["permanent"],
  network: ["transient"],
  timeout: ["transient"],
  http_status: ["transient", "permanent"],
  short_body: ["transient"],
  too_large: ["permanent"],
  too_many_redirects: ["permanent"],
  truncated: ["permanent"],
  corrupt: ["permanent"],
  invalid_json: ["permanent"],
  empty: ["permanent"],
  not_telemetry: ["permanent"],
  wrong_match: ["permanent"],
  no_match_id: ["usage"],
  io: ["transient", "fatal"],
  aborted: ["transient"],
  permission: ["fatal"],
  tls: ["fatal"],
  store_full: ["store"],
  store_read_only: ["store"],
  store_io: ["store"],
  store_permission: ["store"],
} as const satisfies Record<ErrorCode, readonly ErrorKind[]>;

/** The codes of a failure the worker reads from a job message or assigns itself (`src/queue/`). */
const WORKER_CODES = {
  bad_body: ["permanent"],
  missing_field: ["permanent"],
  internal: ["transient"],
  redelivered: ["redelivered"],
} as const;

Deno.test("docs/operations.md's table of error codes has a row for every code and kind", async () => {
  const page = await Deno.readTextFile(new URL("../../docs/operations.md", import.meta.url));
  const start = page.indexOf("### Error kinds and codes");
  assert.notEqual(start, -1, "docs/operations.md has an 'Error kinds and codes' section");
  const rows = new Set(
    page.slice(start).split("\n").map((line) => /^\| `(\w+)` +\| `(\w+)` +\|/.exec(line))
      .filter((match) => match !== null).map((match) => `${match[1]} ${match[2]}`),
  );
  for (const [code, kinds] of Object.entries({ ...KINDS_OF_CODE, ...WORKER_CODES })) {
    for (const kind of kinds) assert.ok(rows.has(`${code} ${kind}`), `a row for ${code} (${kind})`);
  }
});
