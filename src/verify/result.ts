/**
 * The records `verify` passes around: what to audit, what was found, and
 * what `--fix` did about it.
 *
 * @module
 */

import type { VerifyStatus } from "./status.ts";

/** One `raw.json.gz` to audit. */
export interface FileTarget {
  /** Absolute path of the file. */
  path: string;
  /** The match id of its `matchID=` directory; undefined when it is not in one. */
  matchId: string | undefined;
  /** The data dir it belongs to (the quarantine goes there). */
  dataDir: string;
  /** Its size when scanned (for progress), when known. */
  size?: number;
}

/** What `--fix` did (or, with `--dry-run`, would do) about one result. */
export interface FixOutcome {
  /** The repair: rewrite as single gzip, move to the quarantine, remove a temp, keep, nothing. */
  action: "rewrite" | "quarantine" | "remove" | "keep" | "none";
  /** `done`; `planned` (dry run); `failed` (the original is untouched); `skipped` (nothing to do). */
  outcome: "done" | "planned" | "failed" | "skipped";
  /** Whether the problem is gone (or, with `--dry-run`, would be). */
  resolved: boolean;
  /** One line: what was done, or why not. */
  detail: string;
  /** Where the file went (quarantine). */
  to?: string;
  /**
   * The store fault the fix failed on (the store is full, read-only,
   * failing, or refuses the write): `--fix` stops at the first one.
   */
  storeFault?: { code: string; message: string };
}

/** Identity of a file when it was audited, to notice it changed before a fix. */
export interface FileIdentity {
  /** Inode number (null on systems without one). */
  ino: number | null;
  /** Size in bytes. */
  size: number;
  /** Modification time in ms, or null when unknown. */
  mtimeMs: number | null;
}

/** The one status of one file or directory, with the facts behind it. */
export interface VerifyResult {
  /** The file or directory concerned. */
  path: string;
  /** Its match id (from the directory name), when known. */
  matchId: string | undefined;
  /** Exactly one status. */
  status: VerifyStatus;
  /** One line: what is wrong and where ("" when ok). */
  detail: string;
  /** Size on disk; undefined for directories. */
  bytes: number | undefined;
  /** Decompressed content bytes read (up to the failure for a bad file). */
  decompressedBytes: number | undefined;
  /** Events counted, when the whole content was valid. */
  events?: number;
  /** Seconds spent on it. */
  seconds: number;
  /** Byte offset in the decompressed content of a content error. */
  offset?: number;
  /** Gzip layers around the content: 0 plain, 1 normal, 2+ nested. */
  gzipLayers?: number;
  /** What `--fix` or `--dry-run` did. */
  fix?: FixOutcome;
}

/** An audited file: its result plus what the fix needs. */
export interface AuditResult extends VerifyResult {
  /** Identity of the file as read; undefined when it could not be opened. */
  identity?: FileIdentity;
}

/** A finding of the directory scan (`missing`, `stray_temp`, `bad_dir_name`). */
export interface ScanFinding extends VerifyResult {
  /** The data dir it was found in. */
  dataDir: string;
  /** Modification time of a stray temp file. */
  mtime?: Date;
}
