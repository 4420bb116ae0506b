/**
 * Completes a command line in a real bash, zsh or fish, with a generated
 * completion script installed the way its header says, and returns the
 * candidates the shell offers:
 *
 * - bash: the script is sourced; the function it registered (`complete -p
 *   telemetry`) is called as readline would, with `COMP_LINE`, `COMP_WORDS`
 *   (split on blanks) and `COMP_CWORD`, and `COMPREPLY` is printed.
 * - zsh: an interactive zsh in a pseudo-terminal (`zsh/zpty`) runs
 *   `compinit`, gets the script (sourced, or as `_telemetry` in `$fpath`), and
 *   is sent the line and a TAB. A `compadd` wrapper records what the
 *   completion functions add before it reaches the real `compadd`.
 * - fish: `complete --do-complete LINE` after the script is sourced, or
 *   autoloaded from `$fish_complete_path` (fish loads it only for a command
 *   it can find, so a stub `telemetry` is put on the PATH).
 *
 * @module
 */

import { join } from "node:path";
import type { Shell } from "../../src/cli/completions/script.ts";
import { RUN_DIR_VAR } from "./run_dir.ts";

/** How the script is installed: sourced, or in the shell's completion directory. */
export type Install = "source" | "directory";

/** How long one completion may take. */
const TIMEOUT_MS = 30_000;

/**
 * Fails with one line naming the package when `shell` is missing: the
 * completion tests run every shell (`.ci/run` installs them).
 *
 * @param shell The shell.
 * @returns When it runs.
 * @throws {Error} When it is not installed.
 */
