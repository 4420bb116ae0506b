/**
 * `deno task telemetry …`: runs the CLI from source with exactly the
 * permissions the compiled binary gets (scripts/permissions.ts).
 *
 * @module
 */

import { cliRunArgs } from "./cli_run_args.ts";

const child = new Deno.Command(Deno.execPath(), {
  args: cliRunArgs(Deno.args),
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
// Ctrl-C reaches the whole process group, and `deno task` passes SIGTERM on
// to its children, so the CLI already gets each stop signal: forwarding it
// as well would be a second signal, which `consume` takes as "stop now".
// The wrapper only stays alive until the CLI has finished stopping.
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => {});
const status = await child.status;
Deno.exit(status.code);
