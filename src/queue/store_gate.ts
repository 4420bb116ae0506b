/**
 * The worker's gate on the store: whether a job may start, the pause on a
 * store fault (the data dir's file system is full or below
 * `--min-free-space`, read-only, failing, or refuses a write) and the probe
 * that ends it. The consumer asks {@linkcode StoreGate.check} before each
 * job and hands every store fault to {@linkcode StoreGate.pause}; the gate
 * logs `store_paused`/`store_resumed`, sets the gauge, and calls back to
 * stop and restart consuming.
 *
 * @module
 */

import { errorLine } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { realSleep } from "../core/http/retry.ts";
import {
  DEFAULT_FREE_SPACE_FLOOR,
  type FreeSpace,
  freeSpace,
  type FreeSpaceFloor,
} from "../core/store/free_space.ts";
import { floorFault, type StoreFaultError } from "../core/store/store_fault.ts";
import { probeStore, type StoreProbe } from "../core/store/store_probe.ts";
import type { WorkerMetrics } from "./metrics.ts";

/** How often a worker paused on a store fault probes the store. */
export const STORE_PROBE_INTERVAL_MS = 5_000;

/** Options of {@linkcode StoreGate}. */
export interface StoreGateOptions {
  /** The data dir. */
  dataDir: string;
  /** `--min-free-space`. @default {DEFAULT_FREE_SPACE_FLOOR} */
  floor?: FreeSpaceFloor | undefined;
  /** Where `store_paused`, `store_resumed` and probe failures go. */
  log: Logger;
  /** The `telemetry_consume_store_paused` gauge. @default {none} */
  metrics?: WorkerMetrics | undefined;
  /** The worker's stop: no probe after it. */
  signal: AbortSignal;
  /** Stops consuming (the pause began). */
  onPause: () => void;
  /** Consumes again (the probe passed). */
  onResume: () => Promise<void>;
  /** How often a paused gate probes. @default {STORE_PROBE_INTERVAL_MS} */
  probeIntervalMs?: number | undefined;
  /** The probe of the store. @default {probeStore} */
  probeStore?:
    | ((dataDir: string, options: { floor: FreeSpaceFloor }) => Promise<StoreProbe>)
    | undefined;
  /** Reads the store's free space. @default {freeSpace} */
  freeSpace?: ((path: string) => Promise<FreeSpace>) | undefined;
}

/** A pause on a store fault. */
interface Pause {
  /** The fault that started it. */
  error: StoreFaultError;
  /** When it started (`performance.now()`). */
  since: number;
}

/**
 * Whether jobs may start, given the store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreGate } from "./store_gate.ts";
 * const log = { info() {}, warn() {}, error() {}, log() {} };
 * const gate = new StoreGate({
 *   dataDir: "/data",
 *   floor: { type: "off" },
 *   log,
 *   signal: AbortSignal.abort(),
 *   onPause: () => {},
 *   onResume: () => Promise.resolve(),
 * });
 * assert.equal(await gate.check(), undefined);
 * ```
 */
export class StoreGate {
  readonly #options: StoreGateOptions;
  readonly #floor: FreeSpaceFloor;
  readonly #probeIntervalMs: number;
  readonly #probe: NonNullable<StoreGateOptions["probeStore"]>;
  readonly #freeSpace: NonNullable<StoreGateOptions["freeSpace"]>;
  #pause: Pause | undefined;
  /**
   * The match whose store fault started the last pause, until a job of it
   * is stored: the same fault again right after the resume is that match's
   * own (see {@linkcode StoreGate.confined}).
   */
  #lastPauseMatch: string | undefined;

  /** @param options The store, the floor, logging, and the callbacks. */
  constructor(options: StoreGateOptions) {
    this.#options = options;
    this.#floor = options.floor ?? DEFAULT_FREE_SPACE_FLOOR;
    this.#probeIntervalMs = options.probeIntervalMs ?? STORE_PROBE_INTERVAL_MS;
    this.#probe = options.probeStore ?? probeStore;
    this.#freeSpace = options.freeSpace ?? freeSpace;
  }

