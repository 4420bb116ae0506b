/**
 * What `deno task compile` checks around `deno compile`: that `DENORT_BIN`
 * is a `denort` runtime before anything is built, that the built binary
 * runs, and that no half-written output is left behind.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { concatBytes } from "../src/core/content/byte_streams.ts";

/** Options of {@linkcode denortProblem}. */
export interface DenortCheckOptions {
  /** How long the binary may run when started alone. @default {10_000} */
  timeoutMs?: number;
}

/** Output read from the binary at most (it may be anything, such as `yes`). */
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * What a `denort` prints when started alone: it looks for the program
 * `deno compile` embeds in it, and there is none.
 */
const DENORT_ALONE = /standalone binary section/i;

/** The first bytes of an executable: ELF, Mach-O (both byte orders, 32/64-bit, universal), PE. */
const EXECUTABLE_MAGICS = [
  [0x7f, 0x45, 0x4c, 0x46],
  [0xcf, 0xfa, 0xed, 0xfe],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xfe, 0xed, 0xfa, 0xcf],
  [0xfe, 0xed, 0xfa, 0xce],
  [0xca, 0xfe, 0xba, 0xbe],
  [0x4d, 0x5a],
];

/**
 * Why a binary is not a `denort` runtime, or undefined when it is one. It
 * must be a regular file, an executable binary, and behave as a `denort`
 * when started alone: say that it carries no program (a `deno` starts its
 * REPL instead, and prints its version). The binary is started with no
 * arguments, no stdin and a timeout, and killed if it outlives it.
 *
 * @param path The binary (`DENORT_BIN`).
 * @param options The timeout.
 * @returns A short reason, or undefined.
 *
 * @example
 * ```ts ignore
 * import { denortProblem } from "./denort_check.ts";
 * console.log(await denortProblem("/bin/true")); // "run alone it printed nothing (exit code 0)..."
 * ```
 */
export async function denortProblem(
  path: string,
  options: DenortCheckOptions = {},
): Promise<string | undefined> {
  const { timeoutMs = 10_000 } = options;
  let head: Uint8Array;
  try {
    if (!(await Deno.stat(path)).isFile) return "not a file";
    using file = await Deno.open(path, { read: true });
    head = new Uint8Array(4);
    const n = await file.read(head) ?? 0;
    head = head.subarray(0, n);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "no such file";
    return `cannot read it: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!EXECUTABLE_MAGICS.some((magic) => magic.every((b, i) => head[i] === b))) {
    return "not an executable binary";
  }
  const run = await runAlone(path, timeoutMs);
  if (typeof run === "string") return run;
  if (DENORT_ALONE.test(run.output)) return undefined;
  const first = run.output.split("\n").map((line) => line.trim()).find((line) => line !== "");
  const printed = first === undefined ? "nothing" : JSON.stringify(first.slice(0, 80));
  if (first !== undefined && /^deno \d/i.test(first)) {
    return `it is a deno, not a denort (run alone it printed ${printed})`;
  }
  return `run alone it printed ${printed} (exit code ${run.code}), where a denort says it has no standalone binary section`;
}

/** Starts the binary alone; returns its output and exit code, or why it could not be run. */
async function runAlone(
  path: string,
  timeoutMs: number,
): Promise<{ output: string; code: number } | string> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args: [],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
  } catch (err) {
    return `cannot run it: ${err instanceof Error ? err.message : String(err)}`;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timedOut = false;
  const stop = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) {
      if (total >= MAX_OUTPUT_BYTES) continue;
      chunks.push(chunk.subarray(0, MAX_OUTPUT_BYTES - total));
      total += chunk.length;
      if (total >= MAX_OUTPUT_BYTES) stop();
    }
  }
  try {
    const [status] = await Promise.all([child.status, drain(child.stdout), drain(child.stderr)]);
    if (timedOut) return `run alone it did not exit within ${timeoutMs / 1000} s`;
    const output = new TextDecoder().decode(concatBytes(chunks));
    return { output, code: status.code };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The temp files `deno compile` writes next to its output before renaming
 * it (`<output>.tmp-<hex>`), as they are now.
 *
 * @param output The compile output path.
 * @returns Their paths (none when the directory does not exist).
 *
 * @example
 * ```ts ignore
 * import { compileTempFiles } from "./denort_check.ts";
 * const before = await compileTempFiles("dist/telemetry");
 * ```
 */
export async function compileTempFiles(output: string): Promise<string[]> {
  const dir = dirname(output);
  const prefix = `${basename(output)}.tmp-`;
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(prefix)) found.push(join(dir, entry.name));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return found.sort();
}

/**
 * Removes the temp files of a failed `deno compile` (it leaves one when it
 * crashes), sparing those that were there before it ran.
 *
 * @param output The compile output path.
 * @param before What {@linkcode compileTempFiles} returned before the compile.
 * @returns The paths removed.
 */
export async function removeCompileTempFiles(
  output: string,
  before: readonly string[],
): Promise<string[]> {
  const removed: string[] = [];
  for (const path of await compileTempFiles(output)) {
    if (before.includes(path)) continue;
    try {
      await Deno.remove(path);
      removed.push(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return removed;
}
