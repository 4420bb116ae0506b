/**
 * Where a command writes its results, behind an interface so tests capture
 * them. Results go to stdout; log lines and progress go to stderr.
 *
 * @module
 */

import { writeAllSync } from "./write_all.ts";

/** The output of a command. */
export interface CommandIo {
  /** Writes one result line to stdout. */
  print(line: string): void;
  /** Writes one line to stderr. */
  error(line: string): void;
  /** Whether stderr is a terminal (progress bars). */
  isTty: boolean;
}

/** Standard output and error of the process. */
export const processIo: CommandIo = {
  print: (line) => writeAllSync(Deno.stdout, line + "\n"),
  error: (line) => writeAllSync(Deno.stderr, line + "\n"),
  isTty: Deno.stderr.isTerminal(),
};
