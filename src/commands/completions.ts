/**
 * `telemetry completions bash|zsh|fish`: prints a shell completion script
 * generated from the command definitions themselves (`src/cli/completions/`),
 * so every command and flag added to the program completes without a change
 * here.
 *
 * @module
 */

import { Argument, Command, type CommandUnknownOpts } from "commander";
import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import type { Shell } from "../cli/completions/script.ts";

/** The shells `completions` takes. */
export const SHELLS = ["bash", "zsh", "fish"] as const satisfies readonly Shell[];

/**
 * The `completions` command's argument, without its action.
 *
 * @returns The typed command.
 */
function defineCompletionsCommand() {
  return new Command("completions")
    .description("print the shell completion script for bash, zsh or fish")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS));
}

/**
 * Builds the `completions` command. The script describes the program the
 * command is added to (its root), read when the command runs.
 *
 * @param onExit Receives the exit code when the action ends.
 * @param io Where the script goes. @default {processIo}
 * @returns The commander command.
 */
export function completionsCommand(
  onExit: (code: ExitCodeValue) => void,
  io: CommandIo = processIo,
): CommandUnknownOpts {
  const command = defineCompletionsCommand();
  command.addHelpText(
    "after",
    `
Install (then open a new shell):
  bash  telemetry completions bash > ~/.local/share/bash-completion/completions/telemetry
        (or add 'source <(telemetry completions bash)' to ~/.bashrc)
  zsh   telemetry completions zsh > "\${fpath[1]}/_telemetry"
        (or add 'source <(telemetry completions zsh)' to ~/.zshrc, after compinit)
  fish  telemetry completions fish > ~/.config/fish/completions/telemetry.fish

Completes commands, flags, the values of flags with a fixed set (--log-format),
directories for <dir> values and files for <file> and <path> values.

Exit codes: 0 printed; 2 usage error (unknown shell).`,
  );
  command.action(async (shell) => {
    let root: CommandUnknownOpts = command;
    while (root.parent !== null) root = root.parent;
    const { completionScript } = await import("../cli/completions/script.ts");
    io.print(completionScript(root, shell).trimEnd());
    onExit(ExitCode.Ok);
  });
  return command;
}
