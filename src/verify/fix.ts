/**
 * What `--fix` does with each status, and `--dry-run`'s account of it. The
 * `fix` column of `STATUS_TABLE` (status.ts) says which action applies:
 * - `rewrite`: rewritten as a single gzip, atomically;
 * - `quarantine`: moved to the quarantine (never deleted);
 * - `remove_stray`: a stray temp file older than an hour is removed; a
 *   younger one is kept (a write may be in progress);
 * - `leave`: reported only, with the table's reason;
 * - `none`: not a problem, nothing to do.
 *
 * Whatever the status, `--fix` changes only files named `raw.json.gz` in a
 * real (not symlinked) directory, and stray temp files: any other file is
 * audited and reported, and kept (action `keep`, with the reason).
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { errorLine } from "../core/errors.ts";
import { asStoreFault, storeFaultOf } from "../core/store/store_fault.ts";
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/content/ingest.ts";
import { quarantineDir, quarantineFile } from "./quarantine.ts";
import type { AuditResult, FileIdentity, FileTarget, FixOutcome, ScanFinding } from "./result.ts";
import { rewriteSingleGzip } from "./rewrite.ts";
import { STATUS_TABLE, type VerifyStatus } from "./status.ts";
import { denoFileSystem } from "../core/store/file_system.ts";
import { isTempFileName, RAW_FILE_NAME } from "../core/store/storage.ts";
import { STALE_TEMP_AGE_MS } from "../core/store/store_stats.ts";

/** Options of {@linkcode fixFile} and {@linkcode fixFinding}. */
export interface FixOptions {
  /** Only say what would be done. */
  dryRun: boolean;
  /** The run's quarantine directory name (see `quarantineStamp`). */
  stamp: string;
  /** The time of the run, to age stray temp files. @default {new Date()} */
  now?: Date;
  /** Decompressed size cap for the rewrite. @default {4 GiB} */
  maxDecompressedBytes?: number;
}

/**
 * Repairs an audited file, or sets it aside, according to its status.
 *
 * @param result The file's audit.
 * @param target Where it is (data dir, match id).
 * @param options Dry run, quarantine stamp, size cap.
 * @returns What was done; undefined for an `ok` file.
 * @throws {Error} never for a failed repair (that is reported in the outcome).
 *
 * @example
 * ```ts ignore
 * import { fixFile } from "./fix.ts";
 * const outcome = await fixFile(result, target, { dryRun: false, stamp: "20241128T120304Z" });
 * ```
 */
export async function fixFile(
  result: AuditResult,
  target: FileTarget,
  options: FixOptions,
): Promise<FixOutcome | undefined> {
  return await applyFix({
    status: result.status,
    path: result.path,
    matchId: target.matchId,
    dataDir: target.dataDir,
    identity: result.identity,
  }, options);
}

/**
 * Handles a finding of the directory scan: removes stray temp files older
 * than an hour; reports the rest.
 *
 * @param finding The finding.
 * @param options Dry run and the time of the run.
 * @returns What was done.
 * @throws {Error} never for a failed removal (that is reported in the outcome).
 */
export async function fixFinding(finding: ScanFinding, options: FixOptions): Promise<FixOutcome> {
  const outcome = await applyFix(finding, options);
  // Never undefined: every scan status is a problem (see STATUS_TABLE).
  return outcome ??
    { action: "none", outcome: "skipped", resolved: true, detail: "nothing to fix" };
}

/** What {@linkcode applyFix} works on: an audited file or a scan finding. */
interface FixSubject {
  status: VerifyStatus;
  path: string;
  matchId: string | undefined;
  dataDir: string;
  /** The file's identity when audited, so that a changed file is not touched. */
  identity?: FileIdentity | undefined;
  /** Modification time of a stray temp file. */
  mtime?: Date | undefined;
}

