/**
 * The private RabbitMQ node of a benchmark: the test suite's
 * (`tests/support/rabbitmq_node.ts`), in a temp directory of its own, so a
 * benchmark needs `rabbitmq-server` installed and never touches the
 * machine's broker.
 *
 * @module
 */

import {
  type RabbitNode,
  startRabbitNode,
  stopRabbitNode,
} from "../tests/support/rabbitmq_node.ts";

/**
 * Starts a private node, runs `fn` against it, then stops the node and
 * removes its directory, however `fn` ends. The node also stops by itself
 * when this process dies first.
 *
 * @param fn The benchmark, given the node (`node.url` is its AMQP URL).
 * @returns What `fn` returns.
 * @throws What `fn` throws, or why the node did not start.
 *
 * @example
 * ```ts ignore
 * import { withBenchNode } from "./bench_node.ts";
 * const url = await withBenchNode((node) => Promise.resolve(node.url));
 * ```
 */
export async function withBenchNode<T>(fn: (node: RabbitNode) => Promise<T>): Promise<T> {
  const nodeParent = await Deno.makeTempDir({ prefix: "bench-rabbitmq-" });
  // rabbitmq-server runs as the rabbitmq user: it must reach the node's directory.
  await Deno.chmod(nodeParent, 0o755);
  try {
    const node = await startRabbitNode(`${nodeParent}/node`, {
      ownerPid: Deno.pid,
      ownerDir: nodeParent,
    });
    try {
      return await fn(node);
    } finally {
      await stopRabbitNode(node);
    }
  } finally {
    await Deno.remove(nodeParent, { recursive: true });
  }
}
