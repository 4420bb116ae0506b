/**
 * Test support for the queue worker: a loopback telemetry server with
 * injectable behaviour, a test-side broker connection (the real RabbitMQ),
 * and an in-process worker with captured log lines.
 *
 * @module
 */

import { type AMQPChannel, AMQPClient, type AMQPMessage, type Field } from "amqp-client";
import { toDownloadSettings } from "../../src/cli/download_options.ts";
import { createLogger } from "../../src/cli/logger.ts";
import { type ConsumeFlags, resolveConsumeConfig } from "../../src/queue/config.ts";
import { type TopologyNames, topologyNames } from "../../src/queue/topology.ts";
import { Consumer, type ConsumerOptions } from "../../src/queue/consumer.ts";
import { generateTelemetry, gzipBytes } from "../support/telemetry_fixture.ts";
import { recordEnv, testBrokerUrl } from "../support/test_broker.ts";
import type { ServeTls } from "../support/tls.ts";

/** A fresh `--env` value, so tests never share queues; recorded for the end-of-run check. */
export function randomEnv(): string {
  const env = `t-${crypto.randomUUID().slice(0, 8)}`;
  recordEnv(env);
  return env;
}

/** What the server does for one request. */
export type Behaviour =
  | { type: "ok"; delayMs?: number; until?: Promise<void> }
  | { type: "status"; status: number }
  | { type: "stall" }
  | { type: "body"; bytes: Uint8Array };

/** `127.0.0.1:<port>` of every TelemetryServer not yet closed. */
const liveServers = new Set<string>();

/**
 * The `--allow-host` entries a worker started now needs: the host and port
 * of every open {@linkcode TelemetryServer} (a bare host would allow only
 * port 80), or `127.0.0.1` when none is open.
 */
export function allowedTestHosts(): string[] {
  return liveServers.size === 0 ? ["127.0.0.1"] : [...liveServers];
}

/** A loopback server of generated telemetry at `/t/<match_id>.json`. */
export class TelemetryServer {
  #server: Deno.HttpServer<Deno.NetAddr>;
  #cache = new Map<string, Promise<Uint8Array>>();
  #stalled = new Set<ReadableStreamDefaultController<Uint8Array>>();
  /** Requests so far, by match id. */
  readonly requests = new Map<string, number>();
  /** Requests being answered now, and the most at once. */
  active = 0;
  maxActive = 0;
  /** Decides the answer; the default serves the telemetry at once. */
  behave: (matchId: string, request: number) => Behaviour = () => ({ type: "ok" });

  #scheme: "http" | "https";

  constructor(options: { events?: number; tls?: ServeTls } = {}) {
    const { events = 30, tls } = options;
    this.#scheme = tls === undefined ? "http" : "https";
    const serveOptions = { port: 0, hostname: "127.0.0.1", onListen() {}, ...tls };
    this.#server = Deno.serve(serveOptions, async (req) => {
      const matchId = new URL(req.url).pathname.replace(/^\/t\//, "").replace(/\.json$/, "");
      const request = (this.requests.get(matchId) ?? 0) + 1;
      this.requests.set(matchId, request);
      this.active++;
      this.maxActive = Math.max(this.maxActive, this.active);
      try {
        const behaviour = this.behave(matchId, request);
        if (behaviour.type === "status") return new Response("nope", { status: behaviour.status });
        if (behaviour.type === "body") {
          return new Response(behaviour.bytes as Uint8Array<ArrayBuffer>);
        }
        const gz = await this.gzip(matchId, events);
        if (behaviour.type === "ok") {
          if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
          if (behaviour.until) await behaviour.until;
          return gzipResponse(gz as Uint8Array<ArrayBuffer>);
        }
        const stalled = this.#stalled;
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(gz.subarray(0, Math.floor(gz.length / 2)));
            stalled.add(controller);
          },
          cancel() {},
        });
        return gzipResponse(body);
      } finally {
        this.active--;
      }
    });
    liveServers.add(this.host);
  }

  /** `127.0.0.1:<port>`, as `--allow-host` takes it. */
  get host(): string {
    return `127.0.0.1:${this.#server.addr.port}`;
  }

  /** The gzip telemetry of a match (cached). */
  gzip(matchId: string, events = 30): Promise<Uint8Array> {
    let bytes = this.#cache.get(matchId);
    if (bytes === undefined) {
      bytes = gzipBytes(generateTelemetry({ matchId, events, seed: matchId.length }));
      this.#cache.set(matchId, bytes);
    }
    return bytes;
  }

  /** The URL of a match's telemetry. */
  url(matchId: string): string {
    return `${this.#scheme}://127.0.0.1:${this.#server.addr.port}/t/${matchId}.json`;
  }

  /** Stops the server, ending stalled bodies first. */
  async close(): Promise<void> {
    liveServers.delete(this.host);
    for (const controller of this.#stalled) {
      try {
        controller.error(new Error("server closing"));
      } catch { /* already closed */ }
    }
    await this.#server.shutdown();
  }
}

function gzipResponse(body: BodyInit): Response {
  return new Response(body, {
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
  });
}

/** The test's own broker connection. */
export class TestBroker {
  readonly names: TopologyNames;
  #url: string;
  #client: AMQPClient;
  #channel: AMQPChannel;

  private constructor(env: string, url: string, client: AMQPClient, channel: AMQPChannel) {
    this.names = topologyNames(env);
    this.#url = url;
    this.#client = client;
    this.#channel = channel;
  }

