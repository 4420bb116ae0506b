import assert from "node:assert/strict";
import { Command } from "commander";
import {
  commanderOutput,
  type OutputStream,
  useDenoOutput,
} from "../../src/cli/commander_output.ts";
import { CLI_FLAGS } from "../../scripts/permissions.ts";

/** A stream that records what is written, and may claim to be a terminal or be closed. */
class FakeStream implements OutputStream {
  text = "";
  constructor(readonly terminal = false, readonly closed = false) {}
  writeSync(p: Uint8Array): number {
    if (this.closed) throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    this.text += new TextDecoder().decode(p);
    return p.length;
  }
  isTerminal(): boolean {
    return this.terminal;
  }
}

function noEnv(): string | undefined {
  return undefined;
}

Deno.test("help and errors go to Deno's streams, at the terminal's width or 80 columns", () => {
  const stdout = new FakeStream(true);
  const stderr = new FakeStream(false);
  const output = commanderOutput({ stdout, stderr, env: noEnv, columns: () => 132 });
  output.writeOut!("help\n");
  output.writeErr!("error: bad\n");
  assert.equal(stdout.text, "help\n");
  assert.equal(stderr.text, "error: bad\n");
  assert.equal(output.getOutHelpWidth!(), 132);
  assert.equal(output.getErrHelpWidth!(), 80, "stderr is not a terminal");
  const unknownSize = commanderOutput({ stdout, stderr, env: noEnv, columns: () => undefined });
  assert.equal(unknownSize.getOutHelpWidth!(), 80);
});

Deno.test("colour follows commander's rules: NO_COLOR, FORCE_COLOR, CLICOLOR_FORCE, else a terminal", () => {
  const tty = new FakeStream(true);
  const pipe = new FakeStream(false);
  function colors(env: Record<string, string>) {
    const output = commanderOutput({ stdout: tty, stderr: pipe, env: (name) => env[name] });
    return [output.getOutHasColors!(), output.getErrHasColors!()];
  }
  assert.deepEqual(colors({}), [true, false]);
  assert.deepEqual(colors({ NO_COLOR: "1" }), [false, false]);
  assert.deepEqual(colors({ FORCE_COLOR: "0" }), [false, false]);
  assert.deepEqual(colors({ FORCE_COLOR: "false" }), [false, false]);
  assert.deepEqual(colors({ FORCE_COLOR: "1" }), [true, true]);
  assert.deepEqual(colors({ CLICOLOR_FORCE: "" }), [true, true]);
});

Deno.test("a reader that went away is not an error; other write errors are", () => {
  const output = commanderOutput({ stdout: new FakeStream(false, true), env: noEnv });
  output.writeOut!("help\n");
  const failing: OutputStream = {
    writeSync() {
      throw new Deno.errors.PermissionDenied("nope");
    },
    isTerminal: () => false,
  };
  assert.throws(
    () => commanderOutput({ stdout: failing, env: noEnv }).writeOut!("x"),
    Deno.errors.PermissionDenied,
  );
});

Deno.test("useDenoOutput reaches subcommands added with addCommand, at any depth", () => {
  const stdout = new FakeStream();
  const stderr = new FakeStream();
  const leaf = new Command("list").description("list them").exitOverride();
  const group = new Command("dlq").addCommand(leaf).exitOverride();
  const program = new Command("telemetry").addCommand(group).exitOverride();
  useDenoOutput(program, commanderOutput({ stdout, stderr, env: noEnv }));
  assert.throws(() => program.parse(["dlq", "list", "--help"], { from: "user" }));
  assert.match(stdout.text, /^Usage: telemetry dlq list \[options\]\n/);
  assert.throws(() => program.parse(["dlq", "list", "--bogus"], { from: "user" }));
  assert.match(stderr.text, /error: unknown option '--bogus'/);
});

Deno.test("help into a pipe its reader closed ends quietly with exit 0", async () => {
  const main = Deno.env.get("TELEMETRY_TEST_MAIN") ??
    new URL("../../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...CLI_FLAGS, main, "download", "--help"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The reader is gone before the help is written, as with `| head -c 0`.
  await child.stdout.cancel();
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  assert.equal(stderr, "");
  assert.equal(status.code, 0);
});
