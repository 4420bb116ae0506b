/**
 * `deno task telemetry …`: runs the CLI from source with exactly the
 * permissions the compiled binary gets (scripts/permissions.ts).
 *
 * @module
 */

import { CLI_FLAGS } from "./permissions.ts";

const main = new URL("../main.ts", import.meta.url).pathname;
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--quiet", ...CLI_FLAGS, main, ...Deno.args],
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
// Forward stop signals so `consume` shuts down gracefully under the task runner.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => child.kill(signal));
}
const status = await child.status;
Deno.exit(status.code);
