/**
 * `deno task bench`: measures `telemetry download` against shell baselines in
 * the same run, then the other commands' benchmarks when present.
 *
 * Download: generated telemetry of 40 MB and 400 MB served from a loopback
 * server in its own process, as plain JSON and with `Content-Encoding: gzip`;
 * ours runs as a whole process the way a user runs it (`deno run` with the
 * binary's permissions). Baselines: `curl -s URL | gzip -6 > file` (plain)
 * and `curl -s -H 'Accept-Encoding: gzip' -o file URL && gzip -t file` (gzip).
 *
 * Flags: `--sizes 40,400` (MB), `--runs N` (repeats of the 40 MB cases),
 * `--only download|verify|consume`.
 *
 * @module
 */

import { measure, type Measurement, median, printTable } from "./bench_lib.ts";
import { CLI_FLAGS } from "./permissions.ts";
import { telemetryChunks } from "../tests/support/telemetry_fixture.ts";

const PLAIN_BASELINE = "baseline: curl | gzip -6";
const GZIP_BASELINE = "baseline: curl -H 'Accept-Encoding: gzip' && gzip -t";
const root = new URL("../", import.meta.url).pathname;
const dataDir = `${root}bench-data/download`;

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? fallback : fallback;
}

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
  const events = Math.round(mb * 1e6 / 352);
  const file = await Deno.open(json, { write: true, create: true, truncate: true });
  for (const chunk of telemetryChunks({ matchId: `bench${mb}`, events, seed: mb })) {
    let off = 0;
    while (off < chunk.length) off += await file.write(chunk.subarray(off));
  }
  file.close();
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
    "run",
    "--quiet",
    ...CLI_FLAGS,
    `${root}main.ts`,
    "download",
    url,
    "--match-id",
    `bench${mb}`,
    "--data-dir",
    out,
    "--allow-http",
    "--allow-host",
    "127.0.0.1",
    "--force",
    "--json",
  ]);
  if (m.code !== 0) throw new Error(`telemetry download failed: ${m.stderr}`);
  return m;
}

async function shell(script: string): Promise<Measurement> {
  const m = await measure(["bash", "-c", script]);
  if (m.code !== 0) throw new Error(`baseline failed: ${script}: ${m.stderr}`);
  return m;
}

async function runDownloadBench(): Promise<void> {
  const sizes = flag("sizes", "40,400").split(",").map(Number);
  const runs = Number(flag("runs", "3"));
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
      const cases: [string, () => Promise<Measurement>][] = [
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
      const results = new Map<string, { seconds: number; rss: number }>();
      for (const [name, run] of cases) {
        const samples: Measurement[] = [];
        for (let i = 0; i < repeats; i++) samples.push(await run());
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

const only = flag("only", "all");
if (only === "all" || only === "download") await runDownloadBench();
for (const name of ["verify", "consume"]) {
  if (only !== "all" && only !== name) continue;
  const script = `${root}scripts/bench_${name}.ts`;
  if (!(await exists(script))) continue;
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!status.success) Deno.exit(status.code);
}
