/**
 * Test support for `telemetry status`: running the command in-process with
 * its output captured, a raw consumer that stands in for the worker, dead
 * letters put straight into the DLQ, and a loopback `/healthz`.
 *
 * @module
 */

import { AMQPClient } from "amqp-client";
import { ExitCode, type ExitCodeValue } from "../../src/cli/exit_code.ts";
import { runStatusCommand, statusCommand, type StatusFlags } from "../../src/commands/status.ts";
import { topologyNames } from "../../src/queue/topology.ts";
import { withBroker } from "../queue/operator_support.ts";
import { deleteTopology } from "../queue/scenario.ts";
import type { TestBroker } from "../queue/harness.ts";
import { testBrokerUrl } from "./test_broker.ts";

/** What one run of the command printed, and its exit code. */
export interface StatusRun {
  /** Lines on stdout. */
  out: string[];
  /** Lines on stderr. */
  err: string[];
  /** The exit code. */
  code: ExitCodeValue;
}

/**
 * Parses `args` with the real `status` command definition and runs it
 * in-process, capturing its output.
 *
 * @param args The command's arguments (without `status`).
 * @param env The environment variables the command sees. @default {{}}
 * @returns Its output and exit code.
 */
export async function runStatus(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<StatusRun> {
  const out: string[] = [];
  const err: string[] = [];
  let code: ExitCodeValue = ExitCode.Usage;
  const command = statusCommand(() => {});
  command.exitOverride();
  command.configureOutput({ writeOut: () => {}, writeErr: (text) => err.push(text.trimEnd()) });
  command.action(async (...args) => {
    code = await runStatusCommand(args[0] as StatusFlags, {
      io: { print: (line) => out.push(line), error: (line) => err.push(line), isTty: false },
      env,
    });
  });
  try {
    await command.parseAsync(args, { from: "user" });
  } catch {
    return { out, err, code: ExitCode.Usage };
  }
  return { out, err, code };
}

/** A raw AMQP consumer on a queue, standing in for a running worker. */
export interface RawConsumer {
  /** Cancels the consumer and closes its connection; unacked deliveries go back. */
  close(): Promise<void>;
}

/**
 * Attaches a consumer (manual acks, prefetch 1, never acks) to `queue`.
 *
 * @param queue The queue; it must exist.
 * @param options `exclusive`: no other client may consume the queue meanwhile.
 * @returns The consumer, to close when done.
 */
export async function attachConsumer(
  queue: string,
  options: { exclusive?: boolean } = {},
): Promise<RawConsumer> {
  const client = new AMQPClient(await testBrokerUrl());
  await client.connect();
  const channel = await client.channel();
  await channel.prefetch(1);
  await channel.basicConsume(
    queue,
    { noAck: false, exclusive: options.exclusive === true },
    () => {},
  );
  return {
    async close() {
      await client.close();
    },
  };
}

/**
 * Runs `fn` with a connection of its own to the test broker, for a test that
 * declares the queues of `env` itself; they and the exchange are deleted
 * afterwards.
 *
 * @param env The environment.
 * @param fn The test body, given the connection.
 */
export async function withEnvQueues(
  env: string,
  fn: (client: AMQPClient) => Promise<void>,
): Promise<void> {
  const client = new AMQPClient(await testBrokerUrl());
  await client.connect();
  try {
    await fn(client);
  } finally {
    await deleteTopology(await client.channel(), topologyNames(env));
    await client.close();
  }
}

/**
 * Runs `fn` with the topology of a fresh env declared and a consumer on its
 * input queue standing in for the worker (so `status` is healthy there);
 * closes the consumer and deletes the env afterwards.
 *
 * @param fn The test body, given the broker fixture and the env.
 */
export async function withConsumedEnv(
  fn: (broker: TestBroker, env: string) => Promise<void>,
): Promise<void> {
  await withBroker(async (broker, env) => {
    const consumer = await attachConsumer(broker.names.queue);
    try {
      await fn(broker, env);
    } finally {
      await consumer.close();
    }
  });
}

/** One dead letter as the worker writes it: a job body and the `x-error-*` headers. */
export interface TestDeadLetter {
  /** `match_id` of the body. */
  matchId: string;
  /** `x-error-kind`. */
  kind: string;
}

/**
 * Publishes dead letters to `queue`, confirmed, in order.
 *
 * @param queue The dead-letter queue.
 * @param letters The dead letters.
 */
export async function publishDeadLetters(queue: string, letters: TestDeadLetter[]): Promise<void> {
  const client = new AMQPClient(await testBrokerUrl());
  await client.connect();
  try {
    const channel = await client.channel();
    await channel.confirmSelect();
    for (const { matchId, kind } of letters) {
      await channel.basicPublish(
        "",
        queue,
        JSON.stringify({ match_id: matchId, telemetry_url: "https://telemetry-cdn.pubg.com/x" }),
        {
          deliveryMode: 2,
          contentType: "application/json",
          headers: {
            "x-error": `failed ${matchId}`,
            "x-error-kind": kind,
            "x-error-code": "http_status",
            "x-attempts": 1,
            "x-failed-at": new Date().toISOString(),
            "x-worker-id": "test-worker",
          },
        },
        true,
      );
    }
  } finally {
    await client.close();
  }
}

/** A loopback HTTP server answering `/healthz` like the worker. */
export interface HealthServer {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Paths requested so far. */
  paths: string[];
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Serves `/healthz` with the given status and body (404 elsewhere).
 *
 * @param status The HTTP status of `/healthz`.
 * @param body Its body.
 * @returns The server.
 */
export function serveHealth(status: number, body: string): HealthServer {
  const paths: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    paths.push(path);
    return path === "/healthz"
      ? new Response(body, { status })
      : new Response("not found\n", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    paths,
    close: () => server.shutdown(),
  };
}

/**
 * A loopback TCP port nothing listens on.
 *
 * @returns The port.
 */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** What a {@linkcode QueueReadProxy} does to the first `queue.declare` a client sends. */
export type QueueReadFault = "drop" | "stall";

/** A TCP proxy in front of a broker node that fails the queue reads of `status`. */
export interface QueueReadProxy {
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  /** `queue.declare` frames held back so far. */
  declares: number;
  /** Closes the listener and every connection, and waits for them. */
  close(): Promise<void>;
}

/** AMQP 0-9-1 `queue.declare`: class 50, method 10. */
const QUEUE_DECLARE = [0, 50, 0, 10];

/**
 * A loopback proxy in front of a broker node that passes the AMQP handshake
 * and everything else, but not a `queue.declare`: with `drop` it closes the
 * connection there (a node lost during the reads), with `stall` it holds
 * the frame back and answers nothing more (a node that does not answer).
 *
 * @param target The node's host and port.
 * @param fault What happens at the first `queue.declare`.
 * @returns The proxy, to close when done.
 */
export function queueReadProxy(
  target: { hostname: string; port: number },
  fault: QueueReadFault,
): QueueReadProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  const proxy: QueueReadProxy = {
    urlFor(url) {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(listener.addr.port);
      return parsed.href;
    },
    declares: 0,
    async close() {
      listener.close();
      for (const socket of sockets) closeQuietly(socket);
      await Promise.allSettled([accepting, ...pumps]);
    },
  };
  const shut = (...conns: Deno.Conn[]) => {
    for (const conn of conns) {
      sockets.delete(conn);
      closeQuietly(conn);
    }
  };
  const serverToClient = async (server: Deno.Conn, client: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await server.read(buffer).catch(() => null);
      if (n === null) return shut(client, server);
      await writeAll(client, buffer.subarray(0, n)).catch(() => shut(client, server));
    }
  };
  const clientToServer = async (client: Deno.Conn, server: Deno.Conn) => {
    // Frame by frame, after the 8-byte protocol header.
    let pending: Uint8Array = new Uint8Array(0);
    let header = 8;
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await client.read(buffer).catch(() => null);
      if (n === null) return shut(client, server);
      pending = concat(pending, buffer.subarray(0, n));
      let sent = 0;
      if (header > 0) sent = Math.min(header, pending.length);
      header -= sent;
      while (header === 0 && pending.length - sent >= 7) {
        const size = new DataView(pending.buffer, pending.byteOffset + sent + 3, 4).getUint32(0);
        const end = sent + 7 + size + 1;
        if (pending.length < end) break;
        const method = Array.from(pending.subarray(sent + 7, sent + 11));
        if (pending[sent] === 1 && method.every((b, i) => b === QUEUE_DECLARE[i])) {
          proxy.declares++;
          await writeAll(server, pending.subarray(0, sent)).catch(() => {});
          if (fault === "drop") return shut(client, server);
          return; // stall: nothing more goes up; the sockets close with the proxy
        }
        sent = end;
      }
      await writeAll(server, pending.subarray(0, sent)).catch(() => shut(client, server));
      pending = pending.slice(sent);
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect(target).catch(() => undefined);
      if (server === undefined) {
        closeQuietly(client);
        continue;
      }
      sockets.add(client);
      sockets.add(server);
      pumps.push(serverToClient(server, client), clientToServer(client, server));
    }
  })().catch(() => {});
  return proxy;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
