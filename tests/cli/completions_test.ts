/**
 * The completion scripts, generated from the real program: bash run
 * non-interactively (`COMP_WORDS`, `COMP_CWORD`, the completion function,
 * `COMPREPLY`), and all three installed in the real shells, which complete
 * command lines (`tests/support/shell_completion.ts`). A missing shell fails
 * the tests that need it, naming the package (`.ci/run` installs them).
 */

import assert from "node:assert/strict";
import { Command, Option } from "commander";
import { buildProgram } from "../../src/commands/program.ts";
import { completionScript, type Shell } from "../../src/cli/completions/script.ts";
import { completionModel, valueKind } from "../../src/cli/completions/model.ts";
import { runCli } from "../support/cli.ts";
import {
  complete,
  completeLines,
  type Install,
  requireShell,
} from "../support/shell_completion.ts";

const decoder = new TextDecoder();

/** The real program, with every command (built once). */
const PROGRAM = await buildProgram(() => {});

function script(shell: Shell, program = PROGRAM): string {
  return completionScript(program, shell);
}

/** Sources the bash script and completes `words` (the last one is being typed). */
async function bashComplete(text: string, words: string[]): Promise<string[]> {
  const program = `eval "$SCRIPT"
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
_telemetry
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: ["--norc", "--noprofile", "-c", program],
    env: { SCRIPT: text },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, decoder.decode(stderr));
  assert.equal(decoder.decode(stderr), "");
  return decoder.decode(stdout).split("\n").filter((line) => line !== "");
}

/** The program's command names, as --help lists them. */
function commandNames(): string[] {
  const program = PROGRAM;
  return program.createHelp().visibleCommands(program).map((c) => c.name());
}

Deno.test("bash completion: 'telemetry d' completes to the commands starting with d", async () => {
  const expected = commandNames().filter((name) => name.startsWith("d"));
  assert.ok(expected.includes("download"));
  // With `dlq` registered this is exactly "download dlq".
  assert.deepEqual(await bashComplete(script("bash"), ["telemetry", "d"]), expected);
});

Deno.test("bash completion: 'telemetry verify --' completes to verify's flags", async () => {
  const program = await buildProgram(() => {});
  const verify = program.commands.find((c) => c.name() === "verify")!;
  const expected = program.createHelp().visibleOptions(verify).map((o) => o.long)
    .filter((long) => long !== undefined);
  assert.ok(expected.includes("--data-dir") && expected.includes("--fix"));
  assert.deepEqual(await bashComplete(script("bash"), ["telemetry", "verify", "--"]), expected);
});

Deno.test("bash completion: flag values, arguments and the words already typed", async () => {
  const text = script("bash");
  const cases: [string[], string[]][] = [
    [["telemetry", "download", "--log-format", ""], ["text", "json"]],
    [["telemetry", "consume", "--log-format", "=", "j"], ["json"]],
    [["telemetry", "completions", ""], ["bash", "zsh", "fish"]],
    [["telemetry", "help", "v"], ["verify"]],
    // A flag's value is skipped when finding the command: --data-dir takes one, --json none.
    [["telemetry", "--version", "verify", "--data-dir", "x", "--json", "--f"], ["--fix"]],
    // A flag that takes a free value completes nothing (not the flags, not files).
    [["telemetry", "download", "--match-id", ""], []],
  ];
  for (const [words, expected] of cases) {
    assert.deepEqual(await bashComplete(text, words), expected, words.join(" "));
  }
  await Deno.makeTempDir().then(async (dir) => {
    try {
      await Deno.mkdir(`${dir}/sub-dir`);
      await Deno.writeTextFile(`${dir}/sub-file`, "");
      assert.deepEqual(
        await bashComplete(text, ["telemetry", "verify", "--data-dir", `${dir}/sub`]),
        [`${dir}/sub-dir`],
        "a <dir> value completes directories only",
      );
      assert.deepEqual(
        (await bashComplete(text, ["telemetry", "verify", `${dir}/sub`])).sort(),
        [`${dir}/sub-dir`, `${dir}/sub-file`],
        "a [path...] argument completes files",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("bash completion: a list value completes its last item after a comma (dlq list --kind a,b)", async () => {
  const text = script("bash");
  const cases: [string[], string[]][] = [
    [["telemetry", "dlq", "list", "--kind", "permanent,tr"], ["permanent,transient"]],
    [["telemetry", "dlq", "list", "--kind", "usage,permanent,re"], ["usage,permanent,redelivered"]],
    [["telemetry", "dlq", "list", "--kind=permanent,tr"], ["--kind=permanent,transient"]],
    [["telemetry", "dlq", "replay", "--kind", "tr"], ["transient"]],
  ];
  for (const [words, expected] of cases) {
    assert.deepEqual(await bashComplete(text, words), expected, words.join(" "));
  }
  const list = PROGRAM.commands.find((c) => c.name() === "dlq")?.commands
    .find((c) => c.name() === "list");
  const kinds = list?.options.find((o) => o.long === "--kind")?.argChoices ?? [];
  assert.ok(kinds.includes("transient") && kinds.includes("permanent"), kinds.join(" "));
  assert.deepEqual(
    await bashComplete(text, ["telemetry", "dlq", "list", "--kind", "transient,"]),
    kinds.map((kind) => `transient,${kind}`),
  );
});

Deno.test("completions: a flag added to a command completes with no change to the generator", async () => {
  const program = await buildProgram(() => {});
  const verify = program.commands.find((c) => c.name() === "verify")!;
  verify.addOption(new Option("--report-file <file>", "write the report here"));
  verify.addOption(new Option("--colour <when>", "colour").choices(["auto", "never"]));
  const text = script("bash", program);
  assert.deepEqual(await bashComplete(text, ["telemetry", "verify", "--rep"]), ["--report-file"]);
  assert.deepEqual(await bashComplete(text, ["telemetry", "verify", "--colour", ""]), [
    "auto",
    "never",
  ]);
  const model = completionModel(program).commands.find((c) => c.name === "verify")!;
  assert.equal(model.flags.find((f) => f.long === "--report-file")?.value.type, "file");
  for (const shell of ["zsh", "fish"] as const) {
    assert.match(script(shell, program), /report-file/, shell);
  }
});

Deno.test("completions: subcommands of subcommands (dlq list) complete with their own flags", async () => {
  const program = await buildProgram(() => {});
  const group = new Command("grp").description("a group");
  group.command("list").description("list them")
    .addOption(new Option("--kind <kind>", "kind").choices(["permanent", "transient"]))
    .addOption(new Option("--out-dir <dir>", "where"));
  group.command("purge").description("purge them").addOption(new Option("--yes", "really"));
  program.addCommand(group);
  const text = script("bash", program);
  const cases: [string[], string[]][] = [
    [["telemetry", "grp", ""], ["list", "purge", "help"]],
    [["telemetry", "grp", "list", "--"], ["--kind", "--out-dir", "--help"]],
    [["telemetry", "grp", "list", "--kind", "t"], ["transient"]],
    [["telemetry", "grp", "purge", "--"], ["--yes", "--help"]],
  ];
  for (const [words, expected] of cases) {
    assert.deepEqual(await bashComplete(text, words), expected, words.join(" "));
  }
  assert.deepEqual(
    await complete("fish", script("fish", program), "telemetry grp list --kind "),
    ["permanent", "transient"],
  );
});

Deno.test("valueKind() reads paths from the value's name", () => {
  assert.deepEqual(valueKind("dir", undefined), { type: "dir" });
  assert.deepEqual(valueKind("out-dir", undefined), { type: "dir" });
  assert.deepEqual(valueKind("file", undefined), { type: "file" });
  assert.deepEqual(valueKind("path...", undefined), { type: "file" });
  assert.deepEqual(valueKind("jobs-file", undefined), { type: "file" });
  assert.deepEqual(valueKind("command", undefined), { type: "command" });
  assert.deepEqual(valueKind("n", undefined), { type: "none" });
  assert.deepEqual(valueKind("url", undefined), { type: "none" });
  assert.deepEqual(valueKind("dirty", undefined), { type: "none" });
  assert.deepEqual(valueKind("x", ["a", "b"]), { type: "choices", values: ["a", "b"] });
});

/** What the real shells must complete: a command, a subcommand, a flag. */
const LINES: [line: string, expected: string[]][] = [
  ["telemetry con", ["consume"]],
  ["telemetry dlq re", ["replay"]],
  ["telemetry download --all", ["--allow-host", "--allow-http"]],
];

const INSTALLS: [Shell, Install][] = [
  ["bash", "source"],
  ["zsh", "source"],
  ["zsh", "directory"],
  ["fish", "source"],
  ["fish", "directory"],
];

for (const [shell, install] of INSTALLS) {
  const how = install === "source" ? "sourced" : shell === "zsh" ? "in $fpath" : "autoloaded";
  Deno.test(`${shell} completion, ${how}: a command, a subcommand and a flag complete in ${shell}`, async () => {
    const text = script(shell);
    const got = await completeLines(shell, text, LINES.map(([line]) => line), install);
    LINES.forEach(([line, expected], i) => assert.deepEqual(got[i]!.sort(), expected, line));
  });
}

for (const shell of ["zsh", "fish"] as const) {
  Deno.test(`${shell} completion: the script parses (${shell} -n) and names every command`, async () => {
    await requireShell(shell);
    const text = script(shell);
    const path = await Deno.makeTempFile({ suffix: `.${shell}` });
    try {
      await Deno.writeTextFile(path, text);
      const { code, stderr } = await new Deno.Command(shell, {
        args: ["-n", path],
        stderr: "piped",
      }).output();
      assert.equal(code, 0, decoder.decode(stderr));
    } finally {
      await Deno.remove(path);
    }
    for (const name of commandNames()) assert.match(text, new RegExp(`\\b${name}\\b`));
  });
}

Deno.test("fish completion: 'telemetry d' and 'telemetry verify --' complete like bash", async () => {
  const text = script("fish");
  const d = commandNames().filter((name) => name.startsWith("d"));
  assert.deepEqual((await complete("fish", text, "telemetry d")).sort(), [...d].sort());
  const flags = await complete("fish", text, "telemetry verify --");
  assert.ok(flags.includes("--data-dir") && flags.includes("--fix"), flags.join(" "));
});

Deno.test("zsh completion: 'telemetry d', 'telemetry verify --' and a flag's choices complete like bash", async () => {
  const [d, flags, formats] = await completeLines("zsh", script("zsh"), [
    "telemetry d",
    "telemetry verify --",
    "telemetry download --log-format ",
  ]);
  const expected = commandNames().filter((name) => name.startsWith("d"));
  assert.deepEqual(d!.sort(), expected.sort());
  assert.ok(flags!.includes("--data-dir") && flags!.includes("--fix"), flags!.join(" "));
  assert.deepEqual(formats!.sort(), ["json", "text"]);
});

Deno.test("telemetry completions: prints the script; an unknown shell is a usage error", async () => {
  const [stdout, stderr, code] = await runCli(["completions", "bash"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^# bash completion for telemetry/);
  assert.match(stdout, /complete -F _telemetry telemetry\n$/);
  const [, err, bad] = await runCli(["completions", "tcsh"]);
  assert.equal(bad, 2);
  assert.match(err, /Allowed choices are bash, zsh, fish/);
});
