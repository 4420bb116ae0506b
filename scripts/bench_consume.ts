/**
 * Benchmark of `telemetry consume`: 500 jobs of 1 MB from a loopback server
 * that waits 100 ms before answering (like a CDN), at --concurrency 1, 4 and
 * 16. The JSON (about 1 MB) is served gzip-encoded like the CDN (`--plain`
 * serves it uncompressed, which makes the worker gzip it). Reports jobs per
 * second, and the peak RSS (VmHWM) and CPU time of the consume process from
 * its start to the last announcement (`ProcessMeter`, `scripts/bench_lib.ts`).
 * Runs against a private RabbitMQ node of its own (the test suite's,
 * `tests/support/rabbitmq_node.ts`), so it needs `rabbitmq-server` installed
 * and never touches the machine's broker.
 *
 *   deno run --allow-all scripts/bench_consume.ts [--jobs 500] [--concurrency 1,4,16] [--plain]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AMQPClient } from "amqp-client";
import { positiveNumber, positiveNumbers, ProcessMeter } from "./bench_lib.ts";
import { withBenchNode } from "./bench_node.ts";
import { cliRunArgs } from "./cli_run_args.ts";
import { topologyNames } from "../src/queue/topology.ts";
import { eventsForSize, generateTelemetry, gzipBytes } from "../tests/support/telemetry_fixture.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const CONSUME_BENCH_OPTIONS = {
  jobs: { type: "string", default: "500" },
  concurrency: { type: "string", default: "1,4,16" },
  plain: { type: "boolean", default: false },
} as const;

/** One row of the result table. */
export interface ConsumeBenchRow {
  /** --concurrency. */
  concurrency: number;
  /** Jobs announced. */
  jobs: number;
  /** Wall-clock seconds from the first publish to the last announcement. */
  seconds: number;
  /** Jobs per second. */
  jobsPerSecond: number;
  /** Peak resident set size of the consume process, in MiB. */
  peakRssMiB: number;
  /** CPU seconds (user + system) the consume process used, startup included. */
  cpuSeconds: number;
}

const FILE_BYTES = 1024 * 1024;
const SERVER_DELAY_MS = 100;

/**
 * Runs the benchmark at each concurrency.
 *
 * @param options Jobs per run and the concurrencies.
 * @returns One row per concurrency.
 */
export async function benchConsume(
  options: { jobs?: number; concurrencies?: number[]; gzip?: boolean } = {},
): Promise<ConsumeBenchRow[]> {
  const { jobs = 500, concurrencies = [1, 4, 16], gzip = true } = options;
  // About 1 MB of JSON; the match id is filled in per job.
  const body = new TextDecoder().decode(
    generateTelemetry({ matchId: "__MATCH__", events: eventsForSize(FILE_BYTES) }),
  );
  const encoder = new TextEncoder();
  // Bodies are prepared before timing, so the server costs no CPU during a run.
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < jobs; i++) {
    const json = encoder.encode(body.replace("__MATCH__", `bench-${i}`));
    // Like the CDN: gzip on the wire (Content-Encoding), or plain JSON with --plain.
    bodies.push(gzip ? await gzipBytes(json) : json);
  }
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const matchId = new URL(req.url).pathname.split("/").at(-1)!.replace(".json", "");
    const bytes = bodies[Number(matchId.split("-")[1])]!;
    await new Promise((r) => setTimeout(r, SERVER_DELAY_MS));
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        "content-type": "application/json",
        ...(gzip ? { "content-encoding": "gzip" } : {}),
      },
    });
  });
  const rows: ConsumeBenchRow[] = [];
  try {
    await withBenchNode(async ({ url }) => {
      for (const concurrency of concurrencies) {
        rows.push(await runOnce({ jobs, concurrency, port: server.addr.port, url }));
      }
    });
  } finally {
    await server.shutdown();
  }
  return rows;
}

async function runOnce(
  run: { jobs: number; concurrency: number; port: number; url: string },
): Promise<ConsumeBenchRow> {
  const { jobs, concurrency, port, url } = run;
  const env = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const names = topologyNames(env);
  const dataDir = await Deno.makeTempDir({ prefix: "bench-consume-" });
  const client = new AMQPClient(url);
  await client.connect();
  const channel = await client.channel();
  await channel.confirmSelect();
  const child = new Deno.Command(Deno.execPath(), {
    args: cliRunArgs(
      ["consume", "--env", env, "--data-dir", dataDir, "--amqp-url", url]
        .concat(["--allow-http", "--allow-host", `127.0.0.1:${port}`, "--log-format", "json"])
        .concat(["--concurrency", String(concurrency)]),
    ),
    stdout: "null",
    stderr: "null",
  }).spawn();
  const meter = new ProcessMeter(child.pid);
  try {
    // The worker declares the topology; wait for its consumer.
    for (;;) {
      const ok = await channel.queueDeclare(names.queue, { durable: true });
      if (ok.consumerCount > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await channel.queueDeclare(names.publishQueue, { durable: true });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: jobs }, (_, i) =>
        channel.basicPublish(
          "",
          names.queue,
          JSON.stringify({
            match_id: `bench-${i}`,
            telemetry_url: `http://127.0.0.1:${port}/t/bench-${i}.json`,
          }),
          { deliveryMode: 2, contentType: "application/json" },
        )),
    );
    let announced = 0;
    while (announced < jobs) {
      const ok = await channel.queueDeclare(names.publishQueue, { durable: true });
      announced = ok.messageCount;
      if (announced < jobs) await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const usage = meter.stop();
    return {
      concurrency,
      jobs,
      seconds: Math.round(seconds * 100) / 100,
      jobsPerSecond: Math.round(jobs / seconds * 10) / 10,
      peakRssMiB: Math.round(usage.peakRssMb),
      cpuSeconds: Math.round(usage.cpuSeconds * 10) / 10,
    };
  } finally {
    meter.stop();
    child.kill("SIGTERM");
    await child.status;
    const cleanup = client.closed ? new AMQPClient(url) : client;
    if (cleanup !== client) await cleanup.connect();
    const ch = channel.closed ? await cleanup.channel() : channel;
    for (const q of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]) {
      await ch.queueDelete(q);
    }
    await ch.exchangeDelete(names.exchange);
    await cleanup.close();
    if (!client.closed) await client.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: CONSUME_BENCH_OPTIONS });
  const rows = await benchConsume({
    jobs: positiveNumber(values.jobs, "--jobs"),
    concurrencies: positiveNumbers(values.concurrency, "--concurrency"),
    gzip: !values.plain,
  });
  console.log(
    `1 MB of telemetry JSON per job, served ${
      values.plain ? "plain" : "gzip-encoded"
    } after ${SERVER_DELAY_MS} ms\n`,
  );
  console.log("| --concurrency | jobs | seconds | jobs/s | peak RSS (MiB) | worker CPU s |");
  console.log("|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.concurrency} | ${r.jobs} | ${r.seconds} | ${r.jobsPerSecond} | ${r.peakRssMiB} | ${r.cpuSeconds} |`,
    );
  }
  const [first] = rows;
  const last = rows.at(-1);
  if (first && last && rows.length > 1) {
    console.log(
      `\nconcurrency ${last.concurrency} vs ${first.concurrency}: ${
        (last.jobsPerSecond / first.jobsPerSecond).toFixed(1)
      }x (target: at least 10x for 16 vs 1)`,
    );
  }
}
