/**
 * Runs `main.ts` in a child process with exactly the permissions of the
 * compiled binary (`scripts/permissions.ts`), so the CLI tests exercise what
 * production gets: {@linkcode runCli} to the end with its output captured,
 * {@linkcode spawnCli} for a child the test signals or kills.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { cliRunArgs } from "../../scripts/cli_run_args.ts";

/** The repository root, the working directory of the child. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** Options of {@linkcode spawnCli}. */
export interface SpawnCliOptions {
  /**
   * Variables added to the inherited environment (`NO_COLOR=1` is always
   * set); `undefined` removes a variable. @default {{}}
   */
  env?: Record<string, string | undefined>;
  /** Whether the child's stdin is a pipe. @default {"null"} */
  stdin?: "piped" | "null";
  /** Whether the child's stdout is captured. @default {"null"} */
  stdout?: "piped" | "null";
  /** Whether the child's stderr is captured. @default {"null"} */
  stderr?: "piped" | "null";
  /**
   * Changes the arguments of `deno` (e.g. narrows a permission, to show what
   * a build without it does; never widens them). @default {none}
   */
  denoArgs?: (args: string[]) => string[];
}

/**
 * Starts `deno run --quiet <CLI_FLAGS> main.ts <args>` (see
 * `scripts/cli_run_args.ts`) in the repository root.
 *
 * @param args The CLI's arguments, e.g. `["consume", "--env", "test"]`.
 * @param options Environment and which streams are piped.
 * @returns The running child; the caller waits for or kills it.
 */
export function spawnCli(args: string[], options: SpawnCliOptions = {}): Deno.ChildProcess {
  const { env = {}, stdin = "null", stdout = "null", stderr = "null", denoArgs } = options;
  return new Deno.Command(Deno.execPath(), {
    args: denoArgs === undefined ? cliRunArgs(args) : denoArgs(cliRunArgs(args)),
    cwd: ROOT,
    ...childEnv(env),
    stdin,
    stdout,
    stderr,
  }).spawn();
}

/**
 * The `env`/`clearEnv` of a child: the inherited environment, `NO_COLOR=1`,
 * and `env` on top, where `undefined` removes a variable.
 *
 * @param env Variables to set or (as `undefined`) remove.
 * @returns Options for `new Deno.Command`.
 */
export function childEnv(
  env: Record<string, string | undefined>,
): { env: Record<string, string>; clearEnv?: boolean } {
  const removed = Object.keys(env).filter((name) => env[name] === undefined);
  const set = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  if (removed.length === 0) return { env: { NO_COLOR: "1", ...set } };
  const inherited = Deno.env.toObject();
  for (const name of removed) delete inherited[name];
  return { env: { ...inherited, NO_COLOR: "1", ...set }, clearEnv: true };
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Variables added to the inherited environment; `undefined` removes one. @default {{}} */
  env?: Record<string, string | undefined>;
  /** Text written to the child's stdin, which is then closed. @default {no stdin} */
  stdin?: string;
}

const decoder = new TextDecoder();

/**
 * Runs the CLI to the end and captures its output.
 *
 * @param args The CLI's arguments, e.g. `["verify", dir]`.
 * @param options Environment and stdin.
 * @returns Stdout, stderr and the exit code.
 */
export async function runCli(
  args: string[],
  options: RunCliOptions = {},
): Promise<[stdout: string, stderr: string, code: number]> {
  const { env = {}, stdin } = options;
  const child = spawnCli(args, {
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { stdout, stderr, code } = await child.output();
  return [decoder.decode(stdout), decoder.decode(stderr), code];
}

/**
 * Reads a child's output line by line, as it comes.
 *
 * @param stream A piped stdout or stderr.
 * @param onLine Receives each line without its newline; a last line
 * without one too, unless it is empty.
 * @returns When the stream has ended.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const line of parts) onLine(line);
  }
  if (buffer !== "") onLine(buffer);
}
