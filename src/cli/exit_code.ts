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
  /** Stopped by SIGINT (Ctrl-C): 128 + 2, as a shell reports it. */
  Interrupted: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  Terminated: 143,
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

/**
 * The exit code of a run stopped by a signal: 130 for SIGINT, 143 for SIGTERM.
 *
 * @param signal The signal that stopped the run.
 * @returns 128 plus the signal's number, as a shell reports it.
 */
export function exitCodeForSignal(signal: "SIGINT" | "SIGTERM"): ExitCodeValue {
  return signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated;
}
