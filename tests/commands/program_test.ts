/**
 * Usage errors of the whole program: every command, run as a child with
 * stderr piped (not a terminal, as under systemd or in a script), prints
 * one `error: …` line and the same hint, and exits 2, whether commander
 * found the error or the command did.
 */

import assert from "node:assert/strict";
import { USAGE_HINT } from "../../src/commands/program.ts";
import { runCli } from "../support/cli.ts";

/** No environment variable chooses a broker, an env or a data dir for the child. */
const CLEAN_ENV = {
  TELEMETRY_ENV: "",
  ENVIRONMENT: "",
  RABBITMQ_URL: "",
  TELEMETRY_DATA_DIR: "",
};

/** Runs the CLI and checks it failed as a usage error: `[error line, hint]`, exit 2, no stdout. */
async function usageError(args: string[]): Promise<string> {
  const [stdout, stderr, code] = await runCli(args, { env: CLEAN_ENV });
  const name = args.join(" ");
  assert.equal(code, 2, `${name}: ${stderr}`);
  assert.equal(stdout, "", name);
  const lines = stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 2, `${name}: ${stderr}`);
  assert.match(lines[0]!, /^error: \S/, `${name}: not a log record: ${lines[0]}`);
  assert.equal(lines[1], USAGE_HINT, name);
  return lines[0]!;
}

Deno.test("telemetry <command>: a bad value the command checks is `error: …` plus the hint, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["download", "https://telemetry-cdn.pubg.com/x.json", "--match-id", "../x"],
      /^error: invalid match id "\.\.\/x"/,
    ],
    [["download", "https://example.com/x.json"], /^error: URL refused: host example\.com/],
    [["download"], /^error: missing URL: telemetry download <url>/],
    [["download", "--jobs", "/nonexistent/jobs.ndjson"], /^error: cannot read --jobs /],
    [["consume", "--env", "Bad.Env"], /^error: invalid --env/],
    [["consume"], /^error: missing environment/],
    [["verify", "--match-id", "../x"], /^error: invalid match id/],
    [["enqueue", "--env", "Bad.Env", "--jobs", "-"], /^error: invalid --env/],
    [["announce", "--env", "Bad.Env", "--match-id", "a"], /^error: invalid --env/],
    [["dlq", "list", "--env", "Bad.Env"], /^error: invalid --env/],
    [["status", "--env", "Bad.Env"], /^error: invalid --env/],
  ];
  for (const [args, pattern] of cases) {
    assert.match(await usageError(args), pattern, args.join(" "));
  }
});

Deno.test("telemetry <command>: a bad flag value commander checks ends with the same hint, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["download", "--jobs", "-", "--concurrency", "0"], /--concurrency/],
    [["consume", "--env", "x", "--concurrency", "x"], /--concurrency/],
    [["verify", "--jobs", "0"], /--jobs/],
    [["enqueue", "--env", "x", "--confirm-timeout", "soon"], /--confirm-timeout/],
    [["announce", "--env", "x", "--concurrency", "0"], /--concurrency/],
    [["dlq", "list", "--env", "x", "--kind", "nope"], /--kind/],
    [["dlq", "--zzzz"], /unknown option '--zzzz'/],
    [["status", "--timeout", "soon"], /--timeout/],
    [["completions", "tcsh"], /Allowed choices are bash, zsh, fish/],
    [["zzzz"], /unknown command 'zzzz'/],
  ];
  for (const [args, pattern] of cases) {
    assert.match(await usageError(args), pattern, args.join(" "));
  }
});
