/**
 * What the operator commands (`enqueue`, `announce`, `dlq`) share on the
 * command side: the one JSON renderer of their results and summaries, the
 * progress bar on a terminal, and the Ctrl-C/SIGTERM wiring of a run.
 *
 * @module
 */

import { exitCodeFor, exitCodeForSignal, type ExitCodeValue } from "../cli/exit_code.ts";
import { BROKER_ENV_HELP } from "../cli/broker_options.ts";
import type { CommandIo } from "../cli/io.ts";
import { listenForInterrupt } from "../cli/interrupt.ts";
import { ProgressBar, type ProgressBarOptions } from "../cli/progress_bar.ts";
import { errorLine } from "../core/errors.ts";

/**
 * Writes the fields of a result or summary as a JSON object, in the order
 * given. A field is named as in the TypeScript object and written in
 * snake_case (`matchId` → `match_id`); `name:key` writes it as `key`; an
 * undefined value is written as `null`, or left out for `name?`. Numbers
 * keep at most three decimals (`seconds`).
 *
 * @param value The result or summary.
 * @param fields The fields to write, in order, separated by spaces.
 * @returns The object, ready for `JSON.stringify`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderJson } from "./operator.ts";
 * const value = { matchId: undefined, code: "bad_body", seconds: 1.23456, path: undefined };
 * assert.deepEqual(renderJson(value, "matchId code:error_code seconds path?"), {
 *   match_id: null,
 *   error_code: "bad_body",
 *   seconds: 1.235,
 * });
 * ```
 */
export function renderJson(value: object, fields: string): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const field of fields.split(" ")) {
    const optional = field.endsWith("?");
    const [name = "", key = snakeCase(name)] = (optional ? field.slice(0, -1) : field).split(":");
    const item = (value as Record<string, unknown>)[name];
    if (item === undefined && optional) continue;
    json[key] = typeof item === "number" && !Number.isInteger(item)
      ? Math.round(item * 1000) / 1000
      : item ?? null;
  }
  return json;
}

/**
 * The last line of `--json` output: `{"summary": {...}}` with
 * {@linkcode renderJson}'s fields.
 *
 * @param value The summary.
 * @param fields The fields to write, as for {@linkcode renderJson}.
 * @returns One line of JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summaryJson } from "./operator.ts";
 * assert.equal(summaryJson({ dryRun: true }, "dryRun"), '{"summary":{"dry_run":true}}');
 * ```
 */
export function summaryJson(value: object, fields: string): string {
  return JSON.stringify({ summary: renderJson(value, fields) });
}

/**
 * A progress bar on stderr when it is a terminal.
 *
 * @param io The command's output.
 * @param options The bar's label (the command) and what it counts.
 * @returns The bar, or undefined when stderr is not a terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { terminalBar } from "./operator.ts";
 * const io = { print: () => {}, error: () => {}, isTty: false };
 * assert.equal(terminalBar(io, { label: "enqueue", unit: "items" }), undefined);
 * ```
 */
export function terminalBar(
  io: CommandIo,
  options: Pick<ProgressBarOptions, "label" | "unit">,
): ProgressBar | undefined {
  return io.isTty ? new ProgressBar(options) : undefined;
}

/**
 * Runs `body` with a stop signal: the caller's, or SIGINT/SIGTERM while it
 * runs (then the signals do not kill the process: the run stops, cleans
 * up and says so). `stopped()` gives the exit code of a run stopped by
 * such a signal, 130 or 143 as a shell reports it, for the failures the
 * signal explains.
 *
 * @param signal The caller's stop signal; absent, the run listens for the signals.
 * @param body The run; it returns its exit code.
 * @returns The exit code of `body`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withInterrupt } from "./operator.ts";
 * const code = await withInterrupt(undefined, (_signal, stopped) => Promise.resolve(stopped() ?? 1));
 * assert.equal(code, 1, "no signal came");
 * ```
 */
export async function withInterrupt(
  signal: AbortSignal | undefined,
  body: (
    signal: AbortSignal | undefined,
    stopped: () => ExitCodeValue | undefined,
  ) => Promise<ExitCodeValue>,
): Promise<ExitCodeValue> {
  const interrupt = signal === undefined ? listenForInterrupt() : undefined;
  const stopped = () => {
    const received = interrupt?.received;
    return received === undefined ? undefined : exitCodeForSignal(received);
  };
  try {
    return await body(signal ?? interrupt?.signal, stopped);
  } finally {
    interrupt?.dispose();
  }
}

/**
 * The end of a run that could not start (bad flags, an unreadable input):
 * one error line.
 *
 * @param io Where the line goes.
 * @param err Why.
 * @returns 2 for a usage error, 1 otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startFailure } from "./operator.ts";
 * const errors: string[] = [];
 * const io = { print: () => {}, error: (l: string) => errors.push(l), isTty: false };
 * assert.equal(startFailure(io, new Error("no\nway")), 1);
 * assert.deepEqual(errors, ["error: no way"]);
 * ```
 */
export function startFailure(io: CommandIo, err: unknown): ExitCodeValue {
  io.error(`error: ${errorLine(err)}`);
  return exitCodeFor(err);
}

/** The parts of {@linkcode operatorHelp}. */
export interface OperatorHelp {
  /** What the command does, beyond its flags (one or more paragraphs). */
  about: string;
  /** Example command lines. */
  examples: string[];
  /** The command's own environment variables, after the broker's (lines, indented). */
  environment?: string;
  /** The `Exit codes:` paragraph. */
  exitCodes: string;
}

/**
 * The help text after an operator command's flags, in one shape for every
 * one: what it does, examples, the environment (the broker's variables,
 * then the command's), the exit codes.
 *
 * @param help The command's parts.
 * @returns The text, for `addHelpText("after", …)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { operatorHelp } from "./operator.ts";
 * const text = operatorHelp({ about: "Queues jobs.", examples: ["telemetry enqueue"], exitCodes: "Exit codes: 0" });
 * assert.match(text, /^\nQueues jobs\.\n\nExamples:\n {2}telemetry enqueue\n\nEnvironment:\n/);
 * ```
 */
export function operatorHelp(help: OperatorHelp): string {
  const { about, examples, environment, exitCodes } = help;
  const lines = examples.map((example) => `  ${example}`).join("\n");
  const variables = environment === undefined ? "" : `\n${environment}`;
  return `\n${about}\n\nExamples:\n${lines}\n\nEnvironment:\n${BROKER_ENV_HELP}${variables}\n\n${exitCodes}`;
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
