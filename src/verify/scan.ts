/**
 * The directory walk of `verify`: which `raw.json.gz` files to audit, and
 * what is wrong with the layout itself (`missing`, `stray_temp`,
 * `bad_dir_name`), found without reading any content.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { TelemetryError } from "../core/errors.ts";
import { isValidMatchId } from "../core/store/match_id.ts";
import {
  isTempFileName,
  MATCH_DIR_PREFIX,
  matchIdOfDirName,
  RAW_FILE_NAME,
} from "../core/store/storage.ts";
import type { FileTarget, ScanFinding } from "./result.ts";

/** What the old R worker left in match directories. */
const PARQUET_FILE_NAME = "part-0.parquet";

/** Options of {@linkcode scanPaths}. */
export interface ScanOptions {
  /** The data dir audited when no path is given. */
  dataDir: string;
  /** When non-empty, only these match ids are audited (validated by the caller). */
  matchIds?: readonly string[];
}

/** What {@linkcode scanPaths} found, sorted by path. */
export interface ScanResult {
  /** The files to audit. */
  files: FileTarget[];
  /** Problems of the layout. */
  findings: ScanFinding[];
}

/**
 * Resolves the paths to audit. A path may be a data dir (every `matchID=*`
 * directory in it), one `matchID=…` directory, or one file. Without paths,
 * the data dir is audited. Other directories in a data dir (such as
 * `.quarantine`) and other files are ignored, except stray temp files.
 *
 * Symlinks are never followed, except a data dir given as a path (or the
 * default data dir) that is one: a `matchID=` symlink, or a symlink or
 * special file named `raw.json.gz`, is listed as a file to audit, which
 * reports it `not_regular` without following or opening it.
 *
 * @param paths The paths given on the command line (may be empty).
 * @param options The default data dir and the match id filter.
 * @returns The files to audit and the layout problems.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when a path does not exist.
 *
 * @example
 * ```ts ignore
 * import { scanPaths } from "./scan.ts";
 * const { files, findings } = await scanPaths([], { dataDir: "./data/telemetry" });
 * ```
 */
export async function scanPaths(
  paths: readonly string[],
  options: ScanOptions,
): Promise<ScanResult> {
  const { dataDir, matchIds = [] } = options;
  const scan = new Scan(new Set(matchIds));
  const roots = paths.length === 0 ? [dataDir] : paths;
  for (const root of roots) await scan.add(resolve(root));
  return scan.result();
}

class Scan {
  #filter: Set<string>;
  #files = new Map<string, FileTarget>();
  #findings = new Map<string, ScanFinding>();

  constructor(filter: Set<string>) {
    this.#filter = filter;
  }