/** The one dispatch on the `fix` column of `STATUS_TABLE`. */
async function applyFix(subject: FixSubject, options: FixOptions): Promise<FixOutcome | undefined> {
  const {
    dryRun,
    stamp,
    now = new Date(),
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
  } = options;
  const { path, matchId, identity } = subject;
  const plan = STATUS_TABLE[subject.status].fix;
  switch (plan.action) {
    case "none":
      return undefined;
    case "rewrite": {
      const kept = await keptBecause(path, matchId);
      if (kept !== undefined) return keep(kept);
      if (dryRun) return planned("rewrite", "would rewrite as a single gzip of the same JSON");
      return await attempt("rewrite", async () => {
        const done = await rewriteSingleGzip(path, {
          expectedMatchId: matchId,
          maxDecompressedBytes,
          identity,
          dataDir: subject.dataDir,
        });
        const was = done.fromLayers === 0 ? "plain JSON" : `${done.fromLayers} gzip layers`;
        return { detail: `rewritten as a single gzip (${done.bytes} bytes, was ${was})` };
      });
    }
    case "quarantine": {
      const kept = await keptBecause(path, matchId);
      if (kept !== undefined) return keep(kept);
      const where = { dataDir: subject.dataDir, matchId, stamp };
      if (dryRun) return planned("quarantine", `would move to ${quarantineDir(where)}/`);
      return await attempt("quarantine", async () => {
        const moved = await quarantineFile(path, { ...where, identity });
        const dir = moved.removedDir ? "; removed the empty match directory" : "";
        return { detail: `moved to ${moved.to}${dir}`, to: moved.to };
      });
    }
    case "remove_stray": {
      if (!isTempFileName(basename(path))) {
        return keep(`kept: ${JSON.stringify(basename(path))} is not a temp file of the store`);
      }
      const mtime = subject.mtime;
      const age = mtime === undefined ? Infinity : now.getTime() - mtime.getTime();
      if (age < STALE_TEMP_AGE_MS) {
        return {
          action: "keep",
          outcome: "skipped",
          resolved: true,
          detail: "kept: younger than 1 hour, a write may be in progress",
        };
      }
      if (dryRun) return planned("remove", "would remove (older than 1 hour)");
      return await attempt("remove", async () => {
        await denoFileSystem.removeIfExists(path).catch(async (err) => {
          throw (await asStoreFault(err, { op: "remove", path, dataDir: subject.dataDir })) ?? err;
        });
        return { detail: "removed (older than 1 hour)" };
      });
    }
    case "leave":
      return {
        action: "none",
        outcome: "skipped",
        resolved: false,
        detail: plan.reason.replaceAll("`", "").replace("<id>", matchId ?? "<id>"),
      };
  }
}

/**
 * Why `--fix` must not rewrite or move a file, if it must not: only a
 * `raw.json.gz` is the store's, and only in a match directory that is not
 * a symlink (the link would lead out of the data dir).
 */
async function keptBecause(path: string, matchId: string | undefined): Promise<string | undefined> {
  const name = basename(path);
  if (name !== RAW_FILE_NAME) {
    return `kept: --fix changes only files named ${RAW_FILE_NAME}, not ${JSON.stringify(name)}`;
  }
  if (matchId === undefined) return undefined;
  try {
    if (!(await Deno.lstat(dirname(path))).isDirectory) {
      return "kept: its match directory is a symbolic link, which --fix never writes through";
    }
  } catch {
    // Gone meanwhile: the fix itself fails and says so.
  }
  return undefined;
}

/** The outcome of a file `--fix` must not touch: the problem stays. */
function keep(detail: string): FixOutcome {
  return { action: "keep", outcome: "skipped", resolved: false, detail };
}

function planned(action: FixOutcome["action"], detail: string): FixOutcome {
  return { action, outcome: "planned", resolved: true, detail };
}

async function attempt(
  action: FixOutcome["action"],
  work: () => Promise<{ detail: string; to?: string }>,
): Promise<FixOutcome> {
  try {
    const { detail, to } = await work();
    const outcome: FixOutcome = { action, outcome: "done", resolved: true, detail };
    if (to !== undefined) outcome.to = to;
    return outcome;
  } catch (err) {
    const outcome: FixOutcome = {
      action,
      outcome: "failed",
      resolved: false,
      detail: `failed: ${errorLine(err)}`,
    };
    // The store refused the write: the run stops at it (see runVerify).
    const fault = storeFaultOf(err);
    if (fault !== undefined) outcome.storeFault = { code: fault.code, message: errorLine(fault) };
    return outcome;
  }
}
