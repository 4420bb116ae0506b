/**
 * Benchmarks of `telemetry verify`, each against baselines run beside it on
 * the same files. Three cases (`--verify-case large,small,realistic`, all by
 * default):
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
 * runs at `--jobs 1` and `--jobs 2`, with and without its small-file fast
 * path (see below), and once more at `--jobs 1` with a full garbage
 * collection forced every 100 ms (a `--preload` module, which does not reach
 * worker threads): its peak RSS shows how much of the growth from one count
 * to the next is garbage that V8 has not collected yet.
 *
 * **realistic**: a store like a real one, `--realistic-files` (default 1,000)
 * files of generated telemetry whose gzip sizes spread over
 * `--realistic-gzip-mb` (default 2 to 6 MB, gzip -6, about 12:1: 25 to 75 MB of
 * JSON each, some 50 GB in all), one per `matchID=` directory, cached under
 * `bench-data/verify/` like the large case (about 4 GB on disk; generating
 * it takes 15 to 20 minutes on 2 cores). Every file is larger than one read,
 * so `verify` streams each one. Baseline: `find … -print0 | xargs -0 gzip -t`;
 * then `telemetry verify` at `--jobs 1` and `--jobs <cores>`, with and
 * without the fast path.
 *
 * "No fast path" runs the same CLI with an import map (`--import-map`: the
 * imports of `deno.json`, plus `src/core/content/quick_check.ts` mapped to a
 * stub whose `quickCheck()` never vouches), so every file goes through the
 * streaming `ingest()`, as it would with the fast path removed.
 *
 * In the small and realistic cases each run times the baseline and then each
 * `verify`, one after the other, and every row gives its ratio to the
 * baseline of the same run: the load of a shared machine drifts over minutes,
 * and a ratio within one run is what stays comparable. The targets are
 * judged on the median ratio over the runs.
 *
 * Run: `deno run -A scripts/bench_verify.ts [--verify-case large,small,realistic]
 * [--verify-files 50] [--verify-mb 40] [--python-files 8] [--verify-runs 2]
 * [--small-files 3000,30000] [--small-events 29] [--realistic-files 1000]
 * [--realistic-gzip-mb 2,6]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { measure, type Measurement, median, printTable } from "./bench_lib.ts";
import { positiveNumber, positiveNumbers } from "./bench_lib.ts";
import { type Contender, interleavedRuns, type Run, succeeded } from "./bench_support.ts";
import { cliRunArgs } from "./cli_run_args.ts";
import { QUICK_CHECK_MAX_LAYER_BYTES } from "../src/core/content/quick_check.ts";
import { runPool } from "../src/core/pool.ts";
import {
  eventsForSize,
  generateTelemetry,
  gzipBytes,
  seededRandom,
  telemetryChunks,
} from "../tests/support/telemetry_fixture.ts";

/** The flags of this benchmark (`scripts/bench.ts` passes them on). */
export const VERIFY_BENCH_OPTIONS = {
  "verify-files": { type: "string", default: "50" },
  "verify-mb": { type: "string", default: "40" },
  "python-files": { type: "string", default: "8" },
  "verify-runs": { type: "string", default: "2" },
  "verify-case": { type: "string", default: "large,small,realistic" },
  "small-files": { type: "string", default: "3000,30000" },
  "small-events": { type: "string", default: "29" },
  "realistic-files": { type: "string", default: "1000" },
  "realistic-gzip-mb": { type: "string", default: "2,6" },
} as const;

/** The cases, in running order. */
const CASES = ["large", "small", "realistic"] as const;

const root = new URL("../", import.meta.url).pathname;
const PYTHON_CHECK = "import gzip,json,sys; json.load(gzip.open(sys.argv[1]))";

/** What the generated data set holds. */
interface Manifest {
  files: string[];
  contentBytes: number[];
}

/**
 * Generates (once) one file of telemetry, gzip -6, per item of `sizes()`
 * (about that many bytes of JSON), one per `matchID=` directory.
 */
