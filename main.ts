/**
 * `telemetry`: downloads PUBG match telemetry into the store, consumes the
 * download queue, and audits stored files. This file only wires the CLI to
 * the commands and turns their outcome into the process exit code.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import denoJson from "./deno.json" with { type: "json" };
import { ExitCode, type ExitCodeValue } from "./src/cli/exit_code.ts";
import { consumeCommand } from "./src/commands/consume.ts";
import { downloadCommand } from "./src/commands/download.ts";
import { verifyCommand } from "./src/commands/verify.ts";

/**
 * Parses the arguments and runs the command.
 *
 * @param args The command-line arguments (without the program name).
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<ExitCodeValue> {
  let exitCode: ExitCodeValue = ExitCode.Ok;
  function onExit(code: ExitCodeValue) {
    exitCode = code;
  }
  const program = new Command("telemetry")
    .description("Download, queue-consume and verify PUBG match telemetry.")
    .version(denoJson.version, "-V, --version", "print the version")
    .showHelpAfterError("(run with --help for usage)")
    .showSuggestionAfterError(true)
    .exitOverride()
    .addCommand(downloadCommand(onExit))
    .addCommand(consumeCommand(onExit))
    .addCommand(verifyCommand(onExit));
  for (const command of program.commands) command.exitOverride();
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
