/**
 * `telemetry`: downloads PUBG match telemetry into the store, consumes the
 * download queue, and audits stored files. This file only wires the CLI to
 * the commands (`src/commands/program.ts`, loaded on demand so that `--version`
 * costs next to nothing) and turns their outcome into the process exit code.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { ExitCode, type ExitCodeValue } from "./src/cli/exit_code.ts";

/**
 * Parses the arguments and runs the command.
 *
 * @param args The command-line arguments (without the program name).
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<ExitCodeValue> {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    console.log(denoJson.version);
    return ExitCode.Ok;
  }
  const { CommanderError, programFor } = await import("./src/commands/program.ts");
  let exitCode: ExitCodeValue = ExitCode.Ok;
  const program = await programFor(args, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // `commander.help` with a non-zero code is the help shown for a missing command.
      const ok = ["commander.helpDisplayed", "commander.version"];
      const help = err.code === "commander.help" && err.exitCode === 0;
      return ok.includes(err.code) || help ? ExitCode.Ok : ExitCode.Usage;
    }
    throw err;
  }
  return exitCode;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    // Only a bug gets here: expected failures are reported by the commands.
    console.error(`error: internal error: ${err instanceof Error ? err.stack : String(err)}`);
    Deno.exit(ExitCode.Failed);
  }
}
