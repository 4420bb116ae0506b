/**
 * One consume scenario: a telemetry server, a broker fixture and a worker
 * for a fresh environment, torn down whatever happens.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TopologyNames } from "../../src/queue/topology.ts";
import {
  randomEnv,
  type RunningWorker,
  startWorker,
  TelemetryServer,
  TestBroker,
} from "./harness.ts";

/** What a scenario runs with. */
export interface Scenario {
  server: TelemetryServer;
  broker: TestBroker;
  worker: RunningWorker;
}

/**
 * Sets up server, broker and worker for a fresh env, runs `fn`, and always
 * tears everything down.
 *
 * @param fn The test.
 * @param options The worker's options.
 * @returns When the test ran and everything is gone.
 */
export async function scenario(
  fn: (ctx: Scenario) => Promise<void>,
  options: Parameters<typeof startWorker>[1] = {},
): Promise<void> {
  const env = randomEnv();
  const server = new TelemetryServer();
  const broker = await TestBroker.open(env);
  let worker: RunningWorker | undefined;
  try {
    worker = await startWorker(env, options);
    await fn({ server, broker, worker });
  } finally {
    await endWorkerTest({ worker, broker, server });
  }
}

/** A broker fixture: the test's own connection, which deletes its environment's queues. */
export interface BrokerFixture {
  /** Deletes the environment's queues and exchange and closes the connection. */
  cleanup(): Promise<void>;
}

/**
 * The end of a consume test, passed or failed: stops the worker (when it
 * started), removes the broker fixture's queues, closes the telemetry server,
 * then removes the worker's data dir (and `dataDir`, when another).
 *
 * @param parts What the test started.
 * @returns When all of it is gone.
 */
export async function endWorkerTest(
  parts: {
    worker: RunningWorker | undefined;
    broker: BrokerFixture;
    server: TelemetryServer;
    dataDir?: string;
  },
): Promise<void> {
  const { worker, broker, server, dataDir } = parts;
  await worker?.stop();
  await broker.cleanup();
  await server.close();
  const dirs = new Set([worker?.dataDir, dataDir].filter((dir) => dir !== undefined));
  for (const dir of dirs) await Deno.remove(dir, { recursive: true });
}

/**
 * Deletes an environment's four queues and its exchange, for a test that
 * declared them on a connection of its own.
 *
 * @param channel An open channel.
 * @param names The environment's names.
 * @returns When they are gone.
 */
export async function deleteTopology(
  channel: {
    queueDelete(name: string): Promise<unknown>;
    exchangeDelete(name: string): Promise<unknown>;
  },
  names: TopologyNames,
): Promise<void> {
  for (const queue of [names.queue, names.retryQueue, names.deadLetterQueue, names.publishQueue]) {
    await channel.queueDelete(queue);
  }
  await channel.exchangeDelete(names.exchange);
}

/**
 * Runs `fn` with a broker fixture of its own opened for a fresh env (e.g.
 * quorum queues); cleans it up afterwards.
 *
 * @param open Opens the broker fixture for an env.
 * @param fn The test body, given the fixture and the env.
 * @returns When the test ran and the env is gone.
 */
export async function withFixture<B extends BrokerFixture>(
  open: (env: string) => Promise<B>,
  fn: (broker: B, env: string) => Promise<void>,
): Promise<void> {
  const env = randomEnv();
  const broker = await open(env);
  try {
    await fn(broker, env);
  } finally {
    await broker.cleanup();
  }
}

/**
 * Waits for a `consume` child that the broker refuses, and checks it exited
 * 1 with exactly one error line, `broker_refused`.
 *
 * @param child The child (`Child` of `tests/commands/consume_child.ts`).
 * @returns The error text of that line.
 */
export async function brokerRefusal(
  child: { exit(): Promise<number>; lines: Record<string, unknown>[]; raw: string[] },
): Promise<string> {
  assert.equal(await child.exit(), 1);
  const errors = child.lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, child.raw.join("\n"));
  assert.equal(errors[0]?.event, "broker_refused");
  return String(errors[0]?.error);
}

/** The options of a worker, as {@linkcode startWorker} takes them. */
export type WorkerOptions = NonNullable<Parameters<typeof startWorker>[1]>;

/** What {@linkcode workerTest} hands its test. */
export interface WorkerTest<B extends BrokerFixture> {
  /** The fresh environment. */
  env: string;
  /** The telemetry server. */
  server: TelemetryServer;
  /** The broker fixture, opened for `env`. */
  broker: B;
  /** A data dir of the test's own: the worker's, and the one to give CLI children. */
  dataDir: string;
  /** Starts the worker (once) on `dataDir`; it is stopped at the end. */
  start(options?: WorkerOptions): Promise<RunningWorker>;
}

/**
 * Like {@linkcode scenario}, for a test that prepares the queues or the data
 * dir before the worker starts (if it starts at all), with a broker fixture
 * of its own (e.g. quorum queues): server, broker and data dir for a fresh
 * env, torn down whatever happens.
 *
 * @param open Opens the broker fixture for an env.
 * @param fn The test.
 * @returns When the test ran and everything is gone.
 */
export async function workerTest<B extends BrokerFixture>(
  open: (env: string) => Promise<B>,
  fn: (test: WorkerTest<B>) => Promise<void>,
): Promise<void> {
  const env = randomEnv();
  const server = new TelemetryServer();
  const broker = await open(env);
  const dataDir = await Deno.makeTempDir({ prefix: "consume-test-" });
  let worker: RunningWorker | undefined;
  const start = async (options: WorkerOptions = {}) => {
    if (worker !== undefined) throw new Error("workerTest() starts one worker");
    worker = await startWorker(env, { ...options, dataDir });
    return worker;
  };
  try {
    await fn({ env, server, broker, dataDir, start });
  } finally {
    await endWorkerTest({ worker, broker, server, dataDir });
  }
}
