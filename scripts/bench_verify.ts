/**
 * Benchmarks of `telemetry verify`, each against baselines run beside it on
 * the same files. Two cases (`--verify-case large,small`, both by default):
 *
 * **large**: a few big files, against `gzip -t` (gzip integrity only) and
 * Python's `json.load(gzip.open(f))` (gzip + JSON), one process per file.
 *
 * Data: generated telemetry (`tests/support/telemetry_fixture.ts`), by
 * default 50 files of 40 MB of JSON (2 GB decompressed, about 12:1 like
 * real files), gzipped with `gzip -6` and cached under
 * `bench-data/verify/`, so re-runs skip the generation.
 *
 * `verify` runs as a whole process the way a user runs it (`deno run` with
 * the binary's permissions) at `--jobs 1` and `--jobs <cores>`. Python runs
 * over a subset (`--python-files`, default 8) because it needs about 1.7 s per
 * file; its MB/s is over that subset. `gzip -t` and `verify` run
 * `--verify-runs` times (default 2), alternating; the table shows the fastest
 * run and the highest peak RSS seen.
 *
 * **small**: very many small files, the per-file overhead and whether memory
 * stays flat in the number of files. `--small-files` (default 3,000 and
 * 30,000) files of generated telemetry of `--small-events` events (default
 * 29, like a short real match), one per `matchID=` directory, are written to
 * a temporary directory (grown from one count to the next, removed at the
 * end: nothing is cached). For each count, `find DIR -name raw.json.gz
 * -print0 | xargs -0 gzip -t` is the baseline, and `telemetry verify --json`
 * runs at `--jobs 1` and `--jobs 2`; each runs `--verify-runs` times,
 * alternating, and the table shows the fastest run, its ratio to the
 * fastest baseline, and the highest peak RSS seen.
 *
 * Run: `deno run -A scripts/bench_verify.ts [--verify-case large,small] [--verify-files 50]
 * [--verify-mb 40] [--python-files 8] [--verify-runs 2] [--small-files 3000,30000]
 * [--small-events 29]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  measure,
  type Measurement,
  positiveNumber,
  positiveNumbers,
  printTable,
} from "./bench_lib.ts";
import { cliRunArgs } from "./cli_run_args.ts";
import { runPool } from "../src/core/pool.ts";
import {
  eventsForSize,
  generateTelemetry,
  gzipBytes,
  telemetryChunks,
} from "../tests/support/telemetry_fixture.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const VERIFY_BENCH_OPTIONS = {
  "verify-files": { type: "string", default: "50" },
  "verify-mb": { type: "string", default: "40" },
  "python-files": { type: "string", default: "8" },
  "verify-runs": { type: "string", default: "2" },
  "verify-case": { type: "string", default: "large,small" },
  "small-files": { type: "string", default: "3000,30000" },
  "small-events": { type: "string", default: "29" },
} as const;

const root = new URL("../", import.meta.url).pathname;
const PYTHON_CHECK = "import gzip,json,sys; json.load(gzip.open(sys.argv[1]))";

/** What the generated data set holds. */
interface Manifest {
  files: string[];
  contentBytes: number[];
}

