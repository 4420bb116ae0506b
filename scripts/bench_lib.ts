/**
 * Helpers shared by the benchmark scripts: run a command while sampling the
 * peak RSS of its whole process tree, and print tables.
 *
 * @module
 */

/** The measurement of one command. */
export interface Measurement {
  /** Wall-clock seconds. */
  seconds: number;
  /** Largest sum of VmRSS over the process tree seen while sampling, in MB. */
  peakRssMb: number;
  /** Exit code. */
  code: number;
  /** Captured stdout. */
  stdout: string;
  /** Captured stderr. */
  stderr: string;
}

/**
 * Runs a command and measures it. The process tree's RSS is sampled every
 * 10 ms (VmHWM of each process, summed over the processes alive at once).
 *
 * @param cmd Program and arguments.
 * @param options Working directory and environment.
 * @returns Seconds, peak RSS, exit code and output.
 */
export async function measure(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Measurement> {
  const [program, ...args] = cmd;
  if (program === undefined) throw new Error("empty command");
  const started = performance.now();
  const child = new Deno.Command(program, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
  const peaks = new Map<number, number>();
  let peakTotal = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      let total = 0;
      for (const pid of treeOf(child.pid)) {
        const hwm = readKb(pid, "VmHWM");
        if (hwm !== undefined) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, hwm));
        total += peaks.get(pid) ?? 0;
      }
      peakTotal = Math.max(peakTotal, total);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const output = await child.output();
  const seconds = (performance.now() - started) / 1000;
  running = false;
  await sampler;
  return {
    seconds,
    peakRssMb: peakTotal / 1024,
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

function treeOf(pid: number): number[] {
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

function readKb(pid: number, field: string): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
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
