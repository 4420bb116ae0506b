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