/** Generates (once) `count` files of about `mb` MB of JSON each, gzip -6. */
async function prepare(dataDir: string, count: number, mb: number): Promise<Manifest> {
  const manifestPath = `${dataDir}/manifest.json`;
  try {
    return JSON.parse(await Deno.readTextFile(manifestPath)) as Manifest;
  } catch {
    // Not generated yet.
  }
  console.error(`generating ${count} files of ${mb} MB of telemetry in ${dataDir} ...`);
  const manifest: Manifest = { files: [], contentBytes: [] };
  const indexes = Array.from({ length: count }, (_, i) => i);
  await runPool(indexes, {
    concurrency: Math.max(1, navigator.hardwareConcurrency),
    worker: async (i) => {
      const matchId = `bench-${String(i).padStart(4, "0")}`;
      const dir = `${dataDir}/matchID=${matchId}`;
      await Deno.mkdir(dir, { recursive: true });
      const path = `${dir}/raw.json.gz`;
      const gzip = new Deno.Command("bash", {
        args: ["-c", `gzip -6 -c > '${path}.part'`],
        stdin: "piped",
      }).spawn();
      const writer = gzip.stdin.getWriter();
      let bytes = 0;
      const events = eventsForSize(mb * 1e6);
      for (const chunk of telemetryChunks({ matchId, events, seed: i + 1 })) {
        bytes += chunk.length;
        await writer.write(chunk);
      }
      await writer.close();
      if (!(await gzip.status).success) throw new Error(`gzip failed for ${path}`);
      await Deno.rename(`${path}.part`, path);
      manifest.files[i] = path;
      manifest.contentBytes[i] = bytes;
    },
  });
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
  return manifest;
}

/** Reads every file once so that every contender finds them in the page cache. */
async function warmCache(files: string[]): Promise<void> {
  for (const path of files) await Deno.readFile(path);
}

function check(name: string, m: Measurement): Measurement {
  if (m.code !== 0) throw new Error(`${name} exited ${m.code}: ${m.stderr.slice(0, 2000)}`);
  return m;
}

function verify(dataDir: string, jobs: number, extra: string[] = []): Promise<Measurement> {
  return measure([
    Deno.execPath(),
    ...cliRunArgs(["verify", "--jobs", String(jobs), "--data-dir", dataDir, ...extra]),
  ], { cwd: root });
}

/**
 * Runs each contender `runs` times, alternating so that load noise hits all
 * alike; keeps the fastest run of each, with the highest peak RSS seen.
 */
async function bestOf(
  contenders: [string, () => Promise<Measurement>][],
  runs: number,
): Promise<Map<string, Measurement>> {
  const best = new Map<string, Measurement>();
  for (let i = 0; i < runs; i++) {
    for (const [name, runOnce] of contenders) {
      const m = check(name, await runOnce());
      const prev = best.get(name);
      if (prev === undefined || m.seconds < prev.seconds) {
        best.set(name, { ...m, peakRssMb: Math.max(m.peakRssMb, prev?.peakRssMb ?? 0) });
      } else {
        prev.peakRssMb = Math.max(prev.peakRssMb, m.peakRssMb);
      }
    }
  }
  return best;
}

/** Decompressed MB per second of a row. */
function rate(row: { content: number; m: Measurement }): number {
  return row.content / 1e6 / row.m.seconds;
}

function verdict(ok: boolean): string {
  return ok ? "met" : "NOT met";
}

type Flag = (name: keyof typeof VERIFY_BENCH_OPTIONS) => number;

