/**
 * The whole `verify` run over what the scan found: findings first, then the
 * files, `jobs` at a time, each audited (and, with `fix`, repaired) as soon
 * as it is read. Results and progress are reported through callbacks; the
 * caller renders them.
 *
 * @module
 */

import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/content/ingest.ts";
import { runPool } from "../core/pool.ts";
import { auditFile } from "./audit_file.ts";
import { fixFile, fixFinding } from "./fix.ts";
import { quarantineStamp } from "./quarantine.ts";
import type { VerifyResult } from "./result.ts";
import type { ScanResult } from "./scan.ts";

/** Progress of a run, reported as files are read. */
export interface VerifyProgress {
  /** Files finished. */
  files: number;
  /** Files to audit in all. */
  totalFiles: number;
  /** File bytes read so far. */
  bytes: number;
  /** File bytes to read in all. */
  totalBytes: number;
}

/** Options of {@linkcode runVerify}. */
export interface VerifyOptions {
  /** Files audited at once. @default {navigator.hardwareConcurrency} */
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
  /** Receives progress as bytes are read. */
  onProgress?: (progress: VerifyProgress) => void;
}

/**
 * Audits (and repairs) everything a scan found.
 *
 * @param scan The files and findings from `scanPaths`.
 * @param options Jobs, size cap, fix mode, callbacks.
 * @returns When every result was reported.
 * @throws {RangeError} when `jobs` is not a positive integer.
 *
 * @example
 * ```ts ignore
 * import { runVerify } from "./run_verify.ts";
 * import { scanPaths } from "./scan.ts";
 * const scan = await scanPaths([], { dataDir: "./data/telemetry" });
 * await runVerify(scan, { jobs: 4, onResult: (r) => console.log(r.status, r.path) });
 * ```
 */
export async function runVerify(scan: ScanResult, options: VerifyOptions): Promise<void> {
  const {
    jobs = navigator.hardwareConcurrency,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    fix = false,
    dryRun = false,
    now = () => new Date(),
    onResult,
    onProgress,
  } = options;
  const started = now();
  const fixOptions = {
    dryRun,
    stamp: quarantineStamp(started),
    now: started,
    maxDecompressedBytes,
  };
  const repair = fix || dryRun;
  for (const finding of scan.findings) {
    const { dataDir: _d, mtime: _m, ...result } = finding;
    if (repair) result.fix = await fixFinding(finding, fixOptions);
    onResult(result);
  }
  const progress: VerifyProgress = {
    files: 0,
    totalFiles: scan.files.length,
    bytes: 0,
    totalBytes: scan.files.reduce((sum, f) => sum + (f.size ?? 0), 0),
  };
  onProgress?.({ ...progress });
  await runPool(scan.files, {
    concurrency: jobs,
    worker: async (target) => {
      let read = 0;
      const audit = await auditFile(target.path, {
        expectedMatchId: target.matchId,
        maxDecompressedBytes,
        onBytes: (total) => {
          progress.bytes += total - read;
          read = total;
          onProgress?.({ ...progress });
        },
      });
      const { identity: _i, ...result } = audit;
      if (repair) {
        const outcome = await fixFile(audit, target, fixOptions);
        if (outcome !== undefined) result.fix = outcome;
      }
      progress.files++;
      onProgress?.({ ...progress });
      onResult(result);
    },
  });
}
