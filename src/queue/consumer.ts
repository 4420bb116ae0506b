/**
 * The consume loop: (re)connect with capped exponential backoff, take
 * deliveries, run up to `concurrency` downloads at once, settle each one,
 * and shut down gracefully.
 *
 * @module
 */

import type { AMQPMessage } from "amqp-client";
import type { Logger } from "../core/log.ts";
import { downloadTelemetry } from "../core/download.ts";
import { ValidationThread } from "../core/content/validation_thread.ts";
import { errorLine } from "../core/errors.ts";
import { realSleep, type Sleep } from "../core/http/retry.ts";
import { redactUrl } from "../core/http/url_policy.ts";
import { type Backoff, createBackoff } from "./backoff.ts";
import type { ConsumeConfig } from "./config.ts";
import { KeyedLock, Semaphore } from "./limiter.ts";
import { failureOf, type Job, parseJob } from "./messages.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { isConfigurationError, openSession, type Session } from "./session.ts";
import { type JobOutcome, settle, type Settlement } from "./settle.ts";

const HEALTHY_SESSION_MS = 30_000;

/** Options of {@linkcode Consumer}. */
export interface ConsumerOptions {
  /** Where job and broker lines go. */
  log: Logger;
  /** Counters and gauges. @default {none} */
  metrics?: WorkerMetrics;
  /** The download; tests may wrap it. @default {downloadTelemetry} */
  download?: typeof downloadTelemetry;
  /** Reconnect delays. @default {createBackoff()} */
  backoff?: Backoff;
  /** Waits between connection attempts. @default {realSleep} */
  sleep?: Sleep;
  /** The wall clock. @default {() => new Date()} */
  now?: () => Date;
  /** How long one connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /**
   * Where downloads validate their JSON; the consumer closes it when it
   * stops. `null` validates inline, on the main thread.
   * @default {a ValidationThread when there is a second core, else inline}
   */
  validation?: ValidationThread | null;
}

/** Thrown by {@linkcode Consumer.run} when the broker refuses the configuration on the first connect. */
export class BrokerConfigError extends Error {
  /**
   * @param message One line naming the problem.
   * @param options The broker's error.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BrokerConfigError";
  }
}

/** The RabbitMQ worker; one {@linkcode Consumer.run} per process. */
export class Consumer {
  #config: ConsumeConfig;
  #log: Logger;
  #metrics: WorkerMetrics | undefined;
  #download: typeof downloadTelemetry;
  #backoff: Backoff;
  #sleep: Sleep;
  #now: () => Date;
  #slots: Semaphore;
  #matches = new KeyedLock();
  #jobs = new Set<Promise<void>>();
  #stop = new AbortController();
  #abortJobs = new AbortController();
  #session: Session | undefined;
  #validators: ValidationThread | undefined;
  #connectTimeoutMs: number | undefined;

  /**
   * @param config The resolved configuration.
   * @param options Logger, metrics and injected download, backoff, sleep and clock.
   */
  constructor(config: ConsumeConfig, options: ConsumerOptions) {
    this.#config = config;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#download = options.download ?? downloadTelemetry;
    this.#backoff = options.backoff ?? createBackoff();
    this.#sleep = options.sleep ?? realSleep;
    this.#now = options.now ?? (() => new Date());
    this.#slots = new Semaphore(config.concurrency);
    // Validation runs on the second core, where there is one: the main thread
    // is the bottleneck of a busy worker (it receives, decompresses, writes,
    // and talks to the broker for every job).
    const validation = options.validation === undefined
      ? (navigator.hardwareConcurrency > 1 ? new ValidationThread() : null)
      : options.validation;
    this.#validators = validation ?? undefined;
    this.#connectTimeoutMs = options.connectTimeoutMs;
  }

  /** Whether the worker is connected and consuming (for `/healthz`). */
  get healthy(): boolean {
    return this.#session?.alive === true && !this.#stop.signal.aborted;
  }

  /** Jobs currently running. */
  get inFlight(): number {
    return this.#jobs.size;
  }

  /**
   * Consumes until {@linkcode Consumer.stop}, then drains: in-flight jobs get
   * `shutdownTimeoutMs` to finish, the rest are aborted (and left unacked).
   *
   * @returns When the worker has stopped and closed its connection.
   * @throws {BrokerConfigError} When the first connect fails for a reason reconnecting cannot fix.
   */
  async run(): Promise<void> {
    const stop = this.#stop.signal;
    let connectedOnce = false;
    while (!stop.aborted) {
      let session: Session;
      try {
        session = await openSession(this.#config.amqpUrl, {
          names: this.#config.names,
          prefetch: this.#config.concurrency,
          onMessage: (message, from) => this.#onMessage(message, from),
          signal: stop,
          ...(this.#connectTimeoutMs === undefined
            ? {}
            : { connectTimeoutMs: this.#connectTimeoutMs }),
        });
      } catch (err) {
        if (!connectedOnce && isConfigurationError(err)) {
          throw new BrokerConfigError(
            `broker ${this.#config.redactedUrl} refused the configuration: ${errorLine(err)}`,
            { cause: err },
          );
        }
        await this.#pause("broker_unreachable", errorLine(err));
        continue;
      }
      connectedOnce = true;
      const connectedAt = performance.now();
      this.#session = session;
      this.#metrics?.connected(true);
      this.#log.info("broker_connected", {
        url: this.#config.redactedUrl,
        queue: this.#config.names.queue,
        prefetch: this.#config.concurrency,
      });
      const ended = await Promise.race([
        session.lost,
        new Promise<undefined>((resolve) =>
          stop.addEventListener("abort", () => resolve(undefined), { once: true })
        ),
      ]);
      if (ended !== undefined) {
        this.#metrics?.connected(false);
        // A session that lasted was healthy: start the backoff over.
        if (performance.now() - connectedAt > HEALTHY_SESSION_MS) this.#backoff.reset();
        await this.#pause("broker_connection_lost", ended);
      }
    }
    await this.#drain();
  }

