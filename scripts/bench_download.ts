/**
 * Benchmark of `telemetry download` against shell baselines in the same run.
 *
 * Data: generated telemetry (`tests/support/telemetry_fixture.ts`) of 40 MB
 * and 400 MB, written once under `bench-data/download/` with a `gzip -6`
 * twin, served from a loopback server in its own process
 * (`scripts/bench_server.ts`), as plain JSON and with `Content-Encoding:
 * gzip`. Ours runs as a whole process the way a user runs it (`deno run` with
 * the binary's permissions). Baselines: `curl -s URL | gzip -6 > file`
 * (plain) and `curl -s -H 'Accept-Encoding: gzip' -o file URL && gzip -t
 * file` (gzip).
 *
 * Run: `deno run -A scripts/bench_download.ts [--sizes 40,400] [--runs 3]`
 * (`--runs`: repeats of the cases under 200 MB, interleaved; larger ones run
 * once).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  measure,
  type Measurement,
  median,
  positiveNumber,
  positiveNumbers,
  printTable,
} from "./bench_lib.ts";
import { type Contender, interleavedRuns } from "./bench_support.ts";
import { cliRunArgs } from "./cli_run_args.ts";
import { eventsForSize, telemetryChunks } from "../tests/support/telemetry_fixture.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const DOWNLOAD_BENCH_OPTIONS = {
  sizes: { type: "string", default: "40,400" },
  runs: { type: "string", default: "3" },
} as const;

const PLAIN_BASELINE = "baseline: curl | gzip -6";
const GZIP_BASELINE = "baseline: curl -H 'Accept-Encoding: gzip' && gzip -t";
const root = new URL("../", import.meta.url).pathname;
const dataDir = `${root}bench-data/download`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes `t<MB>.json` and its `gzip -6` twin once; later runs reuse them. */
async function prepare(mb: number): Promise<void> {
  const json = `${dataDir}/t${mb}.json`;
  if (await exists(`${json}.gz`)) return;
  await Deno.mkdir(dataDir, { recursive: true });
  const events = eventsForSize(mb * 1e6);
  const file = await Deno.open(json, { write: true, create: true, truncate: true });
  await ReadableStream.from(telemetryChunks({ matchId: `bench${mb}`, events, seed: mb }))
    .pipeTo(file.writable);
  const gz = await new Deno.Command("bash", { args: ["-c", `gzip -6 -c '${json}' > '${json}.gz'`] })
    .output();
  if (!gz.success) throw new Error("gzip failed");
}

async function startServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-read",
      `${root}scripts/bench_server.ts`,
      dataDir,
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  const port = Number(first.value?.trim());
  reader.releaseLock();
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function ours(url: string, mb: number, out: string): Promise<Measurement> {
  const m = await measure([
    Deno.execPath(),
    ...cliRunArgs([
      "download",
      url,
      "--match-id",
      `bench${mb}`,
      "--data-dir",
      out,
      "--allow-http",
      "--allow-host",
      new URL(url).host,
      "--force",
      "--json",
    ]),
  ]);
  if (m.code !== 0) throw new Error(`telemetry download failed: ${m.stderr}`);
  return m;
}

async function shell(script: string): Promise<Measurement> {
  const m = await measure(["bash", "-c", script]);
  if (m.code !== 0) throw new Error(`baseline failed: ${script}: ${m.stderr}`);
  return m;
}

/**
 * Runs the benchmark and prints its table.
 *
 * @param options Sizes in MB, and runs of the cases under 200 MB.
 * @returns When the table is printed.
 */
export async function benchDownload(
  options: { sizes?: number[]; runs?: number } = {},
): Promise<void> {
  const { sizes = [40, 400], runs = 3 } = options;
  for (const mb of sizes) await prepare(mb);
  const server = await startServer();
  const work = await Deno.makeTempDir({ prefix: "telemetry-bench-" });
  const rows: (string | number)[][] = [];
  try {
    for (const mb of sizes) {
      const base = `http://127.0.0.1:${server.port}`;
      const plainUrl = `${base}/plain/t${mb}.json`;
      const gzipUrl = `${base}/gzip/t${mb}.json`;
      const repeats = mb >= 200 ? 1 : runs;
      const cases: Contender[] = [
        ["telemetry download, plain JSON", () => ours(plainUrl, mb, `${work}/ours`)],
        [
          PLAIN_BASELINE,
          () => shell(`curl -s '${plainUrl}' | gzip -6 > '${work}/plain.gz'`),
        ],
        ["telemetry download, Content-Encoding: gzip", () => ours(gzipUrl, mb, `${work}/ours`)],
        [
          GZIP_BASELINE,
          () =>
            shell(
              `curl -s -H 'Accept-Encoding: gzip' -o '${work}/gzip.gz' '${gzipUrl}' && gzip -t '${work}/gzip.gz'`,
            ),
        ],
      ];
      // Interleaved: a drift of the machine's speed hits ours and its baseline alike.
      const measured = await interleavedRuns(cases, repeats);
      const results = new Map<string, { seconds: number; rss: number }>();
      for (const [name] of cases) {
        const samples = measured.map((run) => run.get(name)!);
        const seconds = median(samples.map((s) => s.seconds));
        const rss = Math.max(...samples.map((s) => s.peakRssMb));
        results.set(name, { seconds, rss });
      }
      const plainBase = results.get(PLAIN_BASELINE)?.seconds ?? NaN;
      const gzipBase = results.get(GZIP_BASELINE)?.seconds ?? NaN;
      for (const [name, { seconds, rss }] of results) {
        const baseline = name === PLAIN_BASELINE || name.includes("plain") ? plainBase : gzipBase;
        rows.push([
          `${mb} MB`,
          name.replaceAll("|", "\\|"),
          seconds.toFixed(2),
          (mb / seconds).toFixed(0),
          rss.toFixed(0),
          `${(seconds / baseline).toFixed(2)}x`,
        ]);
      }
    }
  } finally {
    await server.stop();
    await Deno.remove(work, { recursive: true });
  }
  console.log(
    "## telemetry download (MB/s of JSON content; time ratio vs the baseline of its path, lower is faster)\n",
  );
  printTable(["size", "command", "seconds", "MB/s", "peak RSS MB", "time vs baseline"], rows);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: DOWNLOAD_BENCH_OPTIONS });
  await benchDownload({
    sizes: positiveNumbers(values.sizes, "--sizes"),
    runs: positiveNumber(values.runs, "--runs"),
  });
}