  async add(path: string): Promise<void> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      throw new TelemetryError(
        "usage",
        "bad_option",
        `cannot verify ${path}: no such file or directory`,
      );
    }
    const id = matchIdOfDirName(basename(path));
    if (info.isSymlink && id === undefined && (await isDirectory(path))) {
      // A data dir given by the operator may be a link (to another disk): followed.
      await this.#scanDataDir(path);
    } else if (info.isDirectory && id === undefined) {
      await this.#scanDataDir(path);
    } else if (id !== undefined && !info.isFile) {
      await this.#scanEntry(path, id, dirname(path), info.isDirectory);
    } else {
      await this.#addPath(path);
    }
  }

  /** A path given that is not a directory: one file, audited as the file of its match dir. */
  async #addPath(path: string): Promise<void> {
    const dir = dirname(path);
    const id = matchIdOfDirName(basename(dir));
    const valid = id !== undefined && isValidMatchId(id);
    if (!this.#wanted(valid ? id : undefined)) return;
    if (valid && !(await isRealDirectory(dir))) {
      // The file is reached through a matchID= symlink: report the link, not what it leads to.
      await this.#addFile(dir, id, dirname(dir));
      return;
    }
    await this.#addFile(path, valid ? id : undefined, valid ? dirname(dir) : dir);
  }

  result(): ScanResult {
    return {
      files: [...this.#files.values()].sort(byPath),
      findings: [...this.#findings.values()].sort(byPath),
    };
  }

  #wanted(matchId: string | undefined): boolean {
    return this.#filter.size === 0 || (matchId !== undefined && this.#filter.has(matchId));
  }

  async #addFile(path: string, matchId: string | undefined, dataDir: string): Promise<void> {
    const target: FileTarget = { path, matchId, dataDir };
    try {
      const info = await Deno.lstat(path);
      if (info.isFile) target.size = info.size;
    } catch {
      // Unreadable: the audit says so.
    }
    this.#files.set(path, target);
  }

  #addFinding(
    finding: Omit<ScanFinding, "bytes" | "decompressedBytes" | "seconds">,
    bytes?: number,
  ): void {
    this.#findings.set(finding.path, {
      bytes,
      decompressedBytes: undefined,
      seconds: 0,
      ...finding,
    });
  }

  async #scanDataDir(dataDir: string): Promise<void> {
    const seen = new Set<string>();
    for (const entry of await listDir(dataDir)) {
      const path = join(dataDir, entry.name);
      const id = matchIdOfDirName(entry.name);
      if (id !== undefined && !entry.isFile) {
        // A directory is scanned; a symlink or special file is reported, never followed.
        seen.add(id);
        await this.#scanEntry(path, id, dataDir, entry.isDirectory);
      } else if (entry.isFile && isTempFileName(entry.name) && this.#filter.size === 0) {
        await this.#addTemp(path, undefined, dataDir);
      }
    }
    for (const id of this.#filter) {
      if (seen.has(id)) continue;
      const path = join(dataDir, `${MATCH_DIR_PREFIX}${id}`);
      this.#addFinding({
        path,
        matchId: id,
        status: "missing",
        detail: `no directory ${MATCH_DIR_PREFIX}${id} in ${dataDir}`,
        dataDir,
      });
    }
  }

  async #scanEntry(dir: string, id: string, dataDir: string, isDir = true): Promise<void> {
    if (!isValidMatchId(id)) {
      if (this.#filter.size > 0) return;
      this.#addFinding({
        path: dir,
        matchId: undefined,
        status: "bad_dir_name",
        detail: `directory name ${
          JSON.stringify(basename(dir))
        } is not a valid match id (1-128 characters of A-Z a-z 0-9 . _ -): not audited`,
        dataDir,
      });
      return;
    }
    if (!this.#wanted(id)) return;
    if (!isDir) {
      await this.#addFile(dir, id, dataDir);
      return;
    }
    const entries = await listDir(dir);
    const names = entries.map((e) => e.name);
    for (const entry of entries) {
      if (entry.isFile && isTempFileName(entry.name)) {
        await this.#addTemp(join(dir, entry.name), id, dataDir);
      }
    }
    if (names.includes(RAW_FILE_NAME)) {
      await this.#addFile(join(dir, RAW_FILE_NAME), id, dataDir);
      return;
    }
    this.#addFinding({
      path: dir,
      matchId: id,
      status: "missing",
      detail: missingDetail(names),
      dataDir,
    });
  }

  async #addTemp(path: string, matchId: string | undefined, dataDir: string): Promise<void> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return; // Committed or removed meanwhile.
      throw err;
    }
    const finding: Omit<ScanFinding, "bytes" | "decompressedBytes" | "seconds"> = {
      path,
      matchId,
      status: "stray_temp",
      detail: `leftover temp file of an interrupted write (${info.size} bytes, modified ${
        info.mtime?.toISOString() ?? "at an unknown time"
      })`,
      dataDir,
    };
    if (info.mtime !== null) finding.mtime = info.mtime;
    this.#addFinding(finding, info.size);
  }
}

function missingDetail(names: string[]): string {
  const others = names.filter((n) => !isTempFileName(n));
  if (others.includes(PARQUET_FILE_NAME)) {
    return `no ${RAW_FILE_NAME}, but ${PARQUET_FILE_NAME} is there (written by the old R worker)`;
  }
  if (others.length === 0) {
    return `no ${RAW_FILE_NAME} (directory is empty${
      names.length > 0 ? " but for temp files" : ""
    })`;
  }
  const shown = others.slice(0, 5).join(", ");
  return `no ${RAW_FILE_NAME} (contains ${shown}${others.length > 5 ? ", ..." : ""})`;
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether `path` leads to a directory, following a symlink. */
async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path` is a directory itself, not a symlink to one. */
async function isRealDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.lstat(path)).isDirectory;
  } catch {
    return false;
  }
}
