/**
 * Soak run of `telemetry consume`, outside the test suite: 5,000 jobs through
 * two workers, with 10% transient faults (503s, and chunked bodies whose
 * connection drops halfway), one
 * broker restart (`stop_app`/`start_app`) and one `kill -9` of a worker
 * (restarted a second later, as systemd would). Runs on a private RabbitMQ
 * node of its own, like the benchmarks, and never touches the machine's
 * broker.
 *
 * With `--broker-kills N`, the broker node is also crashed N times (`kill -9`
 * of the node, restarted at once on its data, as systemd would), spread over
 * the run: the backlog it flags redelivered must cost nothing (no job
 * dead-lettered for it).
 *
 * With `--disk-full S`, the data dir is a tmpfs of its own (root only) that
 * is filled up when 45% of the jobs are settled and freed S seconds later
 * (default 60): the workers pause on the full store and resume by
 * themselves; no job may be lost or dead-lettered for it (issue 21).
 *
 * Reports wall time, jobs/s, peak RSS per worker, duplicates announced, jobs
 * lost (must be 0: every job announced, or dead-lettered), temp files and
 * start marks left, and each worker's RSS sampled every few seconds (the
 * curve must be flat after warm-up). Exits 1 when a job was lost or a temp
 * file left.
 *
 *   deno task soak [--jobs 5000] [--concurrency 8] [--sample 5] [--broker-kills 0] [--disk-full 60]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AMQPClient } from "amqp-client";
import { cliRunArgs } from "./cli_run_args.ts";
import { median, positiveNumber } from "./bench_lib.ts";
import { topologyNames } from "../src/queue/topology.ts";
import {
  crashRabbitNode,
  rabbitmqctl,
  startRabbitNode,
  stopRabbitNode,
} from "../tests/support/rabbitmq_node.ts";
import { isStartMarkName } from "../src/core/store/start_marks.ts";
import { generateTelemetry, gzipBytes } from "../tests/support/telemetry_fixture.ts";
import { mountSmallFs, type SmallFs, smallFsUnavailable } from "../tests/support/small_fs.ts";

/** The error that cuts a body mid-way (a transient fault the workers must retry). */
const CUT_MESSAGE = "soak: connection cut";

/** Events per generated file (about 200 KB of JSON, 20 KB gzipped). */
const EVENTS = 600;

/** One worker process; restarted after a kill under the same label. */
interface Worker {
  label: string;
  child: Deno.ChildProcess;
  /** Peak RSS over every process that ran under this label, in MiB. */
  peakMiB: number;
  /** RSS samples: [seconds since start, MiB]. */
  samples: [number, number][];
}

/** The result of one soak run. */
export interface SoakResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  announced: number;
  duplicates: number;
  deadLettered: number;
  /** Why jobs were dead-lettered, with counts. */
  deadReasons: [string, number][];
  lost: number;
  tempFilesLeft: number;
  /** Start marks left in the store (a start whose worker died and whose job never came back). */
  startMarksLeft: number;
  /** When the broker was crashed (seconds since the start). */
  brokerKills: number[];
  /** When the store was filled and freed (seconds since the start), with `diskFullSeconds`. */
  diskFull: [number, number] | undefined;
  workers: { label: string; peakMiB: number; samples: [number, number][] }[];
  exitCodes: number[];
}

/**
 * Runs the soak.
 *
 * @param options Jobs, per-worker concurrency, RSS sample interval.
 * @returns The figures.
 */
