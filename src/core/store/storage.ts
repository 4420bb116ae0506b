/**
 * The storage layout shared with the other services of the platform:
 * `<data-dir>/matchID=<match_id>/raw.json.gz`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { parseMatchId } from "./match_id.ts";

/** Data dir used when neither `--data-dir` nor `TELEMETRY_DATA_DIR` is set. */
export const DEFAULT_DATA_DIR = "./data/telemetry";

/** Name of the stored telemetry file inside a match directory. */
export const RAW_FILE_NAME = "raw.json.gz";

/** Prefix of match directory names. */
export const MATCH_DIR_PREFIX = "matchID=";

/** Name of the directory (inside the data dir) that `verify --fix` moves bad files to. */
export const QUARANTINE_DIR_NAME = ".quarantine";

const TEMP_NAME_PATTERN = /^\.raw\.json\.gz\.[A-Za-z0-9_-]+\.tmp$/;

/**
 * Directory of one match.
 *
 * @param dataDir The data dir (relative paths are resolved against the cwd).
 * @param matchId A match id; validated here so no caller can forget.
 * @returns The absolute path of `<data-dir>/matchID=<match_id>`.
 * @throws {TelemetryError} kind `usage` when the match id is invalid.
 */
export function matchDir(dataDir: string, matchId: string): string {
  return join(resolve(dataDir), `${MATCH_DIR_PREFIX}${parseMatchId(matchId)}`);
}

/**
 * Path of the stored telemetry of one match.
 *
 * @param dataDir The data dir.
 * @param matchId A match id.
 * @returns The absolute path of `<data-dir>/matchID=<match_id>/raw.json.gz`.
 * @throws {TelemetryError} kind `usage` when the match id is invalid.
 *
 * @example
 * ```ts
 * import { rawPath } from "./storage.ts";
 * rawPath("/data", "abc"); // "/data/matchID=abc/raw.json.gz"
 * ```
 */
export function rawPath(dataDir: string, matchId: string): string {
  return join(matchDir(dataDir, matchId), RAW_FILE_NAME);
}

/**
 * The match id a directory name stands for, without validating it.
 *
 * @param name A directory name such as `matchID=abc`.
 * @returns `abc`, or undefined when the name lacks the `matchID=` prefix.
 */
export function matchIdOfDirName(name: string): string | undefined {
  return name.startsWith(MATCH_DIR_PREFIX) ? name.slice(MATCH_DIR_PREFIX.length) : undefined;
}

/**
 * A fresh temp file name for an atomic write next to `raw.json.gz`.
 *
 * @returns A name like `.raw.json.gz.k3j2h1g0.tmp`.
 */
export function tempFileName(): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `.${RAW_FILE_NAME}.${suffix}.tmp`;
}

/**
 * Whether a file name is a temp file of an interrupted atomic write.
 *
 * @param name A file name (not a path).
 * @returns True for names made by {@linkcode tempFileName}.
 */
export function isTempFileName(name: string): boolean {
  return TEMP_NAME_PATTERN.test(name);
}