async function prepare(dataDir: string, sizes: () => number[]): Promise<Manifest> {
  const manifestPath = `${dataDir}/manifest.json`;
  try {
    return JSON.parse(await Deno.readTextFile(manifestPath)) as Manifest;
  } catch {
    // Not generated yet.
  }
  const jsonBytes = sizes();
  const count = jsonBytes.length;
  const total = jsonBytes.reduce((a, b) => a + b, 0);
  console.error(
    `generating ${count} files, ${(total / 1e9).toFixed(1)} GB of telemetry, in ${dataDir} ...`,
  );
  const manifest: Manifest = { files: [], contentBytes: [] };
  const indexes = Array.from({ length: count }, (_, i) => i);
  // Events per byte of generated JSON (eventsForSize() measures a sample).
  const eventsPerByte = eventsForSize(1e9) / 1e9;
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
      const events = Math.max(1, Math.round(jsonBytes[i]! * eventsPerByte));
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

/**
 * Runs `telemetry verify --jobs <jobs> --data-dir <dataDir> <extra>` the
 * way the binary runs, with `denoFlags` added to `deno run` (a variant).
 */
function verify(
  dataDir: string,
  jobs: number,
  extra: string[] = [],
  denoFlags: string[] = [],
): Promise<Measurement> {
  const args = cliRunArgs(["verify", "--jobs", String(jobs), "--data-dir", dataDir, ...extra]);
  return measure([Deno.execPath(), args[0]!, ...denoFlags, ...args.slice(1)], { cwd: root });
}

/** The `deno run` flags of the variants of `verify` measured beside the CLI as it is. */
interface Variants {
  /** Every file through `ingest()`: the fast path (`quickCheck()`) switched off. */
  noFastPath: string[];
  /** A full garbage collection every 100 ms, on the main thread only. */
  fullGc: string[];
}

/** Writes the files of the variants to `dir`: an import map, a stub, a preload module. */
async function prepareVariants(dir: string): Promise<Variants> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`)) as {
    imports?: Record<string, string>;
    scopes?: Record<string, Record<string, string>>;
  };
  const stub = `${dir}/quick_check_off.ts`;
  await Deno.writeTextFile(
    stub,
    "// quick_check.ts without its fast path: quickCheck() never vouches, ingest() judges.\n" +
      `export const QUICK_CHECK_MAX_LAYER_BYTES = ${QUICK_CHECK_MAX_LAYER_BYTES};\n` +
      "export function quickCheck() {\n  return undefined;\n}\n",
  );
  const quickCheckUrl = new URL("../src/core/content/quick_check.ts", import.meta.url).href;
  const importMap = {
    imports: { ...config.imports, [quickCheckUrl]: `file://${stub}` },
    scopes: config.scopes ?? {},
  };
  await Deno.writeTextFile(`${dir}/import_map.json`, JSON.stringify(importMap));
  await Deno.writeTextFile(
    `${dir}/full_gc.ts`,
    "// A full collection every 100 ms (the CLI runs with --expose-gc).\n" +
      'Deno.unrefTimer(setInterval(() => globalThis.gc({ type: "major" }), 100));\n',
  );
  return {
    noFastPath: ["--import-map", `${dir}/import_map.json`],
    fullGc: ["--preload", `${dir}/full_gc.ts`],
  };
}

/**
 * Runs each contender `runs` times, alternating so that load noise hits all
 * alike; keeps the fastest run of each, with the highest peak RSS seen.
 */
