/**
 * How to run the CLI from source the way the compiled binary runs: with
 * exactly its permissions and V8 flags (`scripts/permissions.ts`). Used by
 * `deno task telemetry`, the CLI tests and the benchmarks.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { CLI_FLAGS } from "./permissions.ts";

/** The CLI's entry point, `main.ts` at the repository root. */
export const CLI_MAIN: string = fileURLToPath(new URL("../main.ts", import.meta.url));

/**
 * The arguments of `deno` that run the CLI with `args`:
 * `run --quiet <CLI_FLAGS> main.ts <args>`.
 *
 * @param args The CLI's own arguments, e.g. `["download", url]`.
 * @returns The arguments for `new Deno.Command(Deno.execPath(), { args })`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliRunArgs } from "./cli_run_args.ts";
 * const args = cliRunArgs(["--version"]);
 * assert.deepEqual(args.slice(0, 2), ["run", "--quiet"]);
 * assert.equal(args.at(-1), "--version");
 * ```
 */
export function cliRunArgs(args: readonly string[]): string[] {
  return ["run", "--quiet", ...CLI_FLAGS, CLI_MAIN, ...args];
}
