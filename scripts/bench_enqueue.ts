/**
 * Benchmark of `telemetry enqueue`: 10,000 jobs (one NDJSON file, shaped
 * like the match stage's messages) queued by the CLI, from its start to its
 * exit, so process startup and the broker's confirms are included. Each run
 * checks that the queue then holds exactly that many messages. Also times
 * `--dry-run` over the same file (validation alone), for comparison. The
 * target is well under 10 s for 10,000 jobs.
 *
 * Runs against a private RabbitMQ node of its own (the test suite's,
 * `tests/support/rabbitmq_node.ts`), so it needs `rabbitmq-server` installed
 * and never touches the machine's broker.
 *
 *   deno run --allow-all scripts/bench_enqueue.ts [--enqueue-jobs 10000] [--enqueue-runs 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AMQPClient } from "amqp-client";
import { measure, median, positiveNumber } from "./bench_lib.ts";
import { withBenchNode } from "./bench_node.ts";
import { cliRunArgs } from "./cli_run_args.ts";
import { declareTopology, topologyNames } from "../src/queue/topology.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const ENQUEUE_BENCH_OPTIONS = {
  "enqueue-jobs": { type: "string", default: "10000" },
  "enqueue-runs": { type: "string", default: "3" },
} as const;

/** One run's figures. */
export interface EnqueueBenchRun {
  /** Wall-clock seconds of the CLI, start to exit. */
  seconds: number;
  /** Jobs per second over the whole run. */
  jobsPerSecond: number;
  /** Peak RSS of the CLI process, in MiB. */
  peakRssMiB: number;
}

/** The benchmark's results. */
export interface EnqueueBenchResult {
  /** Jobs per run. */
  jobs: number;
  /** Each real run (publishing, confirmed). */
  runs: EnqueueBenchRun[];
  /** Seconds of `--dry-run` over the same file. */
  dryRunSeconds: number;
}

/**
 * Runs the benchmark.
 *
 * @param options Jobs per run and runs.
 * @returns The figures of each run.
 * @throws {Error} When a run fails or the queue does not hold every job.
 */
export async function benchEnqueue(
  options: { jobs?: number; runs?: number } = {},
): Promise<EnqueueBenchResult> {
  const { jobs = 10_000, runs = 3 } = options;
  const file = await Deno.makeTempFile({ prefix: "bench-enqueue-", suffix: ".ndjson" });
  try {
    await Deno.writeTextFile(file, jobLines(jobs));
    return await withBenchNode(async ({ url }) => {
      const result: EnqueueBenchResult = { jobs, runs: [], dryRunSeconds: 0 };
      const dry = await runCli(["--env", "bench", "--jobs", file, "--dry-run"], url);
      result.dryRunSeconds = dry.seconds;
      for (let i = 0; i < runs; i++) result.runs.push(await runOnce({ jobs, file, url }));
      return result;
    });
  } finally {
    await Deno.remove(file);
  }
}

/** Jobs like the match stage publishes, one per line. */
function jobLines(jobs: number): string {
  const lines: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const id = crypto.randomUUID();
    lines.push(JSON.stringify({
      match_id: id,
      telemetry_url:
        `https://telemetry-cdn.pubg.com/bluehole-pubg/steam/2024/11/28/12/34/${crypto.randomUUID()}-telemetry.json`,
      map_name: "Baltic_Main",
      game_mode: "squad-fpp",
      match_datetime: "2024-11-28T12:34:56Z",
      summaries_processed: true,
      processing_timestamp: "2024-11-28T13:00:00Z",
      worker_id: "match-worker-1",
    }));
  }
  return lines.join("\n") + "\n";
}

async function runOnce(
  run: { jobs: number; file: string; url: string },
): Promise<EnqueueBenchRun> {
  const { jobs, file, url } = run;
  const env = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const names = topologyNames(env);
  const client = new AMQPClient(url);
  await client.connect();
  try {
    const channel = await client.channel();
    await declareTopology(channel, { names });
    try {
      const measured = await runCli(["--env", env, "--jobs", file], url);
      const { messageCount } = await channel.queueDeclare(names.queue, { passive: true });
      if (messageCount !== jobs) {
        throw new Error(`the queue holds ${messageCount} messages, expected ${jobs}`);
      }
      return {
        seconds: round(measured.seconds),
        jobsPerSecond: Math.round(jobs / measured.seconds),
        peakRssMiB: Math.round(measured.peakRssMb),
      };
    } finally {
      for (const q of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]) {
        await channel.queueDelete(q);
      }
      await channel.exchangeDelete(names.exchange);
    }
  } finally {
    await client.close();
  }
}

/** Runs `telemetry enqueue <args>` to the end, measured; fails unless it exits 0. */
async function runCli(
  args: string[],
  url: string,
): Promise<{ seconds: number; peakRssMb: number }> {
  const measured = await measure([
    Deno.execPath(),
    ...cliRunArgs(["enqueue", "--amqp-url", url, ...args]),
  ]);
  if (measured.code !== 0) {
    throw new Error(`enqueue exited ${measured.code}: ${measured.stderr.trim()}`);
  }
  return measured;
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: ENQUEUE_BENCH_OPTIONS });
  const result = await benchEnqueue({
    jobs: positiveNumber(values["enqueue-jobs"], "--enqueue-jobs"),
    runs: positiveNumber(values["enqueue-runs"], "--enqueue-runs"),
  });
  console.log(
    `telemetry enqueue: ${result.jobs} jobs from one NDJSON file, CLI start to exit, ` +
      `every publish confirmed (window of 256)\n`,
  );
  console.log("| run | seconds | jobs/s | peak RSS (MiB) |");
  console.log("|---:|---:|---:|---:|");
  result.runs.forEach((r, i) => {
    console.log(`| ${i + 1} | ${r.seconds} | ${r.jobsPerSecond} | ${r.peakRssMiB} |`);
  });
  const med = median(result.runs.map((r) => r.seconds));
  console.log(
    `\nmedian ${round(med)} s for ${result.jobs} jobs (target: under 10 s); ` +
      `--dry-run (validation only) ${round(result.dryRunSeconds)} s`,
  );
}
