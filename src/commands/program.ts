/**
 * The program: every command, built from its own module. A run loads only
 * the module of the command it names (`telemetry download …` never loads
 * the AMQP client, `telemetry consume …` never loads verify), so start-up
 * costs what that command needs; help for the whole program and
 * `telemetry completions` load them all.
 *
 * @module
 */

import { Command, CommanderError, type CommandUnknownOpts } from "commander";
import denoJson from "../../deno.json" with { type: "json" };
import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import { commanderOutput, useDenoOutput } from "../cli/commander_output.ts";

export { CommanderError };

/**
 * The line that ends every usage error (exit 2), whether commander found it
 * (an unknown flag, a bad value) or a command did (a bad match id, a
 * missing `--env`).
 */
export const USAGE_HINT = "(run with --help for usage)";

/** Builds one command; `onExit` receives its exit code. */
type CommandFactory = (onExit: (code: ExitCodeValue) => void) => CommandUnknownOpts;

/** Each command's module, in the order `--help` lists them. */
const COMMANDS: Record<string, () => Promise<CommandFactory>> = {
  download: async () => (await import("./download.ts")).downloadCommand,
  consume: async () => (await import("./consume.ts")).consumeCommand,
  verify: async () => (await import("./verify.ts")).verifyCommand,
  enqueue: async () => (await import("./enqueue.ts")).enqueueCommand,
  announce: async () => (await import("./announce.ts")).announceCommand,
  dlq: async () => (await import("./dlq.ts")).dlqCommand,
  status: async () => (await import("./status.ts")).statusCommand,
  completions: async () => (await import("./completions.ts")).completionsCommand,
};

/**
 * The program with every command: what `telemetry --help` shows and what
 * `telemetry completions` describes.
 *
 * @param onExit Receives the exit code when a command's action ends.
 * @returns The program, with `exitOverride` and the {@linkcode USAGE_HINT} after usage errors
 *   on it and on every command.
 */
export async function buildProgram(
  onExit: (code: ExitCodeValue) => void,
): Promise<CommandUnknownOpts> {
  return await buildFor(Object.keys(COMMANDS), onExit);
}

/**
 * The program for one run: only the command `args` names when it names
 * one, else every command (for help, suggestions and usage errors).
 *
 * @param args The command-line arguments.
 * @param onExit Receives the exit code when a command's action ends.
 * @returns The program.
 */
export async function programFor(
  args: readonly string[],
  onExit: (code: ExitCodeValue) => void,
): Promise<CommandUnknownOpts> {
  const [first] = args;
  const named = first !== undefined && first !== "completions" && Object.hasOwn(COMMANDS, first);
  return await buildFor(named ? [first] : Object.keys(COMMANDS), onExit);
}

async function buildFor(
  names: readonly string[],
  onExit: (code: ExitCodeValue) => void,
): Promise<CommandUnknownOpts> {
  const factories = await Promise.all(names.map((name) => COMMANDS[name]!()));
  const output = commanderOutput();
  // A usage error a command found itself ends with the hint commander adds to its own.
  const exit = (code: ExitCodeValue) => {
    if (code === ExitCode.Usage) output.writeErr?.(`${USAGE_HINT}\n`);
    onExit(code);
  };
  const program: CommandUnknownOpts = new Command("telemetry")
    .description("Download, queue-consume and verify PUBG match telemetry.")
    .version(denoJson.version, "-V, --version", "print the version");
  for (const factory of factories) program.addCommand(factory(exit));
  // Commander copies these settings only to commands made with `.command()`: set on every one.
  forEachCommand(program, (command) => {
    command.exitOverride().showHelpAfterError(USAGE_HINT).showSuggestionAfterError(true);
  });
  useDenoOutput(program, output);
  return program;
}

/** Calls `fn` on `command` and on each of its subcommands, depth first. */
function forEachCommand(
  command: CommandUnknownOpts,
  fn: (command: CommandUnknownOpts) => void,
): void {
  fn(command);
  for (const sub of command.commands) forEachCommand(sub, fn);
}
