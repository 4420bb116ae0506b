/**
 * A private 3-node RabbitMQ cluster for the cluster tests: three nodes of
 * {@linkcode startRabbitNode} (each with its own node name, AMQP port,
 * distribution port, config and data, never the machine's broker on 5672 or
 * its distribution port 25672), then `stop_app`, `join_cluster FIRST`,
 * `start_app` on the second and third.
 *
 * Nothing is left behind: {@linkcode stopRabbitCluster} stops every node and
 * removes the directory; {@linkcode stopClusterOnSignals} does it on SIGTERM;
 * and each node's launcher stops its node and removes the cluster's
 * directory by itself when the owner process is gone (Ctrl-C, which
 * `deno test` answers by exiting, or a `kill -9`). The shared cluster lives
 * in a directory of its own, outside the test runner's: a node still
 * writing its logs while the runner removes its directory would create it
 * again.
 *
 * @module
 */

import {
  crashRabbitNode,
  nodeProcesses,
  rabbitmqctl,
  type RabbitNode,
  startRabbitNode,
  stopRabbitNode,
} from "./rabbitmq_node.ts";

/** A running cluster. */
export interface RabbitCluster {
  /** Its directory (one subdirectory per node). */
  dir: string;
  /** The nodes; the first is the one the others joined. */
  nodes: RabbitNode[];
  /** Every node's AMQP URL, in the order of `nodes`. */
  urls: string[];
  /** From nothing to every node running in the cluster, in milliseconds. */
  bootMs: number;
}

/** Options of {@linkcode startRabbitCluster}. */
export interface StartRabbitClusterOptions {
  /** The nodes stop by themselves once this process is gone. @default {Deno.pid} */
  ownerPid?: number;
  /** What the nodes' launchers remove once the owner is gone. @default {the cluster's directory} */
  ownerDir?: string;
  /** How many nodes. @default {3} */
  size?: number;
  /** How long each node may take to start. @default {90_000} */
  timeoutMs?: number;
}

/**
 * Starts `size` private nodes in `dir` (created here; it must not exist) and
 * clusters them.
 *
 * @param dir The cluster's own directory; removed when it stops.
 * @param options The owner process, the size and the start timeout.
 * @returns The cluster, once every node runs in it.
 * @throws {Error} With one line when a node does not start or join; the
 * nodes that did start are stopped first.
 */
export async function startRabbitCluster(
  dir: string,
  options: StartRabbitClusterOptions = {},
): Promise<RabbitCluster> {
  const { ownerPid = Deno.pid, ownerDir = dir, size = 3, timeoutMs = 90_000 } = options;
  const started = performance.now();
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o755); // rabbitmq-server runs as the rabbitmq user
  const starting = Array.from(
    { length: size },
    (_, i) => startRabbitNode(`${dir}/node-${i + 1}`, { ownerPid, ownerDir, timeoutMs }),
  );
  const settled = await Promise.allSettled(starting);
  const nodes = settled.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const cluster: RabbitCluster = { dir, nodes, urls: nodes.map((n) => n.url), bootMs: 0 };
  try {
    const failed = settled.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const [first, ...others] = nodes;
    for (const node of others) {
      await rabbitmqctl(node.name, "stop_app");
      await rabbitmqctl(node.name, "join_cluster", first!.name);
      await rabbitmqctl(node.name, "start_app");
    }
    await untilRunning(cluster, { nodes: size, timeoutMs });
  } catch (err) {
    await stopRabbitCluster(cluster);
    throw new Error(`the private RabbitMQ cluster did not start: ${(err as Error).message}`, {
      cause: err,
    });
  }
  cluster.bootMs = performance.now() - started;
  return cluster;
}

/**
 * Stops every node of a cluster and removes its directory; never throws.
 *
 * @param cluster The cluster (its `dir` and `nodes`).
 * @returns When nothing of it is left.
 */
