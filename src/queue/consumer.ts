/**
 * The consume loop: (re)connect with capped exponential backoff, take
 * deliveries, run up to `concurrency` downloads at once, settle each one,
 * and shut down gracefully.
 *
 * A store fault (the data dir's file system is full or below
 * `--min-free-space`, read-only, failing, or refuses a write) pauses the
 * worker instead of failing the job (`store_gate.ts`): it cancels its
 * consumer, gives the job and every job it had not started back to their
 * queue (`nack` with requeue: their place and their delivery count kept),
 * and consumes again when a probe of the store passes. Jobs already
 * downloading finish (or fail into the same pause).
 *
 * @module
 */

import type { AMQPMessage } from "amqp-client";
import type { Logger } from "../core/log.ts";
import { downloadTelemetry } from "../core/download.ts";
import { ValidationThread } from "../core/content/validation_thread.ts";
import { errorLine, isKind, NamedError, TelemetryError } from "../core/errors.ts";
import { isValidMatchId } from "../core/store/match_id.ts";
import { matchDir } from "../core/store/storage.ts";
import type { FreeSpace, FreeSpaceFloor } from "../core/store/free_space.ts";
import { asStoreFault, type StoreFaultError, storeFaultOf } from "../core/store/store_fault.ts";
import type { StoreProbe } from "../core/store/store_probe.ts";
import {
  clearStarts,
  countStarts,
  endStart,
  markStart,
  type StartMark,
} from "../core/store/start_marks.ts";
import { realSleep, type Sleep } from "../core/http/retry.ts";
import { redactUrl } from "../core/http/url_policy.ts";
import { type Backoff, createBackoff } from "../core/backoff.ts";
import type { ConsumeConfig } from "./config.ts";
import { KeyedLock, Semaphore } from "./limiter.ts";
import { failureOf, type Job, parseJob, previousAttempts } from "./messages.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { BrokerConnectError, BrokerError, isConfigurationError, NodeCursor } from "./broker.ts";
import { redactSecrets } from "./broker_settings.ts";
import { openSession, type Session } from "./session.ts";
import { brokerReturns, type JobOutcome, settle, type Settlement } from "./settle.ts";
import { StoreGate } from "./store_gate.ts";

const HEALTHY_SESSION_MS = 30_000;

/**
 * Of the shutdown budget's 5 s beyond `--shutdown-timeout`: how long aborted
 * jobs get to delete their temp files, then how long the close may take.
 */
const ABORT_GRACE_MS = 1_500;
const CLOSE_BUDGET_MS = 2_000;

/** What `/healthz` reports. */
export interface Health {
  /** Connected, consuming, and able to publish. */
  ok: boolean;
  /** One line: `consuming`, `blocked by the broker: <reason>`, `not connected`, `stopping`. */
  detail: string;
}

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
  /** How often a worker paused on a store fault probes the store. @default {STORE_PROBE_INTERVAL_MS} */
  storeProbeIntervalMs?: number;
  /** The probe of the store. @default {probeStore} */
  probeStore?: (dataDir: string, options: { floor: FreeSpaceFloor }) => Promise<StoreProbe>;
  /** Reads the store's free space (the check before each job). @default {freeSpace} */
  freeSpace?: (path: string) => Promise<FreeSpace>;
}