/** The large-file case: a few big files against gzip -t and Python. */
async function largeFilesCase(flag: Flag): Promise<void> {
  const count = flag("verify-files");
  const mb = flag("verify-mb");
  const pythonFiles = Math.min(count, flag("python-files"));
  const cores = navigator.hardwareConcurrency;
  const dataDir = `${root}bench-data/verify/${count}x${mb}MB`;
  const manifest = await prepare(dataDir, count, mb);
  const totalContent = manifest.contentBytes.reduce((a, b) => a + b, 0);
  const totalGz = (await Promise.all(manifest.files.map((f) => Deno.stat(f))))
    .reduce((n, s) => n + s.size, 0);
  await warmCache(manifest.files);

  const contenders: [string, () => Promise<Measurement>][] = [
    ["gzip -t (all files, one call)", () => measure(["gzip", "-t", ...manifest.files])],
    ["telemetry verify --jobs 1", () => verify(dataDir, 1)],
    [`telemetry verify --jobs ${cores}`, () => verify(dataDir, cores)],
  ];
  if (cores === 1) contenders.pop(); // --jobs <cores> is --jobs 1.
  const best = await bestOf(contenders, flag("verify-runs"));
  const rows = contenders.map(([name]) => ({
    name,
    files: count,
    content: totalContent,
    m: best.get(name)!,
  }));
  const python: Measurement = {
    seconds: 0,
    cpuSeconds: 0,
    peakRssMb: 0,
    code: 0,
    stdout: "",
    stderr: "",
  };
  let pyContent = 0;
  for (let i = 0; i < pythonFiles; i++) {
    const m = check("python", await measure(["python3", "-c", PYTHON_CHECK, manifest.files[i]!]));
    python.seconds += m.seconds;
    python.cpuSeconds += m.cpuSeconds;
    python.peakRssMb = Math.max(python.peakRssMb, m.peakRssMb);
    pyContent += manifest.contentBytes[i]!;
  }
  rows.push({
    name: "python3 json.load(gzip.open(f)), per file",
    files: pythonFiles,
    content: pyContent,
    m: python,
  });

  const gzipRate = rate(rows[0]!);
  const pyRate = rate(rows.at(-1)!);
  console.log(
    `## telemetry verify: ${count} files, ${(totalContent / 1e9).toFixed(2)} GB of JSON ` +
      `(${(totalGz / 1e6).toFixed(0)} MB gzip), ${cores} cores\n`,
  );
  printTable(
    [
      "command",
      "files",
      "seconds",
      "MB/s (decompressed)",
      "peak RSS MB",
      "speed vs gzip -t",
      "speed vs python",
    ],
    rows.map((r) => [
      r.name,
      r.files,
      r.m.seconds.toFixed(2),
      rate(r).toFixed(0),
      r.m.peakRssMb.toFixed(0),
      `${(rate(r) / gzipRate).toFixed(2)}x`,
      `${(rate(r) / pyRate).toFixed(1)}x`,
    ]),
  );
  const j1 = rows[1]!;
  const worstRss = Math.max(...rows.slice(1, -1).map((r) => r.m.peakRssMb));
  console.log(
    `targets: --jobs 1 >= 0.8x gzip -t: ${verdict(rate(j1) / gzipRate >= 0.8)} (${
      (rate(j1) / gzipRate).toFixed(2)
    }x); ` +
      `>= 5x python: ${verdict(rate(j1) / pyRate >= 5)} (${(rate(j1) / pyRate).toFixed(1)}x); ` +
      `peak RSS < 200 MB: ${verdict(worstRss < 200)} (${worstRss.toFixed(0)} MB)`,
  );
  if (pythonFiles < count) {
    console.log(
      `(python ran over the first ${pythonFiles} of the ${count} files; its MB/s is over those)`,
    );
  }
}

/** Writes the files `from` to `to - 1` of the small-file store (one per match dir). */
async function growSmallStore(dir: string, from: number, to: number, events: number) {
  console.error(`generating small files ${from}..${to - 1} (${events} events each) in ${dir} ...`);
  const indexes = Array.from({ length: to - from }, (_, i) => from + i);
  await runPool(indexes, {
    concurrency: 8,
    worker: async (i) => {
      const matchId = `small-${String(i).padStart(7, "0")}`;
      // generateTelemetry's `events` come after LogMatchDefinition.
      const json = generateTelemetry({ matchId, events: events - 1, seed: i + 1 });
      const dirPath = `${dir}/matchID=${matchId}`;
      await Deno.mkdir(dirPath);
      await Deno.writeFile(`${dirPath}/raw.json.gz`, await gzipBytes(json));
    },
  });
}

/** A row of the small-file table. */
interface SmallRow {
  files: number;
  name: string;
  m: Measurement;
  baseline: Measurement;
}

/**
 * The small-file case: per-file overhead and flat memory, against
 * `find | xargs -0 gzip -t` over the same files in the same run.
 */
