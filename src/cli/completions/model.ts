/**
 * What shell completion needs to know about the CLI, read from commander's
 * own definitions (commands, options, arguments), so the completion scripts
 * follow every flag added to a command without a change here.
 *
 * Which values complete as paths is decided by the value's name, the one
 * already written in the flag or argument definition:
 *
 * - `<dir>`, or a name ending in `-dir` / `_dir`: directories;
 * - `<file>`, `<path>`, or a name ending in `-file`, `-path` (or `_`): files;
 * - `<command>`: the names of the sibling commands (`help [command]`);
 * - an option or argument with `.choices([...])`: those values;
 * - anything else (`<n>`, `<url>`, `<id>`): no completion.
 *
 * @module
 */

import type { Argument, CommandUnknownOpts, Option } from "commander";

/** How the value of a flag or argument completes. */
export type ValueKind =
  | { type: "file" }
  | { type: "dir" }
  | { type: "command" }
  | { type: "choices"; values: readonly string[] }
  | { type: "none" };

/** One flag of a command. */
export interface FlagSpec {
  /** `--data-dir`, if it has a long form. */
  long: string | undefined;
  /** `-h`, if it has a short form. */
  short: string | undefined;
  /** The help text. */
  description: string;
  /** Whether it takes a value (`--data-dir <dir>`; optional values count). */
  takesValue: boolean;
  /** How that value completes. */
  value: ValueKind;
}

/** One positional argument. */
export interface ArgSpec {
  /** Its name (`path`). */
  name: string;
  /** The help text. */
  description: string;
  /** Whether it must be given (`<shell>`) or may be left out (`[url]`). */
  required: boolean;
  /** Whether it takes every remaining word (`[path...]`). */
  variadic: boolean;
  /** How it completes. */
  value: ValueKind;
}

/** One command (the program itself is the root). */
export interface CommandSpec {
  /** Its name. */
  name: string;
  /** The names from the program down to it, without the program (`["dlq", "list"]`). */
  path: string[];
  /** The help text's first line. */
  description: string;
  /** Its flags, the help flag included. */
  flags: FlagSpec[];
  /** Its positional arguments. */
  args: ArgSpec[];
  /** Its subcommands (the implicit `help` included). */
  commands: CommandSpec[];
}

/**
 * Reads a commander program into a {@linkcode CommandSpec} tree: visible
 * commands and options only (hidden ones are left out, as in `--help`).
 *
 * @param program The program (or any command).
 * @returns Its tree.
 *
 * @example
 * ```ts
 * import { Command, Option } from "commander";
 * import { completionModel } from "./model.ts";
 * const program = new Command("tool");
 * program.command("run").addOption(new Option("--data-dir <dir>"));
 * const model = completionModel(program);
 * const run = model.commands.find((c) => c.name === "run");
 * if (run?.flags.find((f) => f.long === "--data-dir")?.value.type !== "dir") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function completionModel(program: CommandUnknownOpts): CommandSpec {
  return readCommand(program, []);
}

function readCommand(command: CommandUnknownOpts, path: string[]): CommandSpec {
  const help = command.createHelp();
  return {
    name: command.name(),
    path,
    description: firstLine(command.description()),
    flags: help.visibleOptions(command).map(readFlag),
    args: command.registeredArguments.map(readArg),
    commands: help.visibleCommands(command).map((sub) => readCommand(sub, [...path, sub.name()])),
  };
}

function readFlag(option: Option): FlagSpec {
  const takesValue = option.required || option.optional;
  return {
    long: option.long,
    short: option.short,
    description: firstLine(option.description),
    takesValue,
    value: takesValue ? valueKind(placeholder(option.flags), option.argChoices) : { type: "none" },
  };
}

function readArg(argument: Argument): ArgSpec {
  return {
    name: argument.name(),
    description: firstLine(argument.description),
    required: argument.required,
    variadic: argument.variadic,
    value: valueKind(argument.name(), argument.argChoices),
  };
}

/**
 * How a value named `name` completes (see the module doc for the rule).
 *
 * @param name The value's name, e.g. `dir` of `--data-dir <dir>`.
 * @param choices The values of `.choices()`, if any.
 * @returns The completion kind.
 */
export function valueKind(name: string, choices: readonly string[] | undefined): ValueKind {
  if (choices !== undefined && choices.length > 0) return { type: "choices", values: choices };
  const word = name.toLowerCase().replace(/\.\.\.$/, "");
  if (/(^|[-_])dir$/.test(word) || word === "directory") return { type: "dir" };
  if (/(^|[-_])(file|path)$/.test(word)) return { type: "file" };
  if (word === "command") return { type: "command" };
  return { type: "none" };
}

/** `dir` of `--data-dir <dir>`, `host[:port]` of `--allow-host <host[:port]>`. */
function placeholder(flags: string): string {
  const match = /<([^>]+)>|\[([^\]]+)\]/.exec(flags);
  return match?.[1] ?? match?.[2] ?? "";
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]?.trim() ?? "";
}

/**
 * Every command of the tree, the root first, depth first.
 *
 * @param root The tree.
 * @returns The commands.
 */
export function allCommands(root: CommandSpec): CommandSpec[] {
  return [root, ...root.commands.flatMap(allCommands)];
}

/**
 * A command's words as the scripts key them: its path joined with spaces
 * (`""` for the program, `"dlq list"`).
 *
 * @param command The command.
 * @returns The key.
 */
export function pathKey(command: CommandSpec): string {
  return command.path.join(" ");
}

/**
 * A command's flag words: long and short forms.
 *
 * @param command The command.
 * @returns `--data-dir`, `-h`, `--help`, ...
 */
export function flagWords(command: CommandSpec): string[] {
  return command.flags.flatMap((flag) => [flag.long, flag.short])
    .filter((word): word is string => word !== undefined);
}
