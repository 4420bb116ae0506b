/**
 * Benchmark of start-up: `telemetry --version` and `telemetry download
 * --help` against `deno run` of a one-line script, run interleaved in the
 * same process so that machine load affects all alike. Ours runs the way
 * `deno task telemetry` and the other benchmarks run it (`deno run` with the
 * binary's permissions). Reports the median and the fastest of `--startup-runs`
 * runs, and the ratio of the medians (target: at most 3x).
 *
 *   deno run -A scripts/bench_startup.ts [--startup-runs 15]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, positiveNumber } from "./bench_lib.ts";
import { cliRunArgs } from "./cli_run_args.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const STARTUP_BENCH_OPTIONS = {
  "startup-runs": { type: "string", default: "15" },
} as const;

/** One row of the result table. */
export interface StartupRow {
  /** What ran. */
  command: string;
  /** Median wall time, ms. */
  medianMs: number;
  /** Fastest wall time, ms. */
  minMs: number;
}

/**
 * Times each command `runs` times, interleaved.
 *
 * @param runs Runs of each command.
 * @returns One row per command, the baseline first.
 */
export async function benchStartup(runs: number): Promise<StartupRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "bench-startup-" });
  const script = `${dir}/one_line.ts`;
  await Deno.writeTextFile(script, "console.log(1);\n");
  const commands: [string, string[]][] = [
    ["baseline: deno run of a one-line script", ["run", "--quiet", script]],
    ["telemetry --version", cliRunArgs(["--version"])],
    ["telemetry download --help", cliRunArgs(["download", "--help"])],
  ];
  const times = commands.map(() => [] as number[]);
  try {
    for (let run = 0; run < runs; run++) {
      for (const [i, [, args]] of commands.entries()) {
        const started = performance.now();
        const out = await new Deno.Command(Deno.execPath(), {
          args,
          stdout: "null",
          stderr: "null",
        }).output();
        if (!out.success) throw new Error(`deno ${args.join(" ")} exited ${out.code}`);
        times[i]!.push(performance.now() - started);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return commands.map(([command], i) => ({
    command,
    medianMs: Math.round(median(times[i]!)),
    minMs: Math.round(Math.min(...times[i]!)),
  }));
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: STARTUP_BENCH_OPTIONS });
  const rows = await benchStartup(positiveNumber(values["startup-runs"], "--startup-runs"));
  const base = rows[0]!.medianMs;
  console.log("## start-up (time ratio of medians vs the one-line script; target at most 3x)\n");
  console.log("| command | median ms | fastest ms | vs baseline |");
  console.log("|---|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.command} | ${r.medianMs} | ${r.minMs} | ${(r.medianMs / base).toFixed(2)}x |`,
    );
  }
}
