/**
 * The run of an operator command that publishes (`enqueue`, `announce`),
 * from its core's call to its exit code: Ctrl-C and SIGTERM stop the core
 * through a signal (unless the caller passes one), a core that cannot start
 * prints one error line, and the summary is printed before the one line on
 * why the run stopped early, if it did. A run stopped by a signal exits
 * 130 or 143, like a shell reports it.
 *
 * @module
 */

import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import type { CommandIo } from "../cli/io.ts";
import { errorLine } from "../core/errors.ts";
import { withInterrupt } from "./operator.ts";

/** What a core returns: its totals, with `error` set when it stopped early. */
export interface RunSummary {
  /** Why the run stopped early (one line; `interrupted` for a stop signal). */
  error: string | undefined;
}

/** What a run of the command works with. */
export interface OperatorRunContext {
  /** Where the summary and errors go. */
  io: CommandIo;
  /** Stops the run; the command listens for SIGINT/SIGTERM when absent. */
  signal?: AbortSignal | undefined;
}

/** The steps of {@linkcode runOperator}. */
export interface OperatorRunSteps<S extends RunSummary> {
  /** Runs the core; it throws only when it cannot start (nothing was done). */
  run: (signal: AbortSignal | undefined) => Promise<S>;
  /** The summary as printed on stdout: a line or a JSON object. */
  summary: (summary: S) => string;
  /** The error line of a run that stopped early (after `error: `). */
  failure: (summary: S) => string;
  /** The exit code of a run that did not stop early. */
  verdict: (summary: S) => ExitCodeValue;
  /** The progress bar to end before anything is printed. */
  bar?: { finish(): void } | undefined;
  /** Runs after the core, however it ended (closes what it read). */
  cleanup?: () => Promise<void>;
}

/**
 * Runs the core, prints the summary and maps the end to an exit code.
 *
 * @param context Output and an optional stop signal.
 * @param steps The core and how its summary is printed and judged.
 * @returns 1 when the core could not start or the run stopped early; 130 or
 * 143 when a stop signal did that; otherwise `verdict(summary)`.
 *
 * @example
 * ```ts
 * import { runOperator } from "./operator_run.ts";
 * const printed: string[] = [];
 * const io = { print: (l: string) => printed.push(l), error: () => {}, isTty: false };
 * const code = await runOperator({ io, signal: new AbortController().signal }, {
 *   run: () => Promise.resolve({ error: undefined, sent: 3 }),
 *   summary: (s) => `sent ${s.sent}`,
 *   failure: (s) => s.error ?? "",
 *   verdict: () => 0,
 * });
 * if (code !== 0 || printed[0] !== "sent 3") throw new Error("unexpected");
 * ```
 */
export function runOperator<S extends RunSummary>(
  context: OperatorRunContext,
  steps: OperatorRunSteps<S>,
): Promise<ExitCodeValue> {
  const { io } = context;
  const { run, summary: summaryLine, failure, verdict, bar, cleanup } = steps;
  return withInterrupt(context.signal, async (signal, stopped) => {
    let summary: S;
    try {
      summary = await run(signal);
    } catch (err) {
      bar?.finish();
      io.error(`error: ${errorLine(err)}`);
      return stopped() ?? ExitCode.Failed;
    } finally {
      await cleanup?.();
    }
    bar?.finish();
    io.print(summaryLine(summary));
    if (summary.error !== undefined) {
      io.error(`error: ${failure(summary)}`);
      return (summary.error === "interrupted" ? stopped() : undefined) ?? ExitCode.Failed;
    }
    return verdict(summary);
  });
}