export async function soak(
  options: {
    jobs: number;
    concurrency: number;
    sampleSeconds: number;
    brokerKills?: number;
    /** Fill the store mid-run for this long (0: never). */
    diskFullSeconds?: number;
  },
): Promise<SoakResult> {
  const { jobs, concurrency, sampleSeconds, brokerKills = 0, diskFullSeconds = 0 } = options;
  if (diskFullSeconds > 0 && smallFsUnavailable() !== undefined) {
    throw new Error(`--disk-full needs a tmpfs for the data dir: ${smallFsUnavailable()}`);
  }
  // Spread over the run, away from the restart at 30% and the worker kill at 60%.
  const killAt = Array.from(
    { length: brokerKills },
    (_, k) => (k + 0.5) / (brokerKills + 0.5) * 0.9,
  );
  const kills: number[] = [];
  // At least 30 minutes, and never less than 10 jobs/s would need.
  const settleLimit = Math.max(1800, jobs / 10);
  const env = `soak-${crypto.randomUUID().slice(0, 8)}`;
  const names = topologyNames(env);
  const template = new TextDecoder().decode(
    generateTelemetry({ matchId: "__MATCH__", events: EVENTS }),
  );
  const bodies = new Map<number, Uint8Array>();
  async function body(i: number): Promise<Uint8Array> {
    let bytes = bodies.get(i);
    if (bytes === undefined) {
      bytes = await gzipBytes(new TextEncoder().encode(template.replace("__MATCH__", `soak${i}`)));
      bodies.set(i, bytes);
    }
    return bytes;
  }
  // 10% of the jobs fail transiently on their first request: half with a
  // 503, half with a body cut short (Content-Length larger than sent).
  const requests = new Map<number, number>();
  // The cut bodies' own errors reach onError, not stderr, where Deno.serve
  // would print a stack trace for each of them.
  const serveOptions = { port: 0, hostname: "127.0.0.1", onListen() {}, onError: quietCut };
  const server = Deno.serve(serveOptions, async (req) => {
    const i = Number(new URL(req.url).pathname.replace(/\D+/g, ""));
    const n = (requests.get(i) ?? 0) + 1;
    requests.set(i, n);
    const bytes = await body(i);
    await new Promise((r) => setTimeout(r, 20 + (i % 7) * 10));
    if (i % 10 === 3 && n === 1) return new Response("busy", { status: 503 });
    if (i % 10 === 7 && n === 1) {
      // Half the body, then the connection drops (Deno.serve would rewrite a
      // Content-Length that lies, so the cut is a chunked body that errors).
      let sent = false;
      const cut = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(bytes.subarray(0, bytes.length >> 1));
            return;
          }
          await new Promise((r) => setTimeout(r, 5));
          controller.error(new Error(CUT_MESSAGE));
        },
      });
      return new Response(cut, { headers: { "content-encoding": "gzip" } });
    }
    // Served whole: a later request (a redelivery) regenerates the same bytes,
    // so the cache holds only jobs still waiting for their retry.
    bodies.delete(i);
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
  });
  const port = server.addr.port;
  const nodeParent = await Deno.makeTempDir({ prefix: "soak-rabbitmq-" });
  await Deno.chmod(nodeParent, 0o755);
  // About 20 KB per stored file: room for every job twice over, plus 16 MiB.
  const smallFs: SmallFs | undefined = diskFullSeconds > 0
    ? await mountSmallFs({ size: Math.ceil((jobs * 40 * 1024 + 16 * 1024 ** 2) / 4096) * 4096 })
    : undefined;
  const dataDir = smallFs?.dir ?? await Deno.makeTempDir({ prefix: "soak-data-" });
  let diskFull: [number, number] | undefined;
  let filledAt: number | undefined;
  const node = await startRabbitNode(`${nodeParent}/node`, {
    ownerPid: Deno.pid,
    ownerDir: nodeParent,
  });
  const workers: Worker[] = [];
  const exitCodes: number[] = [];
  const started = performance.now();
  const since = () => (performance.now() - started) / 1000;
  function spawn(label: string): Deno.ChildProcess {
    return new Deno.Command(Deno.execPath(), {
      args: cliRunArgs([
        "consume",
        "--env",
        env,
        "--data-dir",
        dataDir,
        "--amqp-url",
        node.url,
        "--allow-http",
        "--allow-host",
        `127.0.0.1:${port}`,
        "--concurrency",
        String(concurrency),
        "--retry-delay",
        "1",
        // Faults go through the retry queue, not in-process retries.
        "--attempts",
        "1",
        "--worker-id",
        label,
        "--log-format",
        "json",
        // The soak's tmpfs is far below the default floor of 1 GiB.
        ...(smallFs === undefined ? [] : ["--min-free-space", "1MiB"]),
      ]),
      stdout: "null",
      stderr: "null",
    }).spawn();
  }
  const sampler = setInterval(() => {
    for (const w of workers) {
      const mib = rssMiB(w.child.pid);
      if (mib === undefined) continue;
      w.samples.push([Math.round(since()), Math.round(mib)]);
      w.peakMiB = Math.max(w.peakMiB, mib);
    }
  }, sampleSeconds * 1000);
  const client = new AMQPClient(node.url);
  try {
    for (const label of ["worker-1", "worker-2"]) {
      workers.push({ label, child: spawn(label), peakMiB: 0, samples: [] });
    }
    await client.connect();
    const channel = await client.channel();
    await channel.confirmSelect();
    for (;;) {
      const ok = await channel.queueDeclare(names.queue, { durable: true }).catch(() => undefined);
      if (ok !== undefined && ok.consumerCount >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let from = 0; from < jobs; from += 500) {
      const batch = [];
      for (let i = from; i < Math.min(jobs, from + 500); i++) {
        batch.push(channel.basicPublish(
          "",
          names.queue,
          JSON.stringify({
            match_id: `soak${i}`,
            telemetry_url: `http://127.0.0.1:${port}/t/soak${i}.json`,
          }),
          { deliveryMode: 2, contentType: "application/json" },
        ));
      }
      await Promise.all(batch);
    }
    await client.close();
    console.error(`${since().toFixed(1)} s: ${jobs} jobs published`);

    let restarted = false;
    let killed = false;
    const announced = new Map<string, number>();
    let deadLettered = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const counts = await queueCounts(node.name, env);
      const settled = (counts.get(names.publishQueue) ?? 0) +
        (counts.get(names.deadLetterQueue) ?? 0);
      if (smallFs !== undefined && filledAt === undefined && settled >= jobs * 0.45) {
        await smallFs.fill();
        filledAt = since();
        console.error(`${filledAt.toFixed(1)} s: store full (for ${diskFullSeconds} s)`);
      }
      if (
        smallFs !== undefined && filledAt !== undefined && diskFull === undefined &&
        since() - filledAt >= diskFullSeconds
      ) {
        await smallFs.free();
        diskFull = [Math.round(filledAt * 10) / 10, Math.round(since() * 10) / 10];
        console.error(`${since().toFixed(1)} s: store freed`);
      }
      if (kills.length < killAt.length && settled >= jobs * killAt[kills.length]!) {
        kills.push(Math.round(since() * 10) / 10);
        console.error(`${since().toFixed(1)} s: kill -9 of the broker node (${kills.length})`);
        await crashRabbitNode(node);
        console.error(`${since().toFixed(1)} s: broker node back`);
      } else if (!restarted && settled >= jobs * 0.3) {
        restarted = true;
        console.error(`${since().toFixed(1)} s: broker restart (stop_app, start_app)`);
        await rabbitmqctl(node.name, "stop_app");
        await rabbitmqctl(node.name, "start_app");
      } else if (!killed && settled >= jobs * 0.6) {
        killed = true;
        const victim = workers[1]!;
        console.error(`${since().toFixed(1)} s: kill -9 ${victim.label}, restarted after 1 s`);
        victim.child.kill("SIGKILL");
        exitCodes.push((await victim.child.status).code);
        await new Promise((r) => setTimeout(r, 1_000));
        victim.child = spawn(victim.label);
      }
      const waiting = (counts.get(names.queue) ?? 0) + (counts.get(names.retryQueue) ?? 0);
      const unacked = counts.get(`${names.queue}:unacked`) ?? 0;
      const allKills = kills.length === killAt.length;
      const diskDone = smallFs === undefined || diskFull !== undefined;
      if (
        restarted && killed && allKills && diskDone && waiting === 0 && unacked === 0 &&
        settled >= jobs
      ) {
        break;
      }
      if (since() > settleLimit) {
        throw new Error(`soak did not settle in ${settleLimit} s: ${[...counts]}`);
      }
    }
    const seconds = since();
    // Read every announcement and dead letter (basic.get, acked: the env is deleted after).
    const reader = new AMQPClient(node.url);
    await reader.connect();
    const ch = await reader.channel();
    for (;;) {
      const message = await ch.basicGet(names.publishQueue, { noAck: true });
      if (message === null) break;
      const id = String(JSON.parse(message.bodyToString() ?? "{}").match_id);
      announced.set(id, (announced.get(id) ?? 0) + 1);
    }
    const deadIds = new Set<string>();
    const deadReasons = new Map<string, number>();
    for (;;) {
      const message = await ch.basicGet(names.deadLetterQueue, { noAck: true });
      if (message === null) break;
      deadLettered++;
      const reason = String(message.properties.headers?.["x-error"] ?? "?").slice(0, 160);
      deadReasons.set(reason, (deadReasons.get(reason) ?? 0) + 1);
      deadIds.add(String(JSON.parse(message.bodyToString() ?? "{}").match_id));
    }
    for (const q of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]) {
      await ch.queueDelete(q);
    }
    await ch.exchangeDelete(names.exchange);
    await reader.close();
    let lost = 0;
    for (let i = 0; i < jobs; i++) {
      if (!announced.has(`soak${i}`) && !deadIds.has(`soak${i}`)) lost++;
    }
    let duplicates = 0;
    for (const n of announced.values()) duplicates += n - 1;
    for (const w of workers) {
      w.child.kill("SIGTERM");
      exitCodes.push((await w.child.status).code);
    }
    return {
      jobs,
      seconds: Math.round(seconds * 10) / 10,
      jobsPerSecond: Math.round(jobs / seconds * 10) / 10,
      announced: announced.size,
      duplicates,
      deadLettered,
      deadReasons: [...deadReasons],
      lost,
      tempFilesLeft: await countFiles(dataDir, (name) => name.endsWith(".tmp")),
      startMarksLeft: await countFiles(dataDir, isStartMarkName),
      brokerKills: kills,
      diskFull,
      workers: workers.map((w) => ({
        label: w.label,
        peakMiB: Math.round(w.peakMiB),
        samples: w.samples,
      })),
      exitCodes,
    };
  } finally {
    clearInterval(sampler);
    for (const w of workers) {
      try {
        w.child.kill("SIGKILL");
        await w.child.status;
      } catch { /* already gone */ }
    }
    if (!client.closed) await client.close().catch(() => {});
    await stopRabbitNode(node);
    await server.shutdown();
    if (smallFs === undefined) await Deno.remove(dataDir, { recursive: true });
    else await smallFs.unmount();
    await Deno.remove(nodeParent, { recursive: true });
  }
}

