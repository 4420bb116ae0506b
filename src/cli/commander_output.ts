/**
 * Commander's output, written with Deno's own `Deno.stdout`/`Deno.stderr`
 * instead of `process.stdout`/`process.stderr`. Touching those builds
 * Node's stream classes, which costs every run of the CLI several ms before
 * `--help` prints a line. The behaviour is commander's own: the same help
 * width on a terminal, and colour by the same `NO_COLOR`/`FORCE_COLOR`/
 * `CLICOLOR_FORCE` rules.
 *
 * @module
 */

import type { CommandUnknownOpts, OutputConfiguration } from "commander";
import { writeAllSync } from "./write_all.ts";

/** Commander's help width when the output is not a terminal. */
const DEFAULT_HELP_WIDTH = 80;

/** The parts of `Deno.stdout`/`Deno.stderr` that commander's output needs. */
export interface OutputStream {
  /** Writes some of `p`; returns how many bytes were taken. */
  writeSync(p: Uint8Array): number;
  /** Whether the stream is a terminal. */
  isTerminal(): boolean;
}

/** Options of {@linkcode commanderOutput}. */
export interface CommanderOutputOptions {
  /** Standard output. @default {Deno.stdout} */
  stdout?: OutputStream;
  /** Standard error. @default {Deno.stderr} */
  stderr?: OutputStream;
  /** Reads an environment variable. @default {Deno.env.get} */
  env?: (name: string) => string | undefined;
  /** Columns of the terminal. @default {Deno.consoleSize().columns} */
  columns?: () => number | undefined;
}

/**
 * Commander's output configuration on Deno's streams.
 *
 * @param options The streams, environment and terminal size (tests pass their own).
 * @returns What `command.configureOutput()` takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commanderOutput } from "./commander_output.ts";
 * const output = commanderOutput({ env: (name) => name === "NO_COLOR" ? "1" : undefined });
 * assert.equal(output.getOutHasColors?.(), false);
 * ```
 */
export function commanderOutput(options: CommanderOutputOptions = {}): OutputConfiguration {
  const {
    stdout = Deno.stdout,
    stderr = Deno.stderr,
    env = (name: string) => Deno.env.get(name),
    columns = terminalColumns,
  } = options;
  return {
    writeOut: (text) => write(stdout, text),
    writeErr: (text) => write(stderr, text),
    getOutHelpWidth: () => helpWidth(stdout, columns),
    getErrHelpWidth: () => helpWidth(stderr, columns),
    getOutHasColors: () => colorWanted(env) ?? stdout.isTerminal(),
    getErrHasColors: () => colorWanted(env) ?? stderr.isTerminal(),
  };
}

/**
 * Gives `command` and all of its subcommands {@linkcode commanderOutput}.
 * Commander copies the output settings only to commands made with
 * `.command()`, not to those added with `.addCommand()`, hence the walk.
 *
 * @param command The root of the commands to configure.
 * @param output The configuration. @default {commanderOutput()}
 */
export function useDenoOutput(
  command: CommandUnknownOpts,
  output: OutputConfiguration = commanderOutput(),
): void {
  command.configureOutput(output);
  for (const sub of command.commands) useDenoOutput(sub, output);
}

/** Help's width: the terminal's, else commander's default of 80 columns. */
function helpWidth(stream: OutputStream, columns: () => number | undefined): number {
  return (stream.isTerminal() ? columns() : undefined) ?? DEFAULT_HELP_WIDTH;
}

/** Writes all of `text`; a reader that went away (`telemetry --help | head`) is not an error. */
function write(stream: OutputStream, text: string): void {
  try {
    writeAllSync(stream, text);
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}

/** Commander's `useColor()`: an explicit choice from the environment, if any. */
function colorWanted(env: (name: string) => string | undefined): boolean | undefined {
  const force = env("FORCE_COLOR");
  if (env("NO_COLOR") || force === "0" || force === "false") return false;
  if (force || env("CLICOLOR_FORCE") !== undefined) return true;
  return undefined;
}

function terminalColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}
