/**
 * The worker thread side of `verify`: each worker runs units of the walk
 * (`verifyUnit`) one after the other and posts their results back in
 * batches. {@linkcode VerifyWorkers} (`verify_workers.ts`) starts them.
 *
 * The module starts serving only in a worker started by
 * {@linkcode startVerifyWorker}; imported anywhere else it does nothing. `verify_workers.ts` imports it, so that it is part of the
 * module graph (and of the compiled binary) like any other module.
 *
 * Main → worker: `{ units }`, a batch of units to run, in order.
 * Worker → main: `{ kind: "results", results, done, ms, bytes }` (the
 * results of `done` finished units, the milliseconds spent on them, and file
 * bytes read not yet reported), at least every 64 results or 100 ms; and
 * `{ kind: "bytes", bytes }` every 100 ms while a large file is read.
 * Messages travel as JSON text: results and units are plain JSON data, and
 * a string crosses threads several times faster than the objects would
 * (each object is cloned, and walked for message ports).
 *
 * @module
 */

import {
  isMainThread,
  type MessagePort,
  parentPort,
  Worker,
  workerData,
} from "node:worker_threads";
import type { VerifyResult } from "./result.ts";
import type { ScanUnit } from "./scan_stream.ts";
import { verifyUnit, type VerifyUnitOptions } from "./verify_unit.ts";

/** The `role` of a verify worker's `workerData`. */
const VERIFY_WORKER_ROLE = "telemetry-verify";

/** Young generation of a worker, in MB (see `verify_workers.ts`). */
const YOUNG_GENERATION_MB = 4;

/** What a verify worker is started with. */
interface VerifyWorkerData {
  /** Always {@linkcode VERIFY_WORKER_ROLE}. */
  role: typeof VERIFY_WORKER_ROLE;
  /** The options of every unit (no callbacks: they stay on the main thread). */
  options: Omit<VerifyUnitOptions, "onBytes">;
  /** Whether to report file bytes as they are read (for a progress bar). */
  progress: boolean;
}

/**
 * Starts a verify worker on this module, its young generation capped.
 *
 * @param options The options of every unit (no callbacks: they stay on the main thread).
 * @param progress Whether to report file bytes as they are read (for a progress bar).
 * @returns The worker.
 */
export function startVerifyWorker(
  options: Omit<VerifyUnitOptions, "onBytes">,
  progress: boolean,
): Worker {
  return new Worker(new URL(import.meta.url), {
    workerData: { role: VERIFY_WORKER_ROLE, options, progress } satisfies VerifyWorkerData,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
}

/** A message to a verify worker (sent as JSON text). */
export interface ToVerifyWorker {
  /** Units to run, in order. */
  units: ScanUnit[];
}

/** A message from a verify worker (sent as JSON text). */
export type FromVerifyWorker =
  | {
    kind: "results";
    /** Results of the finished units, in completion order. */
    results: VerifyResult[];
    /** Units finished since the last message. */
    done: number;
    /** Milliseconds spent on them. */
    ms: number;
    /** File bytes read and not reported yet. */
    bytes: number;
  }
  | {
    kind: "bytes";
    /** File bytes read and not reported yet. */
    bytes: number;
  };

/** Results posted at most this many at a time, or once the first is this old. */
const RESULTS_PER_MESSAGE = 64;
const RESULTS_MAX_DELAY_MS = 100;
const BYTES_EVERY_MS = 100;

/** Runs the units it is sent and posts their results; see the module doc. */
function serve(port: MessagePort, data: VerifyWorkerData): void {
  const queue: ScanUnit[] = [];
  let running = false;
  let results: VerifyResult[] = [];
  let done = 0;
  let since = performance.now();
  let busyMs = 0;
  let bytes = 0;
  let bytesPostedAt = 0;

  function post(): void {
    const message: FromVerifyWorker = { kind: "results", results, done, ms: busyMs, bytes };
    port.postMessage(JSON.stringify(message));
    results = [];
    done = 0;
    busyMs = 0;
    bytes = 0;
    since = performance.now();
  }

  const onBytes = !data.progress ? undefined : (n: number) => {
    bytes += n;
    const now = performance.now();
    if (now - bytesPostedAt < BYTES_EVERY_MS) return;
    bytesPostedAt = now;
    const message: FromVerifyWorker = { kind: "bytes", bytes };
    port.postMessage(JSON.stringify(message));
    bytes = 0;
  };
  const options: VerifyUnitOptions = {
    ...data.options,
    ...(onBytes === undefined ? {} : { onBytes }),
  };

  async function run(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      const unit = queue.shift()!;
      const started = performance.now();
      await verifyUnit(unit, options, (result) => results.push(result));
      busyMs += performance.now() - started;
      done++;
      if (
        results.length >= RESULTS_PER_MESSAGE || performance.now() - since >= RESULTS_MAX_DELAY_MS
      ) {
        post();
      }
    }
    if (done > 0 || results.length > 0) post();
    running = false;
  }

  port.on("message", (text: string) => {
    const message = JSON.parse(text) as ToVerifyWorker;
    for (const unit of message.units) queue.push(unit);
    if (!running) void run();
  });
}

const data = workerData as Partial<VerifyWorkerData> | null | undefined;
if (!isMainThread && parentPort !== null && data?.role === VERIFY_WORKER_ROLE) {
  serve(parentPort, data as VerifyWorkerData);
}