  /** Starts a graceful shutdown: no new work; {@linkcode Consumer.run} drains and returns. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#log.info("shutdown_started", {
      in_flight: this.#jobs.size,
      timeout_s: this.#config.shutdownTimeoutMs / 1000,
    });
    this.#stop.abort();
    this.#session?.cancel();
  }

  /** Aborts every running download now (a second signal); their messages stay unacked. */
  abortNow(): void {
    this.stop();
    this.#abortJobs.abort();
  }

  async #pause(event: string, error: string): Promise<void> {
    const delayMs = this.#backoff.next();
    this.#log.warn(event, {
      url: this.#config.redactedUrl,
      error,
      retry_in_s: delayMs / 1000,
    });
    await this.#sleep(delayMs, this.#stop.signal).catch(() => {});
  }

  async #drain(): Promise<void> {
    const deadline = this.#sleep(this.#config.shutdownTimeoutMs, this.#abortJobs.signal)
      .catch(() => {});
    await Promise.race([Promise.all(this.#jobs), deadline]);
    if (this.#jobs.size > 0) {
      this.#log.warn("shutdown_aborting", { in_flight: this.#jobs.size });
      this.#abortJobs.abort();
      await Promise.all(this.#jobs);
    }
    this.#abortJobs.abort(); // also ends the deadline timer
    this.#validators?.close();
    await this.#session?.close();
    this.#metrics?.connected(false);
    this.#log.info("shutdown_done", {});
  }

  #onMessage(message: AMQPMessage, session: Session): void {
    if (this.#stop.signal.aborted) return; // left unacked: requeued when the channel closes
    const job = this.#runJob(message, session).finally(() => this.#jobs.delete(job));
    this.#jobs.add(job);
  }

  async #runJob(message: AMQPMessage, session: Session): Promise<void> {
    const started = performance.now();
    let job: Job | undefined;
    let outcome: JobOutcome | undefined;
    try {
      job = parseJob(message.body);
    } catch (err) {
      outcome = { type: "failed", job, failure: failureOf(err) };
    }
    // A redelivery is counted before anything else, so that a job that kills
    // the worker cannot come back forever (see settle()).
    if (outcome === undefined && message.redelivered) outcome = { type: "redelivered", job };
    const run = async () => {
      const result = outcome ?? await this.#fetch(job as Job, session);
      const settled = await settle(message, {
        outcome: result,
        session,
        config: this.#config,
        now: this.#now,
      });
      if (settled.outcome !== "unacked") this.#backoff.reset();
      const seconds = Math.round(performance.now() - started) / 1000;
      const bytes = result.type === "stored" ? result.result.bytes : undefined;
      this.#metrics?.jobSettled(settled, { bytes, seconds });
      this.#log.log(logLevelOf(settled), "job", {
        match_id: job?.matchId,
        outcome: settled.outcome,
        bytes,
        seconds,
        attempt: settled.attempt,
        kind: settled.kind,
        error: settled.error,
        url: job === undefined ? undefined : redactUrl(job.url),
      });
    };
    try {
      await (job === undefined ? run() : this.#matches.run(job.matchId, run));
    } catch (err) {
      // A bug, not a job failure. The message must not sit unacked on a live
      // channel (holding a prefetch slot until the broker's consumer
      // timeout): end the session so the broker redelivers it now.
      this.#log.error("job_internal_error", { match_id: job?.matchId, error: errorLine(err) });
      session.fail(`internal error on a job: ${errorLine(err)}`);
    }
  }

  async #fetch(job: Job, session: Session): Promise<JobOutcome> {
    await this.#slots.acquire();
    try {
      // Taken from a session that is gone or a worker that is stopping: leave it for redelivery.
      if (this.#stop.signal.aborted || !session.alive) return { type: "aborted", job };
      this.#metrics?.inFlight(1);
      try {
        const validators = this.#validators;
        const result = await this.#download(job.url, {
          ...this.#config.download,
          matchId: job.matchId,
          signal: this.#abortJobs.signal,
          ...(validators === undefined ? {} : { openValidation: () => validators.open() }),
        });
        return { type: "stored", job, result };
      } catch (err) {
        if (this.#abortJobs.signal.aborted) return { type: "aborted", job };
        return { type: "failed", job, failure: failureOf(err) };
      } finally {
        this.#metrics?.inFlight(-1);
      }
    } finally {
      this.#slots.release();
    }
  }
}

/** Dead letters are errors; retries, recounts and unacked jobs are warnings. */
function logLevelOf(settled: Settlement): "info" | "warn" | "error" {
  if (settled.outcome === "dead_lettered") return "error";
  if (settled.outcome === "downloaded" || settled.outcome === "already_exists") return "info";
  return "warn";
}
