/**
 * `deno task telemetry …`: runs the CLI from source the way the compiled
 * binary runs, with exactly its permissions and V8 flags
 * (scripts/permissions.ts, through cli_run_args.ts), and stands in for it
 * as a process:
 *
 * - SIGINT and SIGTERM reach the CLI once each. The CLI runs in its own
 *   process group, so a Ctrl-C (sent to the terminal's whole group) reaches
 *   it only through this launcher, never twice (`consume` takes a second
 *   signal as "stop now").
 * - No orphan survives. `npx -y deno@… task telemetry …` runs npm → `sh` →
 *   `deno task` → this launcher. On SIGTERM npm kills its `sh`, which does
 *   not pass the signal on, and exits at once. The launcher watches the
 *   process that started `deno task` (through /proc, which is why this
 *   launcher, unlike the CLI, runs with --allow-all): once it is gone, the
 *   CLI gets SIGTERM, as if the launcher had.
 * - It exits with the CLI's exit code (130/143 after a signal).
 *
 * @module
 */

import { cliRunArgs } from "./cli_run_args.ts";

/** How often the launcher looks for the end of whatever started `deno task`. */
const WATCH_INTERVAL_MS = 250;

const child = new Deno.Command(Deno.execPath(), {
  args: cliRunArgs(Deno.args),
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
  // A process group of its own: only this launcher passes signals on.
  detached: true,
}).spawn();

function pass(signal: Deno.Signal) {
  try {
    child.kill(signal);
  } catch { /* already exited */ }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => pass(signal));
}

/** The parent pid of `pid` (from /proc/PID/stat), or undefined when it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

const task = Deno.ppid;
const starter = parentOf(task);
if (starter !== undefined) {
  const watch = setInterval(() => {
    if (parentOf(task) === starter) return;
    clearInterval(watch);
    pass("SIGTERM");
  }, WATCH_INTERVAL_MS);
  Deno.unrefTimer(watch);
}

// A child ended by a signal has code 128 + its number, as a shell reports it.
Deno.exit((await child.status).code);