export async function stopRabbitCluster(
  cluster: Pick<RabbitCluster, "dir" | "nodes">,
): Promise<void> {
  await Promise.all(cluster.nodes.map((node) => stopRabbitNode(node).catch(() => {})));
  for (const node of cluster.nodes) {
    for (const pid of nodeProcesses(node.name)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }
  await Deno.remove(cluster.dir, { recursive: true }).catch(() => {});
}

/**
 * Waits until `nodes` nodes run in the cluster, as its first running node
 * sees it.
 *
 * @param cluster The cluster.
 * @param options How many nodes, and how long to wait.
 * @returns When they run.
 * @throws {Error} When they do not in time.
 */
export async function untilRunning(
  cluster: Pick<RabbitCluster, "nodes">,
  options: { nodes: number; timeoutMs?: number },
): Promise<void> {
  const { nodes, timeoutMs = 60_000 } = options;
  const deadline = Date.now() + timeoutMs;
  let seen = "";
  while (true) {
    for (const node of cluster.nodes) {
      try {
        const status = JSON.parse(
          await rabbitmqctl(node.name, "cluster_status", "--formatter", "json"),
        ) as { running_nodes?: string[] };
        seen = (status.running_nodes ?? []).join(", ");
        if ((status.running_nodes?.length ?? 0) >= nodes) return;
        break;
      } catch (err) {
        seen = (err as Error).message;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`${nodes} nodes did not run in the cluster in time (last seen: ${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * `kill -9` of one node, as a power cut would; its launcher starts it again
 * on its data after `downMs`, and it rejoins the cluster.
 *
 * @param node The node.
 * @param options How long it stays down.
 * @returns `down`, resolved once it no longer answers; `back`, resolved once it serves again.
 */
export function killNode(
  node: RabbitNode,
  options: { downMs?: number } = {},
): { down: Promise<void>; back: Promise<void> } {
  const { downMs = 5_000 } = options;
  const before = nodeProcesses(node.name);
  const back = crashRabbitNode(node, { downMs, timeoutMs: downMs + 90_000 });
  back.catch(() => {}); // awaited by the caller
  const down = (async () => {
    while (nodeProcesses(node.name).some((pid) => before.includes(pid))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { down, back };
}

/**
 * The node that leads a quorum queue, and its members, as the cluster reports them.
 *
 * @param cluster The cluster.
 * @param queue The queue (vhost `/`).
 * @returns The leader's node name and the members' (empty when the queue is unknown).
 */
export async function quorumMembers(
  cluster: Pick<RabbitCluster, "nodes">,
  queue: string,
): Promise<{ leader: string | undefined; members: string[] }> {
  for (const node of cluster.nodes) {
    let out: string;
    try {
      out = await rabbitmqctl(
        node.name,
        "list_queues",
        "name",
        "leader",
        "members",
        "--formatter",
        "json",
      );
    } catch {
      continue; // that node is down: ask another
    }
    const rows = JSON.parse(out) as { name: string; leader: string; members: string[] }[];
    const row = rows.find((r) => r.name === queue);
    return { leader: row?.leader, members: row?.members ?? [] };
  }
  throw new Error("no node of the cluster answers");
}

let shared: Promise<RabbitCluster> | undefined;
let sharedDir: string | undefined;

/**
 * The cluster of this test process, started on first use (about 25 s) and
 * shared by its tests; {@linkcode stopSharedCluster} ends it. It lives in a
 * temporary directory of its own in `/tmp`, which the nodes' launchers
 * remove when this process is gone.
 *
 * @returns The cluster.
 */
export function sharedCluster(): Promise<RabbitCluster> {
  if (shared !== undefined) return shared;
  shared = (async () => {
    const parent = await Deno.makeTempDir({ prefix: "telemetry-cluster-", dir: "/tmp" });
    await Deno.chmod(parent, 0o755);
    sharedDir = parent;
    return await startRabbitCluster(`${parent}/cluster`, { ownerDir: parent });
  })();
  return shared;
}

/**
 * Stops the shared cluster, if one was started.
 *
 * @returns When it is gone.
 */
export async function stopSharedCluster(): Promise<void> {
  const cluster = await shared?.catch(() => undefined);
  shared = undefined;
  if (cluster !== undefined) await stopRabbitCluster(cluster);
  if (sharedDir !== undefined) await Deno.remove(sharedDir, { recursive: true }).catch(() => {});
  sharedDir = undefined;
}

/**
 * Stops the shared cluster when the process gets SIGTERM (what the test
 * runner passes on), then exits 143. Call it at the top level of a test
 * module: a listener added inside a test would be taken for a leaked op.
 * (On SIGINT `deno test` exits at once; the launchers stop the nodes.)
 */
export function stopClusterOnSignals(): void {
  Deno.addSignalListener("SIGTERM", () => {
    stopSharedCluster().finally(() => Deno.exit(143));
  });
}