async function bestOf(
  contenders: Contender[],
  runs: number,
): Promise<Map<string, Measurement>> {
  const best = new Map<string, Measurement>();
  for (let i = 0; i < runs; i++) {
    for (const [name, runOnce] of contenders) {
      const m = succeeded(name, await runOnce());
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
  const manifest = await prepare(dataDir, () => Array.from({ length: count }, () => mb * 1e6));
  const totalContent = manifest.contentBytes.reduce((a, b) => a + b, 0);
  const totalGz = (await Promise.all(manifest.files.map((f) => Deno.stat(f))))
    .reduce((n, s) => n + s.size, 0);
  await warmCache(manifest.files);

  const contenders: Contender[] = [
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
    const m = succeeded(
      "python",
      await measure(["python3", "-c", PYTHON_CHECK, manifest.files[i]!]),
    );
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

/** Per run, `name`'s seconds over `over`'s (the baseline, or another contender). */
function ratios(runs: Run[], name: string, over: string): number[] {
  return runs.map((run) => run.get(name)!.seconds / run.get(over)!.seconds);
}

/** The highest peak RSS of `name` over the runs. */
function peakRss(runs: Run[], name: string): number {
  return Math.max(...runs.map((run) => run.get(name)!.peakRssMb));
}

const FIND_GZIP_T = "find … -print0 \\| xargs -0 gzip -t";
/** Added to the name of a `verify` contender run without the fast path. */
const NO_FAST_PATH = ", no fast path";

/** `find DIR -name raw.json.gz -print0 | xargs -0 gzip -t`, measured. */
function findGzipT(dir: string): Promise<Measurement> {
  return measure(["bash", "-c", `find '${dir}' -name raw.json.gz -print0 | xargs -0 gzip -t`]);
}

/** Reads every file under `dir` once (unmeasured), so that every run finds them in the page cache. */
async function warmDir(dir: string): Promise<void> {
  succeeded(
    "warm-up",
    await measure(["bash", "-c", `find '${dir}' -type f -print0 | xargs -0 cat >/dev/null`]),
  );
}

/**
 * The baseline over `dir`, then `verify` at each of `jobs`, each with and
 * then without the fast path.
 */
function contendersOver(
  dir: string,
  jobs: number[],
  extra: string[],
  variants: Variants,
): Contender[] {
  const contenders: Contender[] = [[FIND_GZIP_T, () => findGzipT(dir)]];
  for (const n of jobs) {
    const name = ["telemetry verify", ...extra, "--jobs", n].join(" ");
    contenders.push([name, () => verify(dir, n, extra)]);
    contenders.push([`${name}${NO_FAST_PATH}`, () => verify(dir, n, extra, variants.noFastPath)]);
  }
  return contenders;
}

/**
 * One table row per contender per run: the run, the name, the seconds, the
 * ratio to the run's baseline, then `cells` of the measurement.
 */
function runRows(
  runs: Run[],
  cells: (m: Measurement) => (string | number)[],
): (string | number)[][] {
  return runs.flatMap((run, i) => {
    const baseline = run.get(FIND_GZIP_T)!.seconds;
    return [...run].map(([name, m]) => [
      i + 1,
      name,
      m.seconds.toFixed(2),
      `${(m.seconds / baseline).toFixed(2)}x`,
      ...cells(m),
    ]);
  });
}

/** One line per `--jobs`: how much longer `verify` takes without the fast path (median over the runs). */
function fastPathLines(runs: Run[], where: string): string[] {
  return [...runs[0]!.keys()].filter((name) => runs[0]!.has(`${name}${NO_FAST_PATH}`)).map(
    (name) => {
      const slower = median(ratios(runs, `${name}${NO_FAST_PATH}`, name));
      return `fast path, ${name}, ${where}: without it ${slower.toFixed(2)}x the time ` +
        `(median over the runs of the ratio within a run)`;
    },
  );
}

/**
 * The small-file case: per-file overhead and flat memory, against
 * `find | xargs -0 gzip -t` over the same files in the same run.
 */
async function smallFilesCase(flag: Flag, counts: number[], variants: Variants): Promise<void> {
  const events = flag("small-events");
  const runs = flag("verify-runs");
  const dir = await Deno.makeTempDir({ prefix: "bench-verify-small-" });
  const gcProbe = "telemetry verify --json --jobs 1, full GC every 100 ms";
  const byCount = new Map<number, Run[]>();
  try {
    let have = 0;
    for (const count of [...counts].sort((a, b) => a - b)) {
      await growSmallStore(dir, have, count, events);
      have = count;
      await warmDir(dir);
      byCount.set(
        count,
        await interleavedRuns([
          ...contendersOver(dir, [1, 2], ["--json"], variants),
          [gcProbe, () => verify(dir, 1, ["--json"], variants.fullGc)],
        ], runs),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `## telemetry verify: many small files (${events} events each, one per match), ` +
      `${navigator.hardwareConcurrency} cores\n`,
  );
  printTable(
    [
      "files",
      "run",
      "command",
      "seconds",
      "vs baseline (same run)",
      "ms per file",
      "CPU s",
      "peak RSS MB",
    ],
    [...byCount].flatMap(([files, all]) =>
      runRows(all, (m) => [
        (m.seconds * 1000 / files).toFixed(3),
        m.cpuSeconds.toFixed(2),
        m.peakRssMb.toFixed(0),
      ]).map((row) => [files, ...row])
    ),
  );
  const smallest = Math.min(...counts);
  const largest = Math.max(...counts);
  const at = (n: number) => byCount.get(n)!;
  const growth = (name: string) => peakRss(at(largest), name) - peakRss(at(smallest), name);
  const signed = (mb: number) => `${mb >= 0 ? "+" : ""}${mb.toFixed(0)} MB`;
  for (const name of at(largest)[0]!.keys()) {
    if (name === FIND_GZIP_T || name === gcProbe) continue;
    const ratio = median(ratios(at(largest), name, FIND_GZIP_T));
    console.log(
      `targets, ${name}: at ${largest} files <= 3x baseline (median of the runs): ` +
        `${verdict(ratio <= 3)} (${ratio.toFixed(2)}x); peak RSS at ${largest} <= peak at ` +
        `${smallest} + 16 MB: ${verdict(growth(name) <= 16)} (${signed(growth(name))})`,
    );
  }
  const j1 = "telemetry verify --json --jobs 1";
  console.log(
    `peak RSS growth from ${smallest} to ${largest} files at --jobs 1: ${signed(growth(j1))}, ` +
      `${signed(growth(gcProbe))} with a full GC every 100 ms (what that removes is garbage ` +
      `not yet collected)`,
  );
  for (const line of fastPathLines(at(largest), `${largest} files`)) console.log(line);
  const seconds = (name: string) => median(at(largest).map((run) => run.get(name)!.seconds));
  const cpu = (name: string) => median(at(largest).map((run) => run.get(name)!.cpuSeconds));
  const j2 = "telemetry verify --json --jobs 2";
  console.log(
    `--jobs 2 vs --jobs 1 at ${largest} files (medians): ` +
      `${(seconds(j1) / seconds(j2)).toFixed(2)}x the speed ` +
      `(CPU ${cpu(j1).toFixed(1)} s vs ${cpu(j2).toFixed(1)} s)`,
  );
}

/** JSON bytes per gzip byte of generated telemetry at gzip -6, from an 8 MB sample. */
function gzipRatio(): number {
  const sample = generateTelemetry({ matchId: "ratio-sample", events: eventsForSize(8e6) });
  return sample.length / gzipSync(sample, { level: 6 }).length;
}

/**
 * The realistic case: a store of files of real sizes (megabytes of gzip
 * each, every one streamed), against `find | xargs -0 gzip -t` over the
 * same files in the same run.
 */
async function realisticCase(flag: Flag, gzipMb: number[], variants: Variants): Promise<void> {
  const count = flag("realistic-files");
  const runs = flag("verify-runs");
  const low = gzipMb[0]!;
  const high = gzipMb[1] ?? low;
  if (gzipMb.length > 2 || high < low) {
    throw new RangeError(
      `--realistic-gzip-mb must be "<min>,<max>" in MB: current value is "${gzipMb.join(",")}"`,
    );
  }
  const cores = navigator.hardwareConcurrency;
  const dataDir = `${root}bench-data/verify/realistic-${count}x${low}-${high}MB`;
  const manifest = await prepare(dataDir, () => {
    const ratio = gzipRatio();
    const random = seededRandom(count);
    return Array.from({ length: count }, () => (low + (high - low) * random()) * 1e6 * ratio);
  });
  const sizes = (await Promise.all(manifest.files.map((f) => Deno.stat(f)))).map((s) => s.size);
  const totalGz = sizes.reduce((a, b) => a + b, 0);
  const totalContent = manifest.contentBytes.reduce((a, b) => a + b, 0);
  await warmDir(dataDir);
  const all = await interleavedRuns(
    contendersOver(dataDir, [...new Set([1, cores])], [], variants),
    runs,
  );
  console.log(
    `## telemetry verify: realistic store, ${count} files of ` +
      `${(Math.min(...sizes) / 1e6).toFixed(1)}-${(Math.max(...sizes) / 1e6).toFixed(1)} MB gzip ` +
      `(${(totalGz / 1e9).toFixed(2)} GB gzip, ${(totalContent / 1e9).toFixed(1)} GB of JSON), ` +
      `${cores} cores\n`,
  );
  printTable(
    [
      "run",
      "command",
      "seconds",
      "vs baseline (same run)",
      "MB/s (decompressed)",
      "CPU s",
      "peak RSS MB",
    ],
    runRows(all, (m) => [
      (totalContent / 1e6 / m.seconds).toFixed(0),
      m.cpuSeconds.toFixed(1),
      m.peakRssMb.toFixed(0),
    ]),
  );
  for (const name of all[0]!.keys()) {
    if (name === FIND_GZIP_T) continue;
    console.log(
      `${name}: ${median(ratios(all, name, FIND_GZIP_T)).toFixed(2)}x the baseline's time ` +
        `(median of ${runs} runs), peak RSS ${peakRss(all, name).toFixed(0)} MB`,
    );
  }
  for (const line of fastPathLines(all, "realistic store")) console.log(line);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: VERIFY_BENCH_OPTIONS });
  const flag: Flag = (name) => positiveNumber(values[name], `--${name}`);
  const cases = values["verify-case"].split(",");
  for (const name of cases) {
    if (!(CASES as readonly string[]).includes(name)) {
      throw new RangeError(
        `--verify-case must list some of ${CASES.join(", ")}: current value is "${
          values["verify-case"]
        }"`,
      );
    }
  }
  if (cases.includes("large")) await largeFilesCase(flag);
  const variantsDir = await Deno.makeTempDir({ prefix: "bench-verify-variants-" });
  try {
    const variants = await prepareVariants(variantsDir);
    if (cases.includes("small")) {
      const counts = positiveNumbers(values["small-files"], "--small-files");
      await smallFilesCase(flag, counts, variants);
    }
    if (cases.includes("realistic")) {
      const gzipMb = positiveNumbers(values["realistic-gzip-mb"], "--realistic-gzip-mb");
      await realisticCase(flag, gzipMb, variants);
    }
  } finally {
    await Deno.remove(variantsDir, { recursive: true });
  }
}

if (import.meta.main) await main();