/** Thrown by {@linkcode Consumer.run} when the broker refuses the configuration on the first connect. */
export class BrokerConfigError extends NamedError {}

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
  /** Which broker node the next connect tries first: after a loss, the others before the same one. */
  #cursor = new NodeCursor();
  #validators: ValidationThread | undefined;
  #connectTimeoutMs: number | undefined;
  #stoppedAt: number | undefined;
  #fatal: TelemetryError | undefined;
  #unackedSinceStop = 0;
  #store: StoreGate;

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
    this.#store = new StoreGate({
      dataDir: config.download.dataDir,
      floor: config.download.minFreeSpace,
      log: this.#log,
      metrics: this.#metrics,
      signal: this.#stop.signal,
      onPause: () => void this.#session?.pause(),
      onResume: () => this.#resume(),
      probeIntervalMs: options.storeProbeIntervalMs,
      probeStore: options.probeStore,
      freeSpace: options.freeSpace,
    });
  }

  /** Whether the worker is paused on a store fault. */
  get storePaused(): boolean {
    return this.#store.paused !== undefined;
  }

  /** Whether the worker is connected, consuming and able to publish. */
  get healthy(): boolean {
    return this.health.ok;
  }

  /** The worker's state for `/healthz`. */
  get health(): Health {
    if (this.#stop.signal.aborted) return { ok: false, detail: "stopping" };
    const paused = this.#store.paused;
    if (paused !== undefined) return { ok: false, detail: `store paused: ${errorLine(paused)}` };
    const session = this.#session;
    if (session?.alive !== true) return { ok: false, detail: "not connected to the broker" };
    const blocked = session.flow.blocked;
    if (blocked !== undefined) {
      return {
        ok: false,
        detail: `blocked by the broker: ${blocked} (no new jobs until it lifts)`,
      };
    }
    return { ok: true, detail: "consuming" };
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
   * @throws {TelemetryError} Of kind `fatal`, after draining, when a job
   * failed for a reason of the worker itself (a missing permission, an
   * untrusted certificate): that job and the ones after it stay queued.
   */
  async run(): Promise<void> {
    const stop = this.#stop.signal;
    const stopped = new Promise<undefined>((resolve) => {
      if (stop.aborted) resolve(undefined);
      else stop.addEventListener("abort", () => resolve(undefined), { once: true });
    });
    let connectedOnce = false;
    while (!stop.aborted) {
      let session: Session | undefined;
      const opening = openSession(this.#config, {
        names: this.#config.names,
        prefetch: this.#config.concurrency,
        confirmTimeoutMs: this.#config.confirmTimeoutMs,
        onMessage: (message, from) => this.#onMessage(message, from),
        onBlocked: (reason) => this.#onBlocked(reason),
        signal: stop,
        cursor: this.#cursor,
        ...(this.#connectTimeoutMs === undefined
          ? {}
          : { connectTimeoutMs: this.#connectTimeoutMs }),
      });
      try {
        session = await Promise.race([opening, stopped]);
      } catch (err) {
        const { url, reason } = this.#failureOf(err);
        // Connected, then the session could not start: the next node first.
        this.#cursor.lost();
        const refused = err instanceof BrokerError
          ? err.kind === "refused"
          : isConfigurationError(err);
        if (!connectedOnce && refused) {
          // A connect to several nodes: the reason names each one already.
          const several = err instanceof BrokerConnectError && err.failures.length > 1;
          const who = several ? "the broker" : `broker ${url}`;
          throw new BrokerConfigError(`${who} refused the configuration: ${reason}`, {
            cause: err,
          });
        }
        // The log line names the URL already: the reason alone.
        await this.#pause("broker_unreachable", url, reason || "connection failed");
        continue;
      }
      if (session === undefined) {
        // Stopped while the session was still opening (a broker that accepts
        // the connection and then stalls): close it whenever it comes.
        opening.then((late) => late.close({ budgetMs: CLOSE_BUDGET_MS }), () => {});
        break;
      }
      connectedOnce = true;
      const connectedAt = performance.now();
      this.#session = session;
      // Paused on the store: a new session takes no jobs until the probe passes.
      if (this.#store.paused !== undefined) void session.pause();
      this.#metrics?.connected(true);
      for (const skipped of session.skipped) {
        this.#log.warn("broker_node_unavailable", {
          url: skipped.node,
          kind: skipped.kind,
          error: skipped.reason,
          action: `connected to ${session.node} instead`,
        });
      }
      this.#log.info("broker_connected", {
        url: session.node,
        queue: this.#config.names.queue,
        prefetch: this.#config.concurrency,
      });
      const ended = await Promise.race([session.lost, stopped]);
      if (ended !== undefined) {
        this.#metrics?.connected(false);
        this.#metrics?.blocked(false);
        // A session that lasted was healthy: start the backoff over.
        if (performance.now() - connectedAt > HEALTHY_SESSION_MS) this.#backoff.reset();
        // The next connect tries the other nodes before this one again.
        this.#cursor.lost();
        await this.#pause("broker_connection_lost", session.node, ended);
      }
    }
    await this.#drain();
    if (this.#fatal !== undefined) throw this.#fatal;
  }

  /** Starts a graceful shutdown: no new work; {@linkcode Consumer.run} drains and returns. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stoppedAt = performance.now();
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

  /**
   * The node(s) and the reason of a connect or session start that failed,
   * for a log line, every password masked.
   */
  #failureOf(err: unknown): { url: string; reason: string } {
    const urls = this.#config.urls;
    if (err instanceof BrokerConnectError) {
      return { url: err.failures.map((f) => f.node).join(","), reason: err.reason };
    }
    // Connected, then refused (a declaration): the node reached.
    const current = this.#cursor.current;
    const node = current === undefined ? undefined : urls[current % urls.length];
    return {
      url: node?.redacted ?? urls.map((u) => u.redacted).join(","),
      reason: redactSecrets(errorLine(err), urls),
    };
  }

  async #pause(event: string, url: string, error: string): Promise<void> {
    const delayMs = this.#backoff.next();
    this.#log.warn(event, {
      url,
      error,
      retry_in_s: delayMs / 1000,
    });
    await this.#sleep(delayMs, this.#stop.signal).catch(() => {});
  }

  /**
   * The shutdown budget: in-flight jobs get what is left of
   * `--shutdown-timeout` since the stop; then the rest are aborted (left
   * unacked, so the broker redelivers them) and get {@linkcode ABORT_GRACE_MS}
   * to delete their temp files; then the session gets
   * {@linkcode CLOSE_BUDGET_MS} to close. A publish still waiting (on a
   * confirm, or on a broker that blocks publishing) is given up with its
   * job: nothing is acked that was not published.
   */
  async #drain(): Promise<void> {
    const elapsed = performance.now() - (this.#stoppedAt ?? performance.now());
    const jobsMs = Math.max(0, this.#config.shutdownTimeoutMs - elapsed);
    const finished = Promise.all(this.#jobs);
    await Promise.race([finished, this.#sleep(jobsMs, this.#abortJobs.signal).catch(() => {})]);
    if (this.#jobs.size > 0) {
      this.#log.warn("shutdown_aborting", { in_flight: this.#jobs.size });
      this.#abortJobs.abort();
      const grace = new AbortController();
      await Promise.race([
        Promise.all(this.#jobs),
        realSleep(ABORT_GRACE_MS, grace.signal).catch(() => {}),
      ]);
      grace.abort();
    }
    this.#abortJobs.abort(); // also ends the deadline timer
    this.#validators?.close();
    await this.#session?.close({ budgetMs: CLOSE_BUDGET_MS });
    this.#metrics?.connected(false);
    // Jobs that ended unacked during the stop, and any still running.
    this.#log.info("shutdown_done", { left_unacked: this.#unackedSinceStop + this.#jobs.size });
  }

  /**
   * A job failed for a reason of the worker, not of the job: stop taking
   * jobs (the first such error is what {@linkcode Consumer.run} throws), and
   * leave this one unacked for a worker that can do it.
   */
  #stopFatal(err: unknown): string {
    const line = errorLine(err);
    if (this.#fatal === undefined) {
      this.#fatal = err as TelemetryError;
      this.#log.error("worker_fatal", {
        error: line,
        action: "stopping; the job stays in the queue, untouched",
      });
      this.stop();
    }
    return `not started: the worker is stopping: ${line}`;
  }

  #onBlocked(reason: string | undefined): void {
    this.#metrics?.blocked(reason !== undefined);
    if (reason !== undefined) {
      this.#log.warn("broker_blocked", {
        reason,
        action: "no new jobs until the broker lifts the alarm; finished jobs wait to be announced",
      });
    } else {
      this.#log.info("broker_unblocked", {});
    }
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
    // The broker's redelivered flag is not read: a broker crash or a failover
    // sets it on a whole backlog that nobody started. Starts are counted
    // instead, through the start marks in the store (see #start()).
    const previous = previousAttempts(message.properties.headers);
    // A quorum queue counts the returns of each message (x-delivery-count):
    // every start that never finished was one (its worker died, the channel
    // closed), so no more starts than returns count. Marks left by another
    // message of the same match (a duplicate job, one purged and queued
    // again) then cost this one nothing; a return alone (a node loss, a
    // stop) counts nothing either, since it left no mark.
    const returns = this.#config.queueType === "quorum"
      ? brokerReturns(message.properties.headers)
      : Infinity;
    const run = async () => {
      const begun = outcome === undefined
        ? await this.#start(job as Job, { previous, returns }, session)
        : {
          outcome,
          attempt: previous + 1,
        };
      const settled = await settle(message, {
        outcome: begun.outcome,
        attempt: begun.attempt,
        session,
        config: this.#config,
        now: this.#now,
        signal: this.#abortJobs.signal,
      });
      await this.#endStart(begun, settled);
      const result = begun.outcome;
      if (settled.outcome !== "unacked") this.#backoff.reset();
      else if (this.#stop.signal.aborted) this.#unackedSinceStop++;
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

  /** Resolves when `session` is not blocked, has ended, or the worker stops. */
  async #untilUnblocked(session: Session): Promise<void> {
    if (session.flow.blocked === undefined) return;
    const stop = AbortSignal.any([this.#stop.signal, session.signal]);
    let unwatch: () => void = () => {};
    await new Promise<void>((resolve) => {
      unwatch = session.flow.watch((blocked) => {
        if (blocked === undefined) resolve();
      });
      if (stop.aborted) resolve();
      else stop.addEventListener("abort", () => resolve(), { once: true });
    });
    unwatch();
  }

  /**
   * Starts a job, in a download slot: counts its earlier starts that never
   * finished (their workers died), dead-letters it when they reach
   * `--max-deliveries`, else records this start (a mark in the store,
   * fsynced) and downloads.
   */
  async #start(
    job: Job,
    counts: { previous: number; returns: number },
    session: Session,
  ): Promise<StartedJob> {
    const { previous, returns } = counts;
    await this.#slots.acquire();
    try {
      // While the broker blocks publishing, start no new download: its
      // announcement could not be published, and the alarm may be long.
      await this.#untilUnblocked(session);
      // Taken from a session that is gone or a worker that is stopping: leave it for redelivery.
      if (this.#stop.signal.aborted || !session.alive) {
        return { outcome: { type: "aborted", job }, attempt: previous + 1 };
      }
      // A bad match id names no directory: the download refuses it (usage), no start to record.
      if (!isValidMatchId(job.matchId)) {
        return { outcome: await this.#fetch(job), attempt: previous + 1 };
      }
      const dataDir = this.#config.download.dataDir;
      // Paused on the store, or the store below the floor: the job goes back, uncounted.
      const paused = await this.#store.check();
      if (paused !== undefined) {
        return { outcome: this.#storeFault(job, paused), attempt: previous + 1 };
      }
      let mark: StartMark;
      try {
        const starts = Math.min(await countStarts(dataDir, job.matchId), returns);
        if (starts > 0 && previous + starts >= this.#config.maxDeliveries) {
          return { outcome: { type: "crashed", job, starts }, attempt: previous + starts };
        }
        mark = await markStart(dataDir, job.matchId, {
          worker: this.#config.workerId,
          startedAt: this.#now().toISOString(),
        });
        const attempt = previous + starts + 1;
        return { outcome: await this.#fetch(job), attempt, mark };
      } catch (err) {
        const fault = await asStoreFault(err, {
          op: "create",
          path: matchDir(dataDir, job.matchId),
          dataDir,
          freeSpace: this.#store.freeSpace,
        });
        if (fault !== undefined) {
          return { outcome: await this.#storeFaultOfJob(job, fault), attempt: previous + 1 };
        }
        const failure = failureOf(storeError(err, job.matchId));
        return { outcome: { type: "failed", job, failure }, attempt: previous + 1 };
      }
    } finally {
      this.#slots.release();
    }
  }

  /**
   * Ends this worker's start mark once the delivery is settled: acked, every
   * mark of the match goes (the count now travels in the message, or the job
   * is done); given back unacked on purpose (a stop, a lost connection, a
   * fatal error), only this start goes: it does not count against the job.
   * A job dead-lettered for its unfinished starts has no mark of its own:
   * the marks of the dead workers go.
   */
  async #endStart(begun: StartedJob, settled: Settlement): Promise<void> {
    const acked = settled.outcome !== "unacked" && settled.outcome !== "requeued";
    const { outcome, mark } = begun;
    try {
      if (mark !== undefined) await endStart(mark, { settled: acked });
      else if (outcome.type === "crashed" && acked) {
        await clearStarts(this.#config.download.dataDir, outcome.job.matchId);
      }
    } catch (err) {
      this.#log.warn("start_marks_left", { match_id: outcome.job?.matchId, error: errorLine(err) });
    }
  }

  /**
   * A store fault met by a job (its start mark or its download): the worker
   * pauses and the job goes back uncounted; unless the fault is the
   * match's own (see {@linkcode StoreGate.confined}): then the job fails as
   * a transient `io` failure, counted like any other.
   */
  async #storeFaultOfJob(job: Job, fault: StoreFaultError): Promise<JobOutcome> {
    if (await this.#store.confined(job.matchId)) {
      const message = `${errorLine(fault)} (again after the store probe passed: ` +
        `a fault of this match's files, not of the store)`;
      return { type: "failed", job, failure: { kind: "transient", code: "io", message } };
    }
    return this.#storeFault(job, fault);
  }

  /** Pauses the worker on a store fault (once), and gives this job back uncounted. */
  #storeFault(job: Job, error: StoreFaultError): JobOutcome {
    this.#store.pause(error, job.matchId);
    return { type: "failed", job, failure: failureOf(error) };
  }

  /** Consumes again after a store pause; a session that cannot is ended, and a new one will. */
  async #resume(): Promise<void> {
    const session = this.#session;
    await session?.resume().catch((err) => {
      session.fail(`cannot consume again after the store pause: ${errorLine(err)}`);
    });
  }

  /** The download itself; a fatal error stops the worker and gives the job back. */
  async #fetch(job: Job): Promise<JobOutcome> {
    this.#metrics?.inFlight(1);
    try {
      const validators = this.#validators;
      const result = await this.#download(job.url, {
        ...this.#config.download,
        matchId: job.matchId,
        signal: this.#abortJobs.signal,
        ...(validators === undefined ? {} : { openValidation: () => validators.open() }),
      });
      this.#store.stored(job.matchId);
      return { type: "stored", job, result };
    } catch (err) {
      const fault = storeFaultOf(err);
      if (fault !== undefined) return await this.#storeFaultOfJob(job, fault);
      if (isKind(err, "fatal")) return { type: "aborted", job, reason: this.#stopFatal(err) };
      if (this.#abortJobs.signal.aborted) return { type: "aborted", job };
      return { type: "failed", job, failure: failureOf(err) };
    } finally {
      this.#metrics?.inFlight(-1);
    }
  }
}

/** A job as started: its outcome, its delivery number, and this start's mark. */
interface StartedJob {
  /** What the job came to. */
  outcome: JobOutcome;
  /** The delivery number: earlier deliveries (`x-attempts`) plus unfinished starts, plus 1. */
  attempt: number;
  /** This start's mark, when one was recorded. */
  mark?: StartMark;
}

/** A store error while recording a start: a transient `io` failure of the job. */
function storeError(err: unknown, matchId: string): TelemetryError {
  if (err instanceof TelemetryError) return err;
  return new TelemetryError(
    "transient",
    "io",
    `cannot record the start of ${matchId} in the store: ${errorLine(err)}`,
    { cause: err },
  );
}

/** Dead letters are errors; retries and unacked jobs are warnings. */
function logLevelOf(settled: Settlement): "info" | "warn" | "error" {
  if (settled.outcome === "dead_lettered") return "error";
  if (settled.outcome === "downloaded" || settled.outcome === "already_exists") return "info";
  return "warn";
}