export async function requireShell(shell: Shell): Promise<void> {
  try {
    const { success } = await new Deno.Command(shell, {
      args: ["-c", "exit 0"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    if (success) return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  throw new Error(
    `${shell} is not installed: the completion tests run the ${shell} completion script in ${shell} ` +
      `(Debian: apt-get install ${shell}; .ci/run installs it)`,
  );
}

/**
 * Completes `line` (the last word is the one being typed; a trailing blank
 * starts a new one) in a real `shell` with `script` installed.
 *
 * @param shell The shell.
 * @param script The completion script for the command `telemetry`.
 * @param line E.g. `telemetry dlq re`.
 * @param install Sourced, or in the shell's completion directory (zsh, fish). @default {"source"}
 * @returns The candidates, once each, in the shell's order.
 * @throws {Error} When the shell is missing, fails or takes longer than 30 s.
 */
export async function complete(
  shell: Shell,
  script: string,
  line: string,
  install: Install = "source",
): Promise<string[]> {
  return (await completeLines(shell, script, [line], install))[0]!;
}

/**
 * Completes several lines in one shell session (zsh sets up its completion
 * system once), as {@linkcode complete} does one.
 *
 * @param shell The shell.
 * @param script The completion script for the command `telemetry`.
 * @param lines E.g. `["telemetry con", "telemetry dlq re"]`.
 * @param install Sourced, or in the shell's completion directory (zsh, fish). @default {"source"}
 * @returns The candidates of each line, once each, in the shell's order.
 * @throws {Error} When the shell is missing, fails or takes longer than 30 s.
 */
export async function completeLines(
  shell: Shell,
  script: string,
  lines: string[],
  install: Install = "source",
): Promise<string[][]> {
  await requireShell(shell);
  const dir = await Deno.makeTempDir({ prefix: `telemetry-${shell}-completion-` });
  try {
    const file = join(dir, `telemetry.${shell}`);
    await Deno.writeTextFile(file, script);
    const results: string[][] = [];
    if (shell === "zsh") {
      results.push(...await zsh(dir, file, lines, install));
    } else {
      for (const line of lines) {
        results.push(await (shell === "bash" ? bash : fish)(dir, file, line, install));
      }
    }
    return results.map((words) => [...new Set(words.filter((word) => word !== ""))]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const decoder = new TextDecoder();

/** Runs a shell to the end; its stdout, one line a candidate. */
async function output(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const { code, stdout, stderr } = await new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    if (controller.signal.aborted) throw new Error(`${command} took more than ${TIMEOUT_MS} ms`);
    if (code !== 0 || stderr.length > 0) {
      throw new Error(`${command} exited ${code}: ${decoder.decode(stderr).trim()}`);
    }
    return decoder.decode(stdout).split("\n");
  } finally {
    clearTimeout(timer);
  }
}

const BASH = `
source "$1"
spec=$(complete -p telemetry) || exit 3
fn=\${spec##*-F } fn=\${fn%% *}
COMP_LINE=$2 COMP_POINT=\${#2} COMP_TYPE=9 COMP_KEY=9
read -ra COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
"$fn" telemetry "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\\n' "\${COMPREPLY[@]}"
`;

async function bash(_dir: string, file: string, line: string, install: Install) {
  if (install !== "source") throw new Error("bash completion is tested sourced");
  return await output("bash", ["--norc", "--noprofile", "-c", BASH, "bash", file, line]);
}

/**
 * Run as `zsh -f -c ZSH zsh SCRIPT INSTALL DIR DUMP LINE...`: starts an
 * interactive zsh in a pseudo-terminal, sets it up (init.zsh), and for each
 * line sends it and a TAB (a widget that runs the standard completion,
 * then writes `-- done --`), waits for that, and clears the line (^U). Prints what each completion added,
 * each followed by a `-- done --` line.
 */
const ZSH = `
emulate -L zsh
zmodload zsh/zpty zsh/zselect || exit 3
local script=$1 install=$2 dir=$3 dump=$4
shift 4
local capture=$dir/capture
cat >$dir/init.zsh <<INIT
PS1='' RPS1=''
bindkey -e
if [[ $install == directory ]]; then
  mkdir -p $dir/functions && cp \${(q)script} $dir/functions/_telemetry && fpath=($dir/functions \\$fpath)
fi
autoload -Uz compinit
if [[ -n \${(q)dump} ]]; then compinit -u -C -d \${(q)dump}; else compinit -u -D; fi
[[ $install == source ]] && source \${(q)script}
compadd() {
  # A call that only asks for the matches (-O, -A, -D) passes through unrecorded.
  if [[ \\\${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "\\$@"; return; fi
  local -a __added
  builtin compadd -A __added "\\$@"
  (( \\$#__added )) && print -rl -- \\$__added >>\${(q)capture}
  builtin compadd "\\$@"
}
# TAB runs the standard completion, then says it is done.
_telemetry_test_complete() {
  _main_complete
  local ret=\$?
  print -r -- '-- done --' >>\${(q)capture}
  return ret
}
zle -C telemetry-test-complete complete-word _telemetry_test_complete
bindkey '^I' telemetry-test-complete
INIT
zpty shell zsh -f -i
zpty -w shell "source \${(q)dir}/init.zsh"
local text= line
local -a marks
integer finished=0 i
for line in "$@"; do
  zpty -w -n shell "$line"$'\\t'
  (( finished++ ))
  for (( i = 0; i < 2000; i++ )); do
    [[ -f $capture ]] && text=$(<$capture)
    marks=(\${(M)\${(f)text}:#-- done --})
    (( $#marks >= finished )) && break
    zselect -t 1
  done
  (( i < 2000 )) || { zpty -d shell; print -u2 "zsh: completing '$line' did not finish"; exit 4 }
  zpty -w -n shell $'\\C-u'
done
zpty -d shell
print -r -- $text
`;

/** The `compinit` dump of this run, made once (a full `compinit` reads ~1,000 files). */
let dumpFile: Promise<string> | undefined;

async function sharedDump(): Promise<string> {
  const runDir = Deno.env.get(RUN_DIR_VAR);
  // Outside the runner there is no place that outlives the test: no dump.
  if (runDir === undefined) return "";
  dumpFile ??= (async () => {
    const dump = join(runDir, "zcompdump");
    const draft = `${dump}.${crypto.randomUUID()}`;
    await output("zsh", ["-f", "-c", 'autoload -Uz compinit && compinit -u -d "$1"', "zsh", draft]);
    // Modules in parallel may each make one: the rename makes it whole.
    await Deno.rename(draft, dump);
    return dump;
  })();
  return await dumpFile;
}

async function zsh(dir: string, file: string, lines: string[], install: Install) {
  // compinit must find _telemetry in $fpath itself: no dump made without it.
  const dump = install === "source" ? await sharedDump() : "";
  const printed = await output("zsh", ["-f", "-c", ZSH, "zsh", file, install, dir, dump, ...lines]);
  const results: string[][] = [[]];
  for (const word of printed) {
    if (word === "-- done --") results.push([]);
    else results.at(-1)!.push(word);
  }
  return results.slice(0, lines.length);
}

async function fish(dir: string, file: string, line: string, install: Install) {
  const quoted = `'${line.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  let setup = `source ${file}`;
  const env: Record<string, string> = {};
  if (install === "directory") {
    // fish autoloads completions only for a command it finds.
    await Deno.mkdir(join(dir, "bin"), { recursive: true });
    await Deno.writeTextFile(join(dir, "bin", "telemetry"), "#!/bin/sh\n", { mode: 0o755 });
    env.PATH = `${join(dir, "bin")}:${Deno.env.get("PATH") ?? ""}`;
    setup = `set -p fish_complete_path ${dir}`;
  }
  const lines = await output("fish", [
    "--no-config",
    "-c",
    `${setup}; complete --do-complete ${quoted}`,
  ], env);
  return lines.map((l) => l.split("\t")[0]!);
}