/** `Deno.serve`'s `onError`: the soak's own cut bodies are expected; anything else is printed. */
function quietCut(err: unknown): Response {
  if (!(err instanceof Error && err.message === CUT_MESSAGE)) console.error(err);
  return new Response("internal error", { status: 500 });
}

/** Resident set size of a process, in MiB, or undefined when it is gone. */
function rssMiB(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** Messages per queue of `env` (and `<queue>:unacked`), from rabbitmqctl. */
async function queueCounts(node: string, env: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let out: string;
  try {
    out = await rabbitmqctl(
      node,
      "list_queues",
      "-q",
      "--no-table-headers",
      "name",
      "messages_ready",
      "messages_unacknowledged",
    );
  } catch {
    return counts; // the app is restarting
  }
  for (const line of out.split("\n")) {
    const [name, ready, unacked] = line.split("\t");
    if (name === undefined || !name.endsWith(`.${env}`)) continue;
    counts.set(name, Number(ready) + Number(unacked));
    counts.set(`${name}:unacked`, Number(unacked));
  }
  return counts;
}

async function countFiles(dir: string, wanted: (name: string) => boolean): Promise<number> {
  let n = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) n += await countFiles(path, wanted);
    else if (wanted(entry.name)) n++;
  }
  return n;
}

/**
 * The median RSS of each tenth of the run (`-` where a worker had no sample,
 * e.g. while it was killed), so a curve over an hour fits on one line.
 *
 * @param samples `[seconds, MiB]` samples.
 * @param seconds The run's wall time.
 * @returns Ten medians, in MiB.
 */
