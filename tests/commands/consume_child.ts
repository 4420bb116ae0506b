/**
 * A `telemetry consume` child process for end-to-end tests: `main.ts` runs
 * with exactly the CLI's permissions, against the test broker, and its JSON
 * log lines are collected as they come.
 *
 * @module
 */

import {
  allowedTestHosts,
  randomEnv,
  TelemetryServer,
  TestBroker,
  waitFor,
} from "../queue/harness.ts";
import { brokerChildEnv } from "../queue/operator_support.ts";
import { readLines, spawnCli } from "../support/cli.ts";

/** A running `telemetry consume` child with its stderr lines. */
export class Child {
  readonly process: Deno.ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  readonly done: Promise<void>;

  constructor(
    args: string[],
    env: Record<string, string | undefined> = {},
    options: { denoArgs?: (args: string[]) => string[] } = {},
  ) {
    const process = spawnCli(["consume", ...args], { env, stderr: "piped", ...options });
    this.process = process;
    this.done = readLines(process.stderr, (line) => this.#add(line));
  }

  #add(line: string) {
    this.raw.push(line);
    try {
      this.lines.push(JSON.parse(line));
    } catch {
      this.lines.push({ event: "raw", line });
    }
  }

  events(name: string) {
    return this.lines.filter((l) => l.event === name);
  }

  /** Kills the child if it still runs and waits for it. */
  async kill(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch { /* already exited */ }
    await this.exit();
  }

  async exit(): Promise<number> {
    const { code } = await this.process.status;
    await this.done;
    return code;
  }
}

export function testArgs(env: string, dataDir: string, extra: string[] = []): string[] {
  return [
    "--env",
    env,
    "--data-dir",
    dataDir,
    "--allow-http",
    ...allowedTestHosts().flatMap((host) => ["--allow-host", host]),
    "--backoff",
    "0",
    "--retry-delay",
    "0.2",
    "--log-format",
    "json",
    ...extra,
  ];
}

export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      for (const name of await listTree(`${dir}/${entry.name}`)) out.push(`${entry.name}/${name}`);
    } else out.push(entry.name);
  }
  return out.sort();
}

/** What a {@linkcode withConsumer} test works with. */
export interface ConsumerRun {
  env: string;
  broker: TestBroker;
  server: TelemetryServer;
  child: Child;
  dataDir: string;
}

/**
 * Runs `fn` against a `telemetry consume` child on a fresh `--env` and data
 * dir, once it has connected to the broker; then kills the child, deletes
 * the queues and removes the data dir.
 */
export async function withConsumer(
  setup: { events: number; behave: TelemetryServer["behave"]; args: string[] },
  fn: (run: ConsumerRun) => Promise<void>,
): Promise<void> {
  const env = randomEnv();
  const dataDir = await Deno.makeTempDir();
  const server = new TelemetryServer({ events: setup.events });
  server.behave = setup.behave;
  const broker = await TestBroker.open(env);
  const child = new Child(testArgs(env, dataDir, setup.args), await brokerChildEnv());
  try {
    await waitFor(() => child.events("broker_connected").length === 1, { what: "child connected" });
    await fn({ env, broker, server, child, dataDir });
  } finally {
    await child.kill();
    await broker.cleanup();
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}
