/**
 * Helpers shared by the benchmark scripts: measure the wall time, CPU time
 * and peak memory of a process (and the processes it starts), check numeric
 * flags, and print tables.
 *
 * Memory and CPU come from `/proc` (Linux): the tree of a process is sampled
 * every 10 ms, keeping each process's VmHWM (peak RSS) and its user + system
 * CPU time as last seen.
 *
 * @module
 */

/** What a process tree used so far. */
export interface Usage {
  /** Wall-clock seconds since the measurement started. */
  seconds: number;
  /** CPU seconds (user + system) of the processes of the tree, summed. */
  cpuSeconds: number;
  /** Sum of the peak RSS (VmHWM) of the processes of the tree, in MiB. */
  peakRssMb: number;
}

/** The measurement of one command run to its end. */
export interface Measurement extends Usage {
  /** Exit code. */
  code: number;
  /** Captured stdout. */
  stdout: string;
  /** Captured stderr. */
  stderr: string;
}

/** Options of {@linkcode measure}. */
export interface MeasureOptions {
  /** Working directory of the command. @default {the current one} */
  cwd?: string;
  /** Variables added to the inherited environment. @default {{}} */
  env?: Record<string, string>;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;
const SAMPLE_MS = 10;

/**
 * Samples the peak RSS and the CPU time of a process and its descendants
 * every 10 ms from its creation until {@linkcode ProcessMeter.stop}. A
 * process that ends between two samples counts with what was last seen.
 *
 * @example
 * ```ts ignore
 * import { ProcessMeter } from "./bench_lib.ts";
 * const child = new Deno.Command("sleep", { args: ["1"] }).spawn();
 * const meter = new ProcessMeter(child.pid);
 * await child.status;
 * console.log(meter.stop()); // { seconds: 1.0…, cpuSeconds: 0, peakRssMb: 1.… }
 * ```
 */
export class ProcessMeter {
  #pid: number;
  #started = performance.now();
  #peakKb = new Map<number, number>();
  #cpuTicks = new Map<number, number>();
  #peakTotalKb = 0;
  #timer: ReturnType<typeof setInterval>;
  #stopped: number | undefined;

  /** @param pid The process to measure, with the processes it starts. */
  constructor(pid: number) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
  }

  /**
   * Takes a sample now (unless stopped) and returns the usage so far.
   *
   * @returns Wall time, CPU time and peak RSS.
   */
  usage(): Usage {
    if (this.#stopped === undefined) this.#sample();
    let ticks = 0;
    for (const t of this.#cpuTicks.values()) ticks += t;
    return {
      seconds: ((this.#stopped ?? performance.now()) - this.#started) / 1000,
      cpuSeconds: ticks / TICKS_PER_SECOND,
      peakRssMb: this.#peakTotalKb / 1024,
    };
  }

  /**
   * Takes a last sample and stops sampling and the clock; later calls of
   * {@linkcode ProcessMeter.usage} and `stop` return the same figures.
   *
   * @returns The usage up to now.
   */
  stop(): Usage {
    if (this.#stopped === undefined) {
      this.#sample();
      this.#stopped = performance.now();
      clearInterval(this.#timer);
    }
    return this.usage();
  }

  #sample(): void {
    let totalKb = 0;
    for (const pid of processTree(this.#pid)) {
      const hwm = readStatusKb(pid, "VmHWM");
      if (hwm !== undefined) this.#peakKb.set(pid, Math.max(this.#peakKb.get(pid) ?? 0, hwm));
      totalKb += this.#peakKb.get(pid) ?? 0;
      const ticks = readCpuTicks(pid);
      if (ticks !== undefined) {
        this.#cpuTicks.set(pid, Math.max(this.#cpuTicks.get(pid) ?? 0, ticks));
      }
    }
    this.#peakTotalKb = Math.max(this.#peakTotalKb, totalKb);
  }
}

/**
 * Runs a command to its end and measures it with a {@linkcode ProcessMeter}.
 *
 * @param cmd Program and arguments.
 * @param options Working directory and environment.
 * @returns Seconds, CPU seconds, peak RSS, exit code and output.
 * @throws {RangeError} When `cmd` is empty.
 *
 * @example
 * ```ts ignore
 * import { measure } from "./bench_lib.ts";
 * const m = await measure(["gzip", "-t", "file.gz"]);
 * console.log(m.code, m.seconds, m.cpuSeconds, m.peakRssMb);
 * ```
 */
export async function measure(cmd: string[], options: MeasureOptions = {}): Promise<Measurement> {
  const { cwd, env } = options;
  const [program, ...args] = cmd;
  if (program === undefined) throw new RangeError("Cannot measure an empty command");
  const child = new Deno.Command(program, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(cwd === undefined ? {} : { cwd }),
    ...(env === undefined ? {} : { env }),
  }).spawn();
  const meter = new ProcessMeter(child.pid);
  let output: Deno.CommandOutput;
  try {
    output = await child.output();
  } finally {
    meter.stop();
  }
  const decoder = new TextDecoder();
  return {
    ...meter.stop(),
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The pids of a process and of all its descendants alive now. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i];
    try {
      for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
        const children = Deno.readTextFileSync(`/proc/${p}/task/${task.name}/children`).trim();
        if (children !== "") out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // The process ended between two reads.
    }
  }
  return out;
}

function readStatusKb(pid: number, field: string): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** utime + stime of `/proc/<pid>/stat`, in clock ticks. */
function readCpuTicks(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces: count fields after its ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a flag holding one positive number or a comma-separated list of them.
 *
 * @param value The flag's text, e.g. `"40,400"`.
 * @param flag The flag's name, for the error message.
 * @returns The numbers.
 * @throws {RangeError} When an item is not a positive number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positiveNumbers } from "./bench_lib.ts";
 * assert.deepEqual(positiveNumbers("40,400", "--sizes"), [40, 400]);
 * assert.throws(() => positiveNumbers("0", "--runs"), RangeError);
 * ```
 */
export function positiveNumbers(value: string, flag: string): number[] {
  return value.split(",").map((item) => {
    const number = Number(item);
    if (item.trim() === "" || !Number.isFinite(number) || number <= 0) {
      throw new RangeError(`${flag} must be a positive number: current value is "${value}"`);
    }
    return number;
  });
}

/**
 * Reads a flag holding one positive number.
 *
 * @param value The flag's text, e.g. `"3"`.
 * @param flag The flag's name, for the error message.
 * @returns The number.
 * @throws {RangeError} When it is not one positive number.
 */
export function positiveNumber(value: string, flag: string): number {
  const [number, ...rest] = positiveNumbers(value, flag);
  if (number === undefined || rest.length > 0) {
    throw new RangeError(`${flag} must be one positive number: current value is "${value}"`);
  }
  return number;
}

/**
 * Prints a Markdown table.
 *
 * @param header Column names.
 * @param rows Cells.
 */
export function printTable(header: string[], rows: (string | number)[][]): void {
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  console.log("");
}

/**
 * The median of some numbers.
 *
 * @param values Numbers.
 * @returns The median.
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid] ?? 0
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