  /** The fault the worker is paused on, if it is. */
  get paused(): StoreFaultError | undefined {
    return this.#pause?.error;
  }

  /** Reads the store's free space (for classifying a fault). */
  get freeSpace(): (path: string) => Promise<FreeSpace> {
    return this.#freeSpace;
  }

  /**
   * Whether a job may start: the fault of the pause, or of a free space
   * below the floor; undefined when it may.
   *
   * @returns The fault that keeps the job from starting, if any.
   */
  async check(): Promise<StoreFaultError | undefined> {
    if (this.#pause !== undefined) return this.#pause.error;
    return await floorFault(this.#options.dataDir, {
      floor: this.#floor,
      freeSpace: this.#freeSpace,
    });
  }

  /**
   * Whether a store fault met by a job of `matchId` is that match's own:
   * the same match started the last pause, no job of it was stored since,
   * the worker is not paused, and a probe of the store passes. It is then
   * confined to that match's files (a match directory owned by another
   * user, an I/O error on one file): the job should fail as a transient
   * failure, counted, so that it cannot pause the worker over and over.
   *
   * @param matchId The job's match.
   * @returns Whether the fault is the match's, not the store's.
   */
  async confined(matchId: string): Promise<boolean> {
    if (this.#pause !== undefined || this.#lastPauseMatch !== matchId) return false;
    const probe = await this.#probe(this.#options.dataDir, { floor: this.#floor });
    if (!probe.ok) return false;
    this.#lastPauseMatch = undefined;
    return true;
  }

  /**
   * A job of `matchId` was stored: a fault of it later starts afresh.
   *
   * @param matchId The job's match.
   */
  stored(matchId: string): void {
    if (this.#lastPauseMatch === matchId) this.#lastPauseMatch = undefined;
  }

  /**
   * Pauses on a store fault (once): stop consuming, set the gauge, log
   * `store_paused`, and probe the store until it passes. Jobs downloading
   * now go on.
   *
   * @param error The fault.
   * @param matchId The match of the job that met it, if a job did.
   */
  pause(error: StoreFaultError, matchId: string | undefined): void {
    const { log, metrics, signal, onPause } = this.#options;
    if (this.#pause !== undefined || signal.aborted) return;
    this.#pause = { error, since: performance.now() };
    this.#lastPauseMatch = matchId;
    onPause();
    metrics?.storePaused(true);
    const { fault, space } = error;
    log.warn("store_paused", {
      reason: fault.reason,
      code: error.code,
      errno: fault.errno,
      error: errorLine(error),
      data_dir: fault.dataDir,
      free_bytes: space?.free,
      total_bytes: space?.total,
      match_id: matchId,
      action: `taking no new jobs; they stay in the queue; probing the store every ${
        this.#probeIntervalMs / 1000
      } s`,
    });
    void this.#probeUntilUsable();
  }

  /** Probes the store every few seconds; resumes when a probe passes. */
  async #probeUntilUsable(): Promise<void> {
    const { dataDir, log, metrics, signal, onResume } = this.#options;
    while (this.#pause !== undefined && !signal.aborted) {
      await realSleep(this.#probeIntervalMs, signal).catch(() => {});
      if (signal.aborted) return;
      let probe: StoreProbe;
      try {
        probe = await this.#probe(dataDir, { floor: this.#floor });
      } catch (err) {
        log.warn("store_probe_failed", { error: errorLine(err) });
        continue;
      }
      if (!probe.ok) continue;
      const pause = this.#pause;
      this.#pause = undefined;
      metrics?.storePaused(false);
      log.info("store_resumed", {
        paused_s: Math.round(performance.now() - pause.since) / 1000,
        free_bytes: probe.space.free,
        total_bytes: probe.space.total,
        data_dir: pause.error.fault.dataDir,
      });
      await onResume();
    }
  }
}
