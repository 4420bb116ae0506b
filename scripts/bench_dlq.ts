/**
 * Benchmark of `telemetry dlq`: 10,000 dead letters (headers as the worker
 * writes them) replayed by the CLI, from its start to its exit, so process
 * startup, the broker's confirms and the acks are included. Each run checks
 * that the job queue then holds every dead letter and the DLQ none. Also
 * times a filtered replay (half of them, interleaved: the other half stays
 * in place) and a `dlq list` of all of them. The target is well under 10 s
 * for 10,000 replays.
 *
 * Runs against a private RabbitMQ node of its own (the test suite's,
 * `tests/support/rabbitmq_node.ts`), so it needs `rabbitmq-server` installed
 * and never touches the machine's broker.
 *
 *   deno run --allow-all scripts/bench_dlq.ts [--dlq-letters 10000] [--dlq-runs 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AMQPClient, type Field } from "amqp-client";
import { measure, median, positiveNumber, printTable } from "./bench_lib.ts";
import { withBenchNode } from "./bench_node.ts";
import { cliRunArgs } from "./cli_run_args.ts";
import { deadLetterHeaders } from "../src/queue/messages.ts";
import { declareTopology, type TopologyNames, topologyNames } from "../src/queue/topology.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const DLQ_BENCH_OPTIONS = {
  "dlq-letters": { type: "string", default: "10000" },
  "dlq-runs": { type: "string", default: "3" },
} as const;

/** The kinds the filled dead letters take in turn (the filtered replay takes `transient`). */
const KINDS = ["transient", "permanent"] as const;

/** One measured CLI run. */
export interface DlqBenchRun {
  /** What ran, e.g. `replay`. */
  command: string;
  /** Dead letters in the queue. */
  letters: number;
  /** Dead letters moved (replay) or listed. */
  moved: number;
  /** Wall-clock seconds of the CLI, start to exit. */
  seconds: number;
  /** Peak RSS of the CLI process, in MiB. */
  peakRssMiB: number;
}

/**
 * Runs the benchmark.
 *
 * @param options Dead letters per run and runs.
 * @returns Every measured run.
 * @throws {Error} When a run fails or the queues do not hold what they should.
 */
export async function benchDlq(
  options: { letters?: number; runs?: number } = {},
): Promise<DlqBenchRun[]> {
  const { letters = 10_000, runs = 3 } = options;
  return await withBenchNode(async ({ url }) => {
    const results: DlqBenchRun[] = [];
    for (let i = 0; i < runs; i++) {
      results.push(await runOnce({ url, letters, command: "replay", args: [] }));
    }
    results.push(await runOnce({ url, letters, command: "replay", args: ["--kind", "transient"] }));
    results.push(await runOnce({ url, letters, command: "list", args: [] }));
    return results;
  });
}

async function runOnce(
  run: { url: string; letters: number; command: "replay" | "list"; args: string[] },
): Promise<DlqBenchRun> {
  const { url, letters, command, args } = run;
  const env = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const names = topologyNames(env);
  const client = new AMQPClient(withFrameMax(url));
  await client.connect();
  try {
    const channel = await client.channel();
    await channel.confirmSelect();
    await declareTopology(channel, { names });
    await fill(channel, names, letters);
    const label = [command, ...args].join(" ");
    const m = await measure([
      Deno.execPath(),
      ...cliRunArgs(["dlq", command, "--env", env, "--amqp-url", url, ...args]),
    ]);
    if (m.code !== 0) throw new Error(`dlq ${label} exited ${m.code}: ${m.stderr.trim()}`);
    const jobs = (await channel.queueDeclare(names.queue, { passive: true })).messageCount;
    const dead = (await channel.queueDeclare(names.deadLetterQueue, { passive: true }))
      .messageCount;
    const filtered = args.length > 0;
    const expected = command === "list"
      ? { jobs: 0, dead: letters }
      : filtered
      ? { jobs: Math.ceil(letters / 2), dead: Math.floor(letters / 2) }
      : { jobs: letters, dead: 0 };
    if (jobs !== expected.jobs || dead !== expected.dead) {
      throw new Error(
        `dlq ${label}: job queue ${jobs} (expected ${expected.jobs}), ` +
          `DLQ ${dead} (expected ${expected.dead})`,
      );
    }
    for (const q of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]) {
      await channel.queueDelete(q);
    }
    await channel.exchangeDelete(names.exchange);
    return {
      command: label,
      letters,
      moved: command === "list" ? letters : jobs,
      seconds: Math.round(m.seconds * 100) / 100,
      peakRssMiB: Math.round(m.peakRssMb),
    };
  } finally {
    await client.close();
  }
}

/** Publishes `letters` dead letters the way the worker does (persistent, x-error* headers). */
async function fill(
  channel: Awaited<ReturnType<AMQPClient["channel"]>>,
  names: TopologyNames,
  letters: number,
): Promise<void> {
  const now = new Date();
  for (let start = 0; start < letters; start += 500) {
    const batch = Array.from({ length: Math.min(500, letters - start) }, (_, j) => {
      const i = start + j;
      const kind = KINDS[i % KINDS.length]!;
      const headers = deadLetterHeaders(undefined, {
        failure: { kind, code: "http_status", message: `HTTP 503 for https://example.test/${i}` },
        attempts: 5,
        queue: names.queue,
        workerId: "bench-worker",
        now,
      });
      return channel.basicPublish(
        "",
        names.deadLetterQueue,
        JSON.stringify({ match_id: `bench-${i}`, telemetry_url: `https://example.test/${i}` }),
        {
          deliveryMode: 2,
          contentType: "application/json",
          headers: headers as Record<string, Field>,
        },
      );
    });
    await Promise.all(batch);
  }
}

function withFrameMax(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("frameMax", "131072");
  return parsed.href;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: DLQ_BENCH_OPTIONS });
  const letters = positiveNumber(values["dlq-letters"], "--dlq-letters");
  const runs = positiveNumber(values["dlq-runs"], "--dlq-runs");
  const results = await benchDlq({ letters, runs });
  console.log(
    `telemetry dlq, ${letters} dead letters, CLI start to exit (private RabbitMQ node)\n`,
  );
  printTable(
    ["command", "dead letters", "moved/listed", "seconds", "per second", "peak RSS (MiB)"],
    results.map((r) => [
      r.command,
      r.letters,
      r.moved,
      r.seconds,
      Math.round(r.moved / r.seconds),
      r.peakRssMiB,
    ]),
  );
  const replays = results.filter((r) => r.command === "replay").map((r) => r.seconds);
  console.log(
    `replay of ${letters}: median ${median(replays).toFixed(2)} s over ${replays.length} runs ` +
      `(target: well under 10 s)`,
  );
}