export function rssByTenth(samples: [number, number][], seconds: number): string[] {
  const tenths: number[][] = Array.from({ length: 10 }, () => []);
  for (const [t, mib] of samples) tenths[Math.min(9, Math.floor((t / seconds) * 10))]!.push(mib);
  return tenths.map((values) => values.length === 0 ? "-" : String(Math.round(median(values))));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      jobs: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "8" },
      sample: { type: "string", default: "5" },
      "broker-kills": { type: "string", default: "0" },
      "disk-full": { type: "string" },
    },
  });
  const diskFullSeconds = values["disk-full"] === undefined
    ? 0
    : positiveNumber(values["disk-full"], "--disk-full");
  const result = await soak({
    jobs: positiveNumber(values.jobs, "--jobs"),
    concurrency: positiveNumber(values.concurrency, "--concurrency"),
    sampleSeconds: positiveNumber(values.sample, "--sample"),
    brokerKills: Number(values["broker-kills"]),
    diskFullSeconds,
  });
  console.log(`| figure | value |\n|---|---:|`);
  console.log(`| jobs | ${result.jobs} |`);
  console.log(`| wall time (s) | ${result.seconds} |`);
  console.log(`| jobs/s | ${result.jobsPerSecond} |`);
  for (const w of result.workers) console.log(`| peak RSS ${w.label} (MiB) | ${w.peakMiB} |`);
  console.log(`| distinct matches announced | ${result.announced} |`);
  console.log(`| duplicate announcements | ${result.duplicates} |`);
  console.log(`| dead-lettered | ${result.deadLettered} |`);
  console.log(`| jobs lost | ${result.lost} |`);
  for (const [reason, n] of result.deadReasons) console.log(`| dead letter: ${reason} | ${n} |`);
  console.log(`| temp files left | ${result.tempFilesLeft} |`);
  console.log(`| start marks left | ${result.startMarksLeft} |`);
  console.log(`| broker kill -9 at (s) | ${result.brokerKills.join(", ") || "-"} |`);
  console.log(`| store full from/to (s) | ${result.diskFull?.join(" to ") ?? "-"} |`);
  console.log(`| exit codes (kill -9, then SIGTERM each) | ${result.exitCodes.join(", ")} |`);
  console.log("\nRSS (MiB), median of each tenth of the run, per worker:");
  for (const w of result.workers) {
    console.log(`${w.label}: ${rssByTenth(w.samples, result.seconds).join(" ")}`);
  }
  console.log("\nRSS (MiB) every sample, per worker:");
  for (const w of result.workers) {
    console.log(`${w.label}: ${w.samples.map(([t, mib]) => `${t}s=${mib}`).join(" ")}`);
  }
  if (result.lost > 0 || result.tempFilesLeft > 0) Deno.exit(1);
  // The disk-full phase must cost nothing: no job dead-lettered for it.
  if (result.diskFull !== undefined && result.deadLettered > 0) Deno.exit(1);
}
