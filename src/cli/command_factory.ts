/**
 * What every command module makes of its definition: a factory that adds
 * the text `--help` prints after the flags and an action whose exit code
 * goes to `onExit` (what `src/commands/program.ts` builds a command with).
 *
 * @module
 */

import type { Command, CommandUnknownOpts, OptionValues } from "commander";
import type { ExitCodeValue } from "./exit_code.ts";

/** The flags of a command definition, as commander infers them. */
export type FlagsOf<Define extends () => { opts(): unknown }> = ReturnType<
  ReturnType<Define>["opts"]
>;

/** Builds a command whose action's exit code goes to `onExit`. */
export type CommandFactory = (onExit: (code: ExitCodeValue) => void) => CommandUnknownOpts;

/** What {@linkcode commandFactory} adds to a command definition. */
export interface CommandParts<Args extends unknown[], Opts extends OptionValues> {
  /** The text `--help` prints after the flags (examples, environment, exit codes). */
  help: string;
  /** Runs the command with its arguments and flags; returns the exit code. */
  run: (...args: [...Args, Opts]) => Promise<ExitCodeValue>;
}

/**
 * A factory of the command `define` returns, with its help text and action.
 *
 * @param define The command's flags and arguments, without its action.
 * @param parts The help text after the flags, and what the action runs.
 * @returns A factory: each call builds a new command.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { commandFactory } from "./command_factory.ts";
 * const factory = commandFactory(() => new Command("hello").argument("<name>"), {
 *   help: "\nExit codes: 0 greeted.",
 *   run: (name) => Promise.resolve(name === "world" ? 0 : 1),
 * });
 * let code: number | undefined;
 * await factory((c) => code = c).parseAsync(["world"], { from: "user" });
 * if (code !== 0) throw new Error("unexpected");
 * ```
 */
export function commandFactory<Args extends unknown[], Opts extends OptionValues>(
  define: () => Command<Args, Opts>,
  parts: CommandParts<Args, Opts>,
): CommandFactory {
  return (onExit) => {
    const command = define();
    command.addHelpText("after", parts.help);
    command.action(async (...args) => {
      onExit(await parts.run(...(args.slice(0, -1) as [...Args, Opts])));
    });
    return command;
  };
}
