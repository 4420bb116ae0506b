/**
 * The whole `verify` run, streamed: the walk lists the data dirs on the
 * main thread, which handles the few findings at the data dir level itself
 * and hands each `matchID=` entry to `jobs` worker threads (with `jobs` 1,
 * runs it on this thread); each reads the entry, audits its file and, with
 * `fix`, repairs it. Results and progress come back through callbacks; the
 * caller renders them. Nothing outlives a finished file but counters:
 * memory does not grow with the number of files.
 *
 * @module
 */

import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/content/ingest.ts";
import { type ErrorCode, TelemetryError } from "../core/errors.ts";
import type { FixOptions } from "./fix.ts";
import { quarantineStamp } from "./quarantine.ts";
import type { VerifyResult } from "./result.ts";
import { type ScanUnit, walkRoots } from "./scan_stream.ts";
import { isFileStatus } from "./status.ts";
import { findingResult, verifyUnit, type VerifyUnitOptions } from "./verify_unit.ts";
import { assertJobs, VerifyWorkers } from "./verify_workers.ts";

/** Progress of a run, reported as files are read. */
export interface VerifyProgress {
  /** Files finished. */
  files: number;
  /** Files to audit in all, when known up front (not by {@linkcode runVerify}, which streams). */
  totalFiles?: number;
  /** File bytes read so far. */
  bytes: number;
  /** File bytes to read in all, when known up front. */
  totalBytes?: number;
}

/** Options of {@linkcode runVerify}. */
export interface VerifyOptions {
  /** The data dir audited when no path is given. */
  dataDir: string;
  /** When non-empty, only these match ids are audited (validated by the caller). */
  matchIds?: readonly string[];
  /**
   * Files audited at once: 1 on this thread, 2 or more on that many worker threads.
   * @default {navigator.hardwareConcurrency}
   */
  jobs?: number;
  /** Decompressed size cap per file. @default {4 GiB} */
  maxDecompressedBytes?: number;
  /** Repair or quarantine problems. @default {false} */
  fix?: boolean;
  /** Only say what `fix` would do. @default {false} */
  dryRun?: boolean;
  /** The clock. @default {() => new Date()} */
  now?: () => Date;
  /** Receives every result (in completion order). */
  onResult: (result: VerifyResult) => void;
  /** Receives progress as files are read; without it, bytes are not counted as they are read. */
  onProgress?: (progress: VerifyProgress) => void;
}

/**
 * Audits (and repairs) everything under the paths, as the walk finds it.
 *
 * @param paths The paths given on the command line (may be empty: the data dir).
 * @param options Data dir, filter, jobs, size cap, fix mode, callbacks.
 * @returns When every result was reported.
 * @throws {TelemetryError} kind `usage` when a path does not exist, kind `permanent` (code
 * `data_dir`) when the data dir audited for want of a path is not a directory (before any result).
 * @throws {TelemetryError} kind `store` when a fix failed on a store fault
 * (the store is full, read-only, failing or refuses the write): the run
 * stops there, after the files already being audited are reported; the
 * message is the fault's line.
 * @throws {RangeError} when `jobs` is not a positive integer.
 * @throws {Error} when a data dir cannot be listed or a worker fails.
 *
 * @example
 * ```ts ignore
 * import { runVerify } from "./run_verify.ts";
 * await runVerify([], {
 *   dataDir: "./data/telemetry",
 *   jobs: 4,
 *   onResult: (r) => console.log(r.status, r.path),
 * });
 * ```
 */
export async function runVerify(paths: readonly string[], options: VerifyOptions): Promise<void> {
  const {
    dataDir,
    matchIds = [],
    jobs = navigator.hardwareConcurrency,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    fix = false,
    dryRun = false,
    now = () => new Date(),
    onResult,
    onProgress,
  } = options;
  assertJobs(jobs);
  const walk = walkRoots(paths, { dataDir, matchIds });
  const started = now();
  const fixOptions: FixOptions | undefined = fix || dryRun
    ? { dryRun, stamp: quarantineStamp(started), now: started, maxDecompressedBytes }
    : undefined;
  const progress: VerifyProgress = { files: 0, bytes: 0 };
  onProgress?.({ ...progress });
  // `--fix` stops at the first store fault: no more fixes can work.
  let stoppedBy: { code: string; message: string } | undefined;
  const report = (result: VerifyResult) => {
    stoppedBy ??= result.fix?.storeFault;
    if (onProgress !== undefined && isFileStatus(result.status)) {
      progress.files++;
      onProgress({ ...progress });
    }
    onResult(result);
  };
  const unitOptions = { matchIds, maxDecompressedBytes, fix: fixOptions };
  const onBytes = onProgress === undefined ? undefined : (bytes: number) => {
    progress.bytes += bytes;
    onProgress({ ...progress });
  };
  const workers: UnitRunner = jobs === 1
    ? inlineRunner({ ...unitOptions, ...(onBytes === undefined ? {} : { onBytes }) }, report)
    : new VerifyWorkers({
      jobs,
      unitOptions,
      onResult: report,
      ...(onBytes === undefined ? {} : { onBytes }),
    });
  try {
    for await (const item of walk) {
      if (stoppedBy !== undefined) break;
      if (item.kind === "unit") {
        await workers.submit(item.unit);
        continue;
      }
      report(await findingResult(item.finding, fixOptions));
    }
    await workers.close();
  } finally {
    await workers.terminate();
  }
  if (stoppedBy !== undefined) {
    throw new TelemetryError("store", stoppedBy.code as ErrorCode, stoppedBy.message);
  }
}

/** Runs units: on worker threads, or one at a time on this thread. */
interface UnitRunner {
  /** Runs a unit, or queues it (waiting while the queue is full). */
  submit(unit: ScanUnit): Promise<void>;
  /** Waits for every queued unit. */
  close(): Promise<void>;
  /** Stops now. */
  terminate(): Promise<void>;
}

/** `--jobs 1`: each unit runs on this thread as it comes; no worker to start. */
function inlineRunner(
  options: VerifyUnitOptions,
  onResult: (result: VerifyResult) => void,
): UnitRunner {
  return {
    submit: (unit) => verifyUnit(unit, options, onResult),
    close: () => Promise.resolve(),
    terminate: () => Promise.resolve(),
  };
}
