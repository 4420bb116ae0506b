/**
 * Interleaved runs, shared by the benchmarks that compare a command with
 * baselines run beside it: every contender once, then every contender again,
 * so that the drift of a shared machine's load hits all of them alike
 * instead of one, and a ratio within one run stays comparable.
 *
 * @module
 */

import type { Measurement } from "./bench_lib.ts";

/** A named command to measure: its name, and how to run it once. */
export type Contender = readonly [name: string, runOnce: () => Promise<Measurement>];

/** One run of some contenders: the measurement of each, by name. */
export type Run = Map<string, Measurement>;

/**
 * Runs the contenders one after the other, `runs` times over: each run holds
 * one measurement of each, taken minutes apart at most.
 *
 * @param contenders The commands, in running order within a run (names unique).
 * @param runs How many runs.
 * @returns One map per run, from each contender's name to its measurement.
 * @throws {Error} When a command exits with a code other than 0 (its stderr
 * is in the message).
 *
 * @example
 * ```ts ignore
 * import { measure } from "./bench_lib.ts";
 * import { interleavedRuns } from "./bench_support.ts";
 * const runs = await interleavedRuns([["true", () => measure(["true"])]], 2);
 * console.log(runs.map((run) => run.get("true")!.seconds));
 * ```
 */
export async function interleavedRuns(
  contenders: readonly Contender[],
  runs: number,
): Promise<Run[]> {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const run: Run = new Map();
    for (const [name, runOnce] of contenders) run.set(name, succeeded(name, await runOnce()));
    all.push(run);
  }
  return all;
}

/**
 * A measurement of a command that exited 0.
 *
 * @param name The command's name, for the error.
 * @param m Its measurement.
 * @returns `m`.
 * @throws {Error} When it exited with another code.
 */
export function succeeded(name: string, m: Measurement): Measurement {
  if (m.code !== 0) throw new Error(`${name} exited ${m.code}: ${m.stderr.slice(0, 2000)}`);
  return m;
}
