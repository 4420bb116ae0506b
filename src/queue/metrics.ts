/**
 * Prometheus metrics of the worker (with `prom-client`, loaded only when
 * `--metrics-port` is given) and the `/metrics` + `/healthz` HTTP endpoint.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";
import type { Settlement } from "./settle.ts";

/** What the worker reports; the worker never depends on prom-client itself. */
export interface WorkerMetrics {
  /** A delivery was settled (or left unacked). */
  jobSettled(settled: Settlement, info: { bytes: number | undefined; seconds: number }): void;
  /** A download started (+1) or ended (-1). */
  inFlight(delta: number): void;
  /** The broker session came up or went down. */
  connected(up: boolean): void;
  /** The broker started or stopped blocking publishes (a resource alarm). */
  blocked(on: boolean): void;
  /** The worker paused on a store fault (`true`) or resumed (`false`). */
  storePaused(on: boolean): void;
}

/** Metrics plus their rendering. */
export interface Metrics extends WorkerMetrics {
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  /** The content type of {@linkcode Metrics.render}'s output. */
  readonly contentType: string;
}

/**
 * Creates the worker's metrics in a registry of their own, plus the process
 * default metrics (memory, CPU, event loop).
 *
 * @returns The metrics.
 *
 * @example
 * ```ts
 * import { createMetrics } from "./metrics.ts";
 * const metrics = await createMetrics();
 * metrics.connected(true);
 * if (!(await metrics.render()).includes("telemetry_consume_broker_connected 1")) throw new Error();
 * ```
 */
export async function createMetrics(): Promise<Metrics> {
  const client = await import("prom-client");
  const registry = new client.Registry();
  const prefix = "telemetry_consume_";
  /** The options every metric shares: its prefixed name, its help, the registry. */
  const named = (name: string, help: string) => ({
    name: `${prefix}${name}`,
    help,
    registers: [registry],
  });
  const jobs = new client.Counter({
    ...named(
      "jobs_total",
      "Jobs settled, by outcome (downloaded, already_exists, retry, dead_lettered, requeued, unacked).",
    ),
    labelNames: ["outcome"] as const,
  });
  const bytes = new client.Counter(
    named("bytes_stored_total", "Bytes of raw.json.gz files stored."),
  );
  const seconds = new client.Histogram({
    ...named("job_seconds", "Seconds per job, download and settling included."),
    labelNames: ["outcome"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  });
  const inFlight = new client.Gauge(named("in_flight", "Downloads running now."));
  const retries = new client.Counter(
    named("retries_total", "Jobs republished to the retry queue."),
  );
  const deadLettered = new client.Counter({
    ...named(
      "dead_lettered_total",
      "Jobs published to the dead-letter queue, by error kind " +
        '(kind="redelivered": started --max-deliveries times and never finished: the worker died).',
    ),
    labelNames: ["kind"] as const,
  });
  const connected = new client.Gauge(
    named("broker_connected", "1 while connected to the broker and consuming."),
  );
  const blocked = new client.Gauge(
    named(
      "broker_blocked",
      "1 while the broker blocks publishing (memory or disk alarm): no new jobs start.",
    ),
  );
  const storePaused = new client.Gauge(
    named(
      "store_paused",
      "1 while the worker is paused on a store fault (full, below --min-free-space, read-only, " +
        "I/O error, permission): no jobs are taken until its probe of the store passes.",
    ),
  );
  client.collectDefaultMetrics({ register: registry, prefix });
  return {
    jobSettled(settled, info) {
      jobs.inc({ outcome: settled.outcome });
      if (settled.outcome === "unacked" || settled.outcome === "requeued") return;
      seconds.observe({ outcome: settled.outcome }, info.seconds);
      if (settled.outcome === "downloaded" && info.bytes !== undefined) bytes.inc(info.bytes);
      if (settled.outcome === "retry") retries.inc();
      if (settled.outcome === "dead_lettered") {
        deadLettered.inc({ kind: settled.kind ?? "unknown" });
      }
    },
    inFlight(delta) {
      inFlight.inc(delta);
    },
    connected(up) {
      connected.set(up ? 1 : 0);
    },
    blocked(on) {
      blocked.set(on ? 1 : 0);
    },
    storePaused(on) {
      storePaused.set(on ? 1 : 0);
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/**
 * Serves `/metrics` and `/healthz`: 200 `ok: consuming` when healthy, else
 * 503 with the reason (`unhealthy: blocked by the broker: ...`).
 *
 * @param port The TCP port (0 picks a free one).
 * @param context The metrics and the health probe.
 * @returns The server; `shutdown()` it when done.
 * @throws {TelemetryError} kind `fatal`, code `io`, when another process holds the port.
 *
 * @example
 * ```ts ignore
 * import { createMetrics, serveMetrics } from "./metrics.ts";
 * const server = serveMetrics(9092, {
 *   metrics: await createMetrics(),
 *   health: () => ({ ok: true, detail: "consuming" }),
 * });
 * await server.shutdown();
 * ```
 */
export function serveMetrics(
  port: number,
  context: { metrics: Metrics; health: () => { ok: boolean; detail: string } },
): Deno.HttpServer<Deno.NetAddr> {
  const { metrics, health } = context;
  try {
    return Deno.serve({ port, onListen() {} }, handler);
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    throw new TelemetryError(
      "fatal",
      "io",
      `metrics port ${port} is already in use (--metrics-port): ` +
        "stop the other process or pick another port",
      { cause: err },
    );
  }

  async function handler(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      return new Response(await metrics.render(), {
        headers: { "content-type": metrics.contentType },
      });
    }
    if (path === "/healthz") {
      const { ok, detail } = health();
      return new Response(`${ok ? "ok" : "unhealthy"}: ${detail}\n`, { status: ok ? 200 : 503 });
    }
    return new Response("not found\n", { status: 404 });
  }
}
