/**
 * Test support for broker URL lists: a second private RabbitMQ node beside
 * the run's own (not clustered with it: each node holds its own queues),
 * and a user with a password of its own on a node, so a test can check that
 * the password never shows (the nodes' `guest` password is also its user
 * name).
 *
 * @module
 */

import { rabbitmqctl, type RabbitNode, startRabbitNode, stopRabbitNode } from "./rabbitmq_node.ts";
import { RUN_DIR_VAR } from "./run_dir.ts";

/**
 * Runs `fn` with a second private node, started in the run directory and
 * owned by this process (it stops by itself if this process dies), then
 * stops it and waits until nothing of it is left.
 *
 * @param fn The test body, given the node.
 * @returns What `fn` returns.
 */
export async function withSecondNode<T>(fn: (node: RabbitNode) => Promise<T>): Promise<T> {
  const base = Deno.env.get(RUN_DIR_VAR);
  if (base === undefined) {
    throw new Error("a second node needs the test task: 'deno task test FILE'");
  }
  const node = await startRabbitNode(`${base}/node-${crypto.randomUUID().slice(0, 8)}`, {
    ownerPid: Deno.pid,
  });
  try {
    await awaitStartup(node.name);
    return await fn(node);
  } finally {
    await stopRabbitNode(node);
  }
}

/** A user of a node, and URLs that log in as it. */
export interface NodeUser {
  /** The user name. */
  user: string;
  /** Its password (random; a test asserts it never shows). */
  password: string;
  /**
   * The node's URL with this user, vhost `/`.
   *
   * @param node The node.
   * @returns `amqp://user:password@127.0.0.1:port/%2F`.
   */
  urlOf(node: Pick<RabbitNode, "port">): string;
}

/**
 * Adds the same user, with a random password and every permission on `/`,
 * to each node, runs `fn`, then deletes the user from the nodes still up.
 *
 * @param nodes The nodes (by name).
 * @param fn The test body, given the user.
 * @returns What `fn` returns.
 */
export async function withNodeUser<T>(
  nodes: readonly Pick<RabbitNode, "name">[],
  fn: (user: NodeUser) => Promise<T>,
): Promise<T> {
  const user = `spy-${crypto.randomUUID().slice(0, 8)}`;
  const password = `pw-${crypto.randomUUID().replaceAll("-", "")}`;
  for (const { name } of nodes) {
    await rabbitmqctl(name, "add_user", user, password);
    await rabbitmqctl(name, "set_permissions", "-p", "/", user, ".*", ".*", ".*");
  }
  try {
    return await fn({
      user,
      password,
      urlOf: (node) => `amqp://${user}:${password}@127.0.0.1:${node.port}/%2F`,
    });
  } finally {
    for (const { name } of nodes) await rabbitmqctl(name, "delete_user", user).catch(() => {});
  }
}

/** Waits until the node serves (its port opens a little before). */
async function awaitStartup(name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      await rabbitmqctl(name, "await_startup");
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
