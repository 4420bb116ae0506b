/**
 * Exit codes, in one place, and the one function that maps errors to them.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";

/** The exit codes of every command. */
export const ExitCode = {
  /** Success (a file already present counts). */
  Ok: 0,
  /** The work failed (download failed, problems found by verify, broker unreachable). */
  Failed: 1,
  /** Usage or input validation error: bad flag, bad match id, URL refused by policy. */
  Usage: 2,
} as const;

/** One of {@linkcode ExitCode}'s values. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

/**
 * The exit code for an error that ends a command.
 *
 * @param err Any thrown value.
 * @returns 2 for usage errors, 1 otherwise.
 */
export function exitCodeFor(err: unknown): ExitCodeValue {
  return err instanceof TelemetryError && err.kind === "usage" ? ExitCode.Usage : ExitCode.Failed;
}