async function smallFilesCase(flag: Flag, counts: number[]): Promise<void> {
  const events = flag("small-events");
  const runs = flag("verify-runs");
  const dir = await Deno.makeTempDir({ prefix: "bench-verify-small-" });
  const rows: SmallRow[] = [];
  try {
    let have = 0;
    for (const count of [...counts].sort((a, b) => a - b)) {
      await growSmallStore(dir, have, count, events);
      have = count;
      const baselineName = "find … -print0 \\| xargs -0 gzip -t";
      const contenders: [string, () => Promise<Measurement>][] = [
        [baselineName, () =>
          measure([
            "bash",
            "-c",
            `find '${dir}' -name raw.json.gz -print0 | xargs -0 gzip -t`,
          ])],
        ["telemetry verify --json --jobs 1", () => verify(dir, 1, ["--json"])],
        ["telemetry verify --json --jobs 2", () => verify(dir, 2, ["--json"])],
      ];
      // A first pass, unmeasured, puts every file and the directories in the page cache.
      check(
        "warm-up",
        await measure(["bash", "-c", `find '${dir}' -type f -print0 | xargs -0 cat >/dev/null`]),
      );
      const best = await bestOf(contenders, runs);
      const baseline = best.get(baselineName)!;
      for (const [name] of contenders) {
        rows.push({ files: count, name, m: best.get(name)!, baseline });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `## telemetry verify: many small files (${events} events each, one per match), ` +
      `${navigator.hardwareConcurrency} cores\n`,
  );
  printTable(
    ["files", "command", "seconds", "ms per file", "vs baseline", "CPU s", "peak RSS MB"],
    rows.map((r) => [
      r.files,
      r.name,
      r.m.seconds.toFixed(2),
      (r.m.seconds * 1000 / r.files).toFixed(3),
      `${(r.m.seconds / r.baseline.seconds).toFixed(2)}x`,
      r.m.cpuSeconds.toFixed(2),
      r.m.peakRssMb.toFixed(0),
    ]),
  );
  const smallest = Math.min(...counts);
  const largest = Math.max(...counts);
  for (const jobs of [1, 2]) {
    const name = `telemetry verify --json --jobs ${jobs}`;
    const at = (n: number) => rows.find((r) => r.files === n && r.name === name)!;
    const big = at(largest);
    const ratio = big.m.seconds / big.baseline.seconds;
    const growth = big.m.peakRssMb - at(smallest).m.peakRssMb;
    console.log(
      `targets, --jobs ${jobs}: at ${largest} files <= 3x baseline: ${verdict(ratio <= 3)} ` +
        `(${ratio.toFixed(2)}x); peak RSS at ${largest} <= peak at ${smallest} + 16 MB: ` +
        `${verdict(growth <= 16)} (${growth >= 0 ? "+" : ""}${growth.toFixed(0)} MB)`,
    );
  }
  const j1 = rows.find((r) => r.files === largest && r.name.endsWith("--jobs 1"))!;
  const j2 = rows.find((r) => r.files === largest && r.name.endsWith("--jobs 2"))!;
  console.log(
    `--jobs 2 vs --jobs 1 at ${largest} files: ${(j1.m.seconds / j2.m.seconds).toFixed(2)}x ` +
      `the speed (CPU ${j1.m.cpuSeconds.toFixed(1)} s vs ${j2.m.cpuSeconds.toFixed(1)} s)`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: VERIFY_BENCH_OPTIONS });
  const flag: Flag = (name) => positiveNumber(values[name], `--${name}`);
  const cases = values["verify-case"].split(",");
  for (const name of cases) {
    if (name !== "large" && name !== "small") {
      throw new RangeError(
        `--verify-case must list large and/or small: current value is "${values["verify-case"]}"`,
      );
    }
  }
  if (cases.includes("large")) await largeFilesCase(flag);
  if (cases.includes("small")) {
    await smallFilesCase(flag, positiveNumbers(values["small-files"], "--small-files"));
  }
}

if (import.meta.main) await main();
