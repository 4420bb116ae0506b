/**
 * The test runner behind `deno task test`: runs `deno test` with the
 * sanitizers, then checks that the run left nothing behind.
 *
 * - Every test process gets a run directory (`TELEMETRY_TEST_RUN_DIR`) where
 *   the broker tests start one private RabbitMQ node on first use
 *   (`tests/support/test_broker.ts`), and a `TMPDIR` inside it.
 * - At the end (also after a failure, Ctrl-C or SIGTERM) it stops that node.
 * - The run fails when a queue or exchange is left on the broker, a file or
 *   directory is left in the run's `TMPDIR`, or a process of the node
 *   survives.
 *
 * Usage: `deno task test [deno test flags] [FILES...]` (default: `src/ tests/`).
 *
 * @module
 */

import { AMQPClient } from "amqp-client";
import { nodeProcesses, rabbitmqctl, stopRabbitNode } from "./rabbitmq_node.ts";
import { EXTERNAL_URL_VAR, OWNER_PID_VAR, readIfExists, RUN_DIR_VAR } from "./test_broker.ts";
import { topologyNames } from "../../src/queue/topology.ts";

const TEST_FLAGS = ["--allow-all", "--sanitize-ops", "--sanitize-resources", "--doc"];
const DEFAULT_PATHS = ["src/", "tests/"];

/** `deno test` arguments: the user's, plus the default paths when none names a file. */
function testArgs(args: string[]): string[] {
  const namesPath = args.some((arg) => !arg.startsWith("-") && exists(arg));
  return ["test", ...TEST_FLAGS, ...args, ...(namesPath ? [] : DEFAULT_PATHS)];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The names left in a directory. */
function leftovers(dir: string): string[] {
  return Array.from(Deno.readDirSync(dir), (entry) => entry.name).sort();
}

/** Queues and exchanges left on the private node (apart from the built-in ones). */
async function nodeLeftovers(name: string): Promise<string[]> {
  const queues = await rabbitmqctl(name, "list_queues", "-q", "--no-table-headers", "name");
  const exchanges = await rabbitmqctl(name, "list_exchanges", "-q", "--no-table-headers", "name");
  return [
    ...queues.split("\n").filter((q) => q.trim() !== "").map((q) => `queue ${q.trim()}`),
    ...exchanges.split("\n").map((e) => e.trim())
      .filter((e) => e !== "" && !e.startsWith("amq."))
      .map((e) => `exchange ${e}`),
  ];
}

/** Queues and exchanges of the recorded test environments still on an external broker; deletes them. */
async function externalLeftovers(url: string, envs: string[]): Promise<string[]> {
  const found: string[] = [];
  const client = new AMQPClient(url);
  await client.connect();
  try {
    for (const env of envs) {
      const { exchange, ...queues } = topologyNames(env);
      for (const queue of Object.values(queues)) {
        const channel = await client.channel();
        try {
          await channel.queueDeclare(queue, { passive: true });
        } catch {
          continue; // 404: not there, and the broker closed the channel
        }
        found.push(`queue ${queue}`);
        await channel.queueDelete(queue);
        await channel.close();
      }
      const channel = await client.channel();
      try {
        await channel.exchangeDeclare(exchange, "topic", { passive: true });
      } catch {
        continue;
      }
      found.push(`exchange ${exchange}`);
      await channel.exchangeDelete(exchange);
      await channel.close();
    }
  } finally {
    await client.close();
  }
  return found;
}

async function main(): Promise<number> {
  const runDir = await Deno.makeTempDir({ prefix: "telemetry-test-run-" });
  // The node's directory lives inside; rabbitmq-server runs as the rabbitmq user.
  await Deno.chmod(runDir, 0o755);
  const tmpDir = `${runDir}/tmp`;
  await Deno.mkdir(tmpDir);
  const child = new Deno.Command(Deno.execPath(), {
    args: testArgs(Deno.args),
    env: { TMPDIR: tmpDir, [RUN_DIR_VAR]: runDir, [OWNER_PID_VAR]: String(Deno.pid) },
    stdin: "null",
  }).spawn();
  let interrupted: "SIGINT" | "SIGTERM" | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      interrupted = signal;
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    });
  }
  const status = await child.status;
  const problems: string[] = [];
  const external = Deno.env.get(EXTERNAL_URL_VAR) ?? "";
  const nodeState = await readIfExists(`${runDir}/node.json`);
  const node = nodeState === undefined ? undefined : JSON.parse(nodeState) as { name: string };
  try {
    // An interrupted test could not clean up; the node and TMPDIR go anyway.
    if (node !== undefined && interrupted === undefined) {
      for (const left of await nodeLeftovers(node.name)) {
        problems.push(`left on the broker: ${left}`);
      }
    } else if (external !== "") {
      const envs = (await readIfExists(`${runDir}/envs`) ?? "").split("\n").filter((e) => e);
      for (const left of await externalLeftovers(external, [...new Set(envs)])) {
        problems.push(`left on the broker (now deleted): ${left}`);
      }
    }
  } catch (err) {
    problems.push(`could not check the broker for leftovers: ${(err as Error).message}`);
  }
  if (interrupted === undefined) {
    for (const left of leftovers(tmpDir)) problems.push(`left in TMPDIR: ${left}`);
  }
  if (exists(`${runDir}/node`)) await stopRabbitNode({ dir: `${runDir}/node` });
  if (node !== undefined) {
    const pids = nodeProcesses(node.name);
    for (const pid of pids) {
      problems.push(`process ${pid} of node ${node.name} survived its stop: killed`);
      Deno.kill(pid, "SIGKILL");
    }
  }
  await Deno.remove(runDir, { recursive: true });
  if (node !== undefined) console.log(`private RabbitMQ node ${node.name}: stopped`);
  for (const problem of problems) console.error(`error: ${problem}`);
  if (interrupted !== undefined) {
    console.error(`interrupted (${interrupted}): the test node and temp files are removed`);
    return interrupted === "SIGINT" ? 130 : 143;
  }
  if (status.code !== 0) return status.code;
  return problems.length > 0 ? 1 : 0;
}

Deno.exit(await main());
