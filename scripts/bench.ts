/**
 * `deno task bench`: runs the benchmarks one after the other, each in its own
 * process, and stops at the first that fails. Each prints its own table, with
 * the baselines it runs beside ours:
 *
 * - `download`: `scripts/bench_download.ts` (`--sizes`, `--runs`);
 * - `verify`: `scripts/bench_verify.ts` (`--verify-files`, `--verify-mb`,
 *   `--python-files`, `--verify-runs`);
 * - `consume`: `scripts/bench_consume.ts` (`--jobs`, `--concurrency`, `--plain`);
 * - `enqueue`: `scripts/bench_enqueue.ts` (`--enqueue-jobs`, `--enqueue-runs`);
 * - `dlq`: `scripts/bench_dlq.ts` (`--dlq-letters`, `--dlq-runs`);
 * - `startup`: `scripts/bench_startup.ts` (`--startup-runs`);
 * - `validator`: `scripts/bench_validator.ts`, whose flags (`--mb`, `--runs`,
 *   ...) this runner does not know: they reach it with `--only validator`,
 *   and a full run runs it with its defaults.
 *
 * Usage: `deno task bench [--only download|verify|consume|enqueue|dlq|startup|validator] [flags]`.
 * Every other flag goes to the benchmark that declares it, e.g.
 * `deno task bench --only download --sizes 40 --runs 1`; an unknown flag
 * is an error (exit 2).
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { CONSUME_BENCH_OPTIONS } from "./bench_consume.ts";
import { DLQ_BENCH_OPTIONS } from "./bench_dlq.ts";
import { DOWNLOAD_BENCH_OPTIONS } from "./bench_download.ts";
import { ENQUEUE_BENCH_OPTIONS } from "./bench_enqueue.ts";
import { STARTUP_BENCH_OPTIONS } from "./bench_startup.ts";
import { VERIFY_BENCH_OPTIONS } from "./bench_verify.ts";

/** A benchmark script; `options` are the flags it takes from this runner. */
interface Benchmark {
  name: string;
  script: string;
  options?: NonNullable<ParseArgsConfig["options"]>;
}

/** The benchmarks, in running order. */
const BENCHMARKS: Benchmark[] = [
  { name: "download", script: "bench_download.ts", options: DOWNLOAD_BENCH_OPTIONS },
  { name: "verify", script: "bench_verify.ts", options: VERIFY_BENCH_OPTIONS },
  { name: "consume", script: "bench_consume.ts", options: CONSUME_BENCH_OPTIONS },
  { name: "enqueue", script: "bench_enqueue.ts", options: ENQUEUE_BENCH_OPTIONS },
  { name: "dlq", script: "bench_dlq.ts", options: DLQ_BENCH_OPTIONS },
  { name: "startup", script: "bench_startup.ts", options: STARTUP_BENCH_OPTIONS },
  { name: "validator", script: "bench_validator.ts" },
];

/**
 * Which benchmarks to run, and the arguments of each.
 *
 * @param args The runner's arguments.
 * @returns Script file (in `scripts/`) and arguments, in running order.
 * @throws {TypeError} On an unknown benchmark or flag.
 *
 * @example
 * ```ts ignore
 * import { benchPlan } from "./bench.ts";
 * benchPlan(["--only", "download", "--sizes", "40"]); // [["bench_download.ts", ["--sizes", "40"]]]
 * ```
 */
export function benchPlan(args: string[]): [script: string, args: string[]][] {
  const { only } = parseArgs({ args, options: { only: { type: "string" } }, strict: false }).values;
  const selected = BENCHMARKS.filter((b) => only === undefined || b.name === only);
  if (selected.length === 0) {
    throw new TypeError(`--only must be one of ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  }
  if (selected.length === 1 && selected[0]?.options === undefined) {
    return [[selected[0]!.script, withoutOnly(args)]];
  }
  const { tokens } = parseArgs({
    args,
    options: Object.assign({ only: { type: "string" } }, ...selected.map((b) => b.options)),
    tokens: true,
  });
  return selected.map(({ script, options = {} }) => {
    const own = tokens.flatMap((t) =>
      t.kind !== "option" || !Object.hasOwn(options, t.name)
        ? []
        : t.value === undefined
        ? [t.rawName]
        : [t.rawName, t.value]
    );
    return [script, own];
  });
}

/** `args` without `--only <name>` or `--only=<name>`. */
function withoutOnly(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--only") i++;
    else if (!arg.startsWith("--only=")) out.push(arg);
  }
  return out;
}

if (import.meta.main) {
  let runs: [string, string[]][];
  try {
    runs = benchPlan(Deno.args);
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : err}`);
    Deno.exit(2);
  }
  for (const [script, args] of runs) {
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL(script, import.meta.url).pathname, ...args],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!status.success) Deno.exit(status.code);
  }
}
