/**
 * The main thread side of `verify`'s worker threads: `--jobs N` starts N
 * workers (`verify_worker.ts`), each running units of the walk one after the
 * other, so that N files are audited at once on N cores. JavaScript runs on
 * one thread per isolate: only workers make `--jobs` use more than one core.
 *
 * Units go out in batches and results come back in batches, so that the
 * hand-off costs a few microseconds per file. The batch size follows the
 * time a unit takes (about 50 ms of work per batch, 1 to 64 units): many
 * small files go by the dozen, large files one by one, so that no worker is
 * left idle while another holds a queue of large files. Each worker has at
 * most two batches queued, and {@linkcode VerifyWorkers.submit} waits while
 * they are all full: the walk never runs far ahead of the audit.
 *
 * Each worker's young generation is capped (`resourceLimits`): V8 otherwise
 * grows it to about 34 MB in a long run of small allocations, and every
 * worker would pay that.
 *
 * @module
 */

import type { Worker } from "node:worker_threads";
import type { VerifyResult } from "./result.ts";
import type { ScanUnit } from "./scan_stream.ts";
import type { VerifyUnitOptions } from "./verify_unit.ts";
import { type FromVerifyWorker, startVerifyWorker, type ToVerifyWorker } from "./verify_worker.ts";

/** Milliseconds of work aimed at per batch. */
const BATCH_MS = 50;
/**
 * Units per batch, at most: more would save little hand-off, and units
 * waiting longer on this thread outlive collections of its young generation.
 */
const MAX_BATCH = 64;

/** Options of {@linkcode VerifyWorkers}. */
export interface VerifyWorkersOptions {
  /** Workers to start (files audited at once). */
  jobs: number;
  /** The options of every unit (no callbacks). */
  unitOptions: Omit<VerifyUnitOptions, "onBytes">;
  /** Receives each result, in the order the workers post them. */
  onResult: (result: VerifyResult) => void;
  /** Receives file bytes read, as they are read; without it workers do not count them. */
  onBytes?: (bytes: number) => void;
}

/** One worker and the units it has not finished. */
interface Slot {
  worker: Worker;
  outstanding: number;
}

/**
 * A pool of verify workers.
 *
 * @example
 * ```ts ignore
 * import { VerifyWorkers } from "./verify_workers.ts";
 * const workers = new VerifyWorkers({ jobs: 2, unitOptions: { matchIds: [] }, onResult: console.log });
 * await workers.submit({ kind: "file", path: "/data/matchID=abc/raw.json.gz" });
 * await workers.close();
 * ```
 */
export class VerifyWorkers {
  #slots: Slot[];
  #pending: ScanUnit[] = [];
  #msPerUnit: number | undefined;
  #failure: Error | undefined;
  #closing = false;
  #wake: (() => void) | undefined;
  #onResult: (result: VerifyResult) => void;
  #onBytes: ((bytes: number) => void) | undefined;

  /**
   * Starts the workers.
   *
   * @param options Jobs, unit options and callbacks.
   * @throws {RangeError} when `jobs` is not a positive integer.
   */
  constructor(options: VerifyWorkersOptions) {
    const { jobs, unitOptions, onResult, onBytes } = options;
    assertJobs(jobs);
    this.#onResult = onResult;
    this.#onBytes = onBytes;
    this.#slots = Array.from({ length: jobs }, () => {
      const worker = startVerifyWorker(unitOptions, onBytes !== undefined);
      const slot: Slot = { worker, outstanding: 0 };
      worker.on("message", (text: string) => {
        this.#receive(slot, JSON.parse(text) as FromVerifyWorker);
      });
      worker.on("error", (err: unknown) => this.#fail(err));
      worker.on("exit", (code: number) => {
        if (!this.#closing) this.#fail(new Error(`exited with code ${code}`));
      });
      return slot;
    });
  }

  /**
   * Queues a unit; waits while every worker has two batches queued.
   *
   * @param unit The unit.
   * @returns When the unit is queued.
   * @throws {Error} when a worker failed.
   */
  async submit(unit: ScanUnit): Promise<void> {
    this.#check();
    this.#pending.push(unit);
    this.#dispatch();
    while (this.#pending.length >= this.#batchSize()) {
      await this.#sleep();
      this.#check();
    }
  }

  /**
   * Waits for every queued unit, then stops the workers.
   *
   * @returns When every result was reported.
   * @throws {Error} when a worker failed.
   */
  async close(): Promise<void> {
    try {
      this.#closing = true;
      this.#dispatch();
      while (this.#pending.length > 0 || this.#slots.some((s) => s.outstanding > 0)) {
        this.#check();
        await this.#sleep();
        this.#dispatch();
      }
      this.#check();
    } finally {
      await this.terminate();
    }
  }

  /**
   * Stops the workers now (safe to call more than once).
   *
   * @returns When they are stopped.
   */
  async terminate(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #batchSize(): number {
    if (this.#msPerUnit === undefined) return 1; // until the time a unit takes is known
    return Math.max(1, Math.min(MAX_BATCH, Math.round(BATCH_MS / this.#msPerUnit)));
  }

  /** Sends batches to workers with room: the least busy first. */
  #dispatch(): void {
    const size = this.#batchSize();
    for (;;) {
      if (this.#pending.length === 0) return;
      const slot = this.#slots.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
      if (slot.outstanding >= 2 * size) return;
      // A partial batch waits for more units, unless its worker would be idle.
      if (this.#pending.length < size && slot.outstanding > 0 && !this.#closing) return;
      const units = this.#pending.splice(0, size);
      slot.outstanding += units.length;
      const message: ToVerifyWorker = { units };
      slot.worker.postMessage(JSON.stringify(message));
    }
  }

  #receive(slot: Slot, message: FromVerifyWorker): void {
    if (message.kind === "results") {
      slot.outstanding -= message.done;
      if (message.done > 0) {
        const ms = message.ms / message.done;
        this.#msPerUnit = this.#msPerUnit === undefined ? ms : 0.8 * this.#msPerUnit + 0.2 * ms;
      }
    }
    try {
      if (message.bytes > 0) this.#onBytes?.(message.bytes);
      if (message.kind === "results") {
        for (const result of message.results) this.#onResult(result);
      }
    } catch (err) {
      // The caller's failure (stdout closed...) ends the run as a worker's would.
      this.#failure ??= err instanceof Error ? err : new Error(String(err));
    }
    if (this.#failure === undefined) this.#dispatch();
    this.#wakeUp();
  }

  #fail(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.#failure ??= new Error(`verify worker failed: ${reason}`, { cause: err });
    this.#wakeUp();
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  #sleep(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * Checks a `jobs` count: a positive integer.
 *
 * @param jobs The count.
 * @throws {RangeError} when it is not.
 */
export function assertJobs(jobs: number): void {
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new RangeError(
      `Cannot verify as 'jobs' must be a positive integer: current value is ${jobs}`,
    );
  }
}
