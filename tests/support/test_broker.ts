/**
 * Which broker the tests use, decided once per test run:
 *
 * - `TELEMETRY_TEST_AMQP_URL` set: that broker. Tests that stop, restart or
 *   inspect a broker with `rabbitmqctl` are ignored, with the reason in
 *   their name.
 * - otherwise: one private RabbitMQ node per run directory, started on
 *   first use by whichever test module needs it first and shared by all the
 *   others of that directory. The runner (`tests/support/run_tests.ts`, the
 *   `test` task) owns the nodes: it gives every `deno test` process it starts
 *   a run directory of its own (so a test that stops or crashes its node
 *   never disturbs another process's tests) and stops the nodes at the end.
 *
 * Every `--env` a test uses is recorded in the run directory, so the runner
 * can check that nothing was left declared on the broker.
 *
 * @module
 */

import { type RabbitNode, startRabbitNode } from "./rabbitmq_node.ts";
import { OWNER_DIR_VAR, OWNER_PID_VAR, RUN_DIR_VAR } from "./run_dir.ts";

/** The variable that points the broker tests at a broker of the user's. */
export const EXTERNAL_URL_VAR = "TELEMETRY_TEST_AMQP_URL";

/** The broker of this test run. */
export interface TestBrokerTarget {
  /** Its AMQP URL. */
  url: string;
  /** The private node, when the suite started one (absent for an external broker). */
  node?: RabbitNode;
}

let target: Promise<TestBrokerTarget> | undefined;

/**
 * The broker of this run, starting the private node on first use.
 *
 * @returns Its URL and, for the private node, the node.
 * @throws {Error} With one line when no broker can be had.
 */
export function testBroker(): Promise<TestBrokerTarget> {
  target ??= locate();
  return target;
}

/**
 * The run's broker URL (see {@linkcode testBroker}).
 *
 * @returns The AMQP URL.
 */
export async function testBrokerUrl(): Promise<string> {
  return (await testBroker()).url;
}

/** Whether this run uses an external broker (`TELEMETRY_TEST_AMQP_URL`). */
export function usesExternalBroker(): boolean {
  return (Deno.env.get(EXTERNAL_URL_VAR) ?? "") !== "";
}

/**
 * Registers a test that controls the broker node itself (stops it, closes
 * connections, reads queue arguments with `rabbitmqctl`). With an external
 * broker it is ignored, and its name says why.
 *
 * @param name The test name.
 * @param fn The test body, given the private node.
 */
export function nodeTest(name: string, fn: (node: RabbitNode) => Promise<void>): void {
  if (usesExternalBroker()) {
    Deno.test({
      name: `${name} [ignored: it controls the broker node, and ${EXTERNAL_URL_VAR} is set]`,
      ignore: true,
      fn() {},
    });
    return;
  }
  Deno.test(name, async () => {
    const { node } = await testBroker();
    if (node === undefined) throw new Error("no private node in this run");
    await fn(node);
  });
}

/**
 * Records an `--env` whose queues a test declares, for the runner's
 * end-of-run check that none is left on the broker.
 *
 * @param env The environment name.
 */
export function recordEnv(env: string): void {
  const runDir = Deno.env.get(RUN_DIR_VAR);
  if (runDir === undefined) return;
  Deno.writeTextFileSync(`${runDir}/envs`, `${env}\n`, { append: true });
}

/** How long a test waits for another one (another test module's worker) to start the node. */
const NODE_START_WAIT_MS = 120_000;

async function locate(): Promise<TestBrokerTarget> {
  const external = Deno.env.get(EXTERNAL_URL_VAR) ?? "";
  if (external !== "") return { url: external };
  const runDir = Deno.env.get(RUN_DIR_VAR);
  if (runDir === undefined) {
    throw new Error(
      "the broker tests run against a private RabbitMQ node that the test task starts: " +
        `run them with 'deno task test [FILES]', or set ${EXTERNAL_URL_VAR}`,
    );
  }
  const stateFile = `${runDir}/node.json`;
  const errorFile = `${runDir}/node.error`;
  // Test modules may run in parallel (`deno test --parallel`): the first to
  // take the lock starts the node, the others wait for its state file.
  const deadline = Date.now() + NODE_START_WAIT_MS;
  while (true) {
    const state = await readIfExists(stateFile);
    if (state !== undefined) return { url: JSON.parse(state).url, node: JSON.parse(state) };
    const earlier = await readIfExists(errorFile);
    if (earlier !== undefined) throw new Error(earlier);
    try {
      await Deno.mkdir(`${runDir}/node.lock`);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    if (Date.now() > deadline) throw new Error("timed out waiting for the private RabbitMQ node");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    const node = await startRabbitNode(`${runDir}/node`, {
      ownerPid: Number(Deno.env.get(OWNER_PID_VAR) ?? Deno.pid),
      ownerDir: Deno.env.get(OWNER_DIR_VAR) ?? runDir,
    });
    // Written whole, then renamed: a waiting module never reads half of it.
    await Deno.writeTextFile(`${stateFile}.tmp`, JSON.stringify(node));
    await Deno.rename(`${stateFile}.tmp`, stateFile);
    return { url: node.url, node };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await Deno.writeTextFile(errorFile, message);
    throw new Error(message);
  }
}

/**
 * Reads a text file, or returns undefined when it does not exist.
 *
 * @param path The file.
 * @returns Its text, or undefined.
 */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}
