/**
 * The completion script of one shell for a commander program: the program
 * is read into a {@linkcode CommandSpec} tree (`model.ts`), which the
 * shell's generator renders.
 *
 * @module
 */

import type { CommandUnknownOpts } from "commander";
import { bashScript } from "./bash.ts";
import { fishScript } from "./fish.ts";
import { type CommandSpec, completionModel } from "./model.ts";
import { zshScript } from "./zsh.ts";

/** The shells a script can be generated for. */
export type Shell = "bash" | "zsh" | "fish";

/**
 * Generates the completion script of `shell` for `program`.
 *
 * @param program The program, with every command added.
 * @param shell The shell.
 * @returns The script text.
 *
 * @example
 * ```ts
 * import { Command, Option } from "commander";
 * import { completionScript } from "./script.ts";
 * const program = new Command("tool");
 * program.command("run").addOption(new Option("--format <f>").choices(["a", "b"]));
 * if (!completionScript(program, "bash").includes("choices:a b")) throw new Error("unexpected");
 * ```
 */
export function completionScript(program: CommandUnknownOpts, shell: Shell): string {
  const model: CommandSpec = completionModel(program);
  switch (shell) {
    case "bash":
      return bashScript(model);
    case "zsh":
      return zshScript(model);
    case "fish":
      return fishScript(model);
  }
}