  /** Connects and declares the topology of `env` the way the worker does. */
  static async open(env: string): Promise<TestBroker> {
    // The test publishes large headers too: RabbitMQ's frame size, not the client's 8 KiB.
    const url = withFrameMax(await testBrokerUrl());
    const client = new AMQPClient(url);
    await client.connect();
    const channel = await client.channel();
    await channel.confirmSelect();
    const broker = new TestBroker(env, url, client, channel);
    const { declareTopology } = await import("../../src/queue/topology.ts");
    await declareTopology(channel, { names: broker.names });
    return broker;
  }

  /** The channel, reconnecting when a broker restart closed it. */
  async #ch(): Promise<AMQPChannel> {
    if (this.#client.closed) {
      this.#client = new AMQPClient(this.#url);
      await this.#client.connect();
    }
    if (this.#channel.closed) {
      this.#channel = await this.#client.channel();
      await this.#channel.confirmSelect();
    }
    return this.#channel;
  }

  /** Publishes a job body (object or raw string) to the main queue, confirmed. */
  async publish(body: unknown, headers?: Record<string, Field>): Promise<void> {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    await (await this.#ch()).basicPublish("", this.names.queue, text, {
      deliveryMode: 2,
      contentType: "application/json",
      ...(headers === undefined ? {} : { headers }),
    });
  }

  /** Takes every message now in a queue (acking them). */
  async take(queue: string): Promise<AMQPMessage[]> {
    const out: AMQPMessage[] = [];
    for (;;) {
      const message = await (await this.#ch()).basicGet(queue, { noAck: true });
      if (message === null) return out;
      out.push(message);
    }
  }

  /**
   * Takes the first message of a queue without acking it and closes the
   * channel: the broker puts it back, flagged redelivered, though no job
   * ever started.
   */
  async takeBack(queue: string): Promise<void> {
    await this.#ch(); // reconnects after a broker restart
    const channel = await this.#client.channel();
    const message = await channel.basicGet(queue, { noAck: false });
    await channel.close();
    if (message === null) throw new Error(`no message in ${queue}`);
  }

  /** Deletes a queue (as an operator might, behind the worker's back). */
  async deleteQueue(queue: string): Promise<void> {
    await (await this.#ch()).queueDelete(queue);
  }

  /** Messages ready in a queue. */
  async count(queue: string): Promise<number> {
    const ok = await (await this.#ch()).queueDeclare(queue, { passive: true });
    return ok.messageCount;
  }

  /** Deletes the environment's queues and exchange and closes the connection. */
  async cleanup(): Promise<void> {
    const { queue, retryQueue, deadLetterQueue, publishQueue, exchange } = this.names;
    const channel = await this.#ch();
    for (const name of [queue, retryQueue, deadLetterQueue, publishQueue]) {
      await channel.queueDelete(name);
    }
    await channel.exchangeDelete(exchange);
    await this.#client.close();
  }
}

function withFrameMax(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("frameMax")) parsed.searchParams.set("frameMax", "131072");
  return parsed.href;
}

/** Polls until `predicate` holds. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const { timeoutMs = 10_000, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An in-process worker with its log lines. */
export interface RunningWorker {
  worker: Consumer;
  done: Promise<void>;
  logs: Record<string, unknown>[];
  dataDir: string;
  /** Job log lines. */
  jobs(): Record<string, unknown>[];
  /** Stops gracefully and waits. */
  stop(): Promise<void>;
}

/**
 * The worker's configuration in tests: quick retries and timeouts, one
 * download attempt, loopback HTTP allowed, the data dir given.
 */
export function testConsumeConfig(
  env: string,
  options: {
    amqpUrl: string;
    dataDir: string;
    flags?: Partial<ConsumeFlags> | undefined;
    attempts?: number | undefined;
  },
) {
  return resolveConsumeConfig({
    env,
    amqpUrl: options.amqpUrl,
    concurrency: 4,
    retryDelay: 0.2,
    maxDeliveries: 5,
    shutdownTimeout: 5,
    confirmTimeout: 5,
    workerId: "test-worker",
    ...options.flags,
  }, {
    env: {},
    defaultWorkerId: "unused",
    download: toDownloadSettings({
      dataDir: options.dataDir,
      allowHost: allowedTestHosts(),
      allowHttp: true,
      maxBytes: 1024 ** 3,
      maxDecompressedBytes: 4 * 1024 ** 3,
      headersTimeout: 5,
      idleTimeout: 5,
      attemptTimeout: 30,
      attempts: options.attempts ?? 1,
      backoff: 0,
      maxRetryAfter: 1,
    }),
  });
}

/** Starts a worker for `env` with test-friendly defaults. */
export async function startWorker(
  env: string,
  options: {
    flags?: Partial<ConsumeFlags>;
    attempts?: number;
    dataDir?: string;
    worker?: Partial<ConsumerOptions>;
  } = {},
): Promise<RunningWorker> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "consume-test-" });
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (line) => logs.push(JSON.parse(line)) });
  const config = testConsumeConfig(env, {
    amqpUrl: await testBrokerUrl(),
    dataDir,
    flags: options.flags,
    attempts: options.attempts,
  });
  const worker = new Consumer(config, { log, ...options.worker });
  const done = worker.run();
  await waitFor(() => worker.healthy, { what: "worker connected" });
  return {
    worker,
    done,
    logs,
    dataDir,
    jobs: () => logs.filter((l) => l.event === "job"),
    async stop() {
      worker.stop();
      await done;
    },
  };
}
