/**
 * The directory walk of `verify`, streamed: each `raw.json.gz` to audit and
 * each problem of the layout (`missing`, `stray_temp`, `bad_dir_name`) is
 * given as soon as its directory has been read, and nothing is kept about
 * it afterwards, so memory does not grow with the number of matches.
 *
 * The walk has two levels, so that the second can run on other threads:
 * {@linkcode walkRoots} lists the data dirs and gives one
 * {@linkcode ScanUnit} per `matchID=` entry (plus the problems found at the
 * data dir level), and {@linkcode expandUnit} reads one match directory and
 * gives its items. {@linkcode scanStream} chains the two.
 *
 * Items come in directory order (not sorted: sorting would hold every name).
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

/** One thing the walk found: a file to audit, or a problem of the layout. */
export type ScanItem =
  | { kind: "file"; target: FileTarget }
  | { kind: "finding"; finding: ScanFinding };

/**
 * One piece of the walk that {@linkcode expandUnit} turns into items: a
 * `matchID=` entry (a directory, or a link or special file reported as it
 * is), or a file given as a path. Plain data, so it can go to a worker.
 */
export type ScanUnit =
  | {
    kind: "entry";
    /** The `matchID=` entry. */
    path: string;
    /** The match id of its name. */
    id: string;
    /** The data dir it is in. */
    dataDir: string;
    /** Whether it is a directory (not a link to one). */
    isDir: boolean;
    /** Item paths not to give: files given as paths too. */
    skip?: string[];
  }
  | {
    kind: "file";
    /** The file given as a path. */
    path: string;
  };

/** What {@linkcode walkRoots} gives: a unit to expand, or a problem found at the data dir level. */
export type WalkItem = { kind: "unit"; unit: ScanUnit } | { kind: "finding"; finding: ScanFinding };

/** Options of {@linkcode walkRoots} and {@linkcode scanStream}. */
export interface ScanStreamOptions {
  /** The data dir walked when no path is given. */
  dataDir: string;
  /** When non-empty, only these match ids are audited (validated by the caller). */
  matchIds?: readonly string[];
}

/**
 * Walks the paths to audit, down to the `matchID=` entries. A path may be a
 * data dir (every `matchID=*` entry in it), one `matchID=…` directory, or
 * one file. Without paths, the data dir is walked: it must be a directory
 * (or a link to one), not a file to audit. Other directories in a
 * data dir (such as `.quarantine`) and other files are ignored, except
 * stray temp files.
 *
 * Symlinks are never followed, except a data dir given as a path (or the
 * default data dir) that is one: a `matchID=` symlink, or a symlink or
 * special file named `raw.json.gz`, is given as a file to audit, which
 * reports it `not_regular` without following or opening it.
 *
 * Every path is checked before the walk starts. Match dirs and files given
 * as paths come first, then the data dirs; an item is given once even when
 * two paths lead to it (a data dir and a match dir or file in it).
 *
 * @param paths The paths given on the command line (may be empty).
 * @param options The default data dir and the match id filter.
 * @returns The units and data-dir-level findings, lazily.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when a path does not exist;
 * kind `permanent`, code `data_dir`, when there is no path and the data dir is not a directory.
 *
 * @example
 * ```ts ignore
 * import { expandUnit, walkRoots } from "./scan_stream.ts";
 * for await (const item of walkRoots([], { dataDir: "./data/telemetry" })) {
 *   if (item.kind === "unit") for (const found of expandUnit(item.unit, [])) console.log(found);
 * }
 * ```
 */
export function walkRoots(
  paths: readonly string[],
  options: ScanStreamOptions,
): AsyncIterable<WalkItem> {
  const { dataDir, matchIds = [] } = options;
  if (paths.length === 0) assertDataDir(resolve(dataDir));
  const roots = (paths.length === 0 ? [dataDir] : paths).map((p) => classifyRoot(resolve(p)));
  return walk(roots, new Set(matchIds));
}

/**
 * Reads one unit of the walk: the items of one `matchID=` entry (its stray
 * temp files, then its `raw.json.gz` or a `missing` finding), or the file
 * given as a path. Sync calls: a match directory holds one or two entries,
 * and a sync call costs a fraction of an async one, which waits for a
 * thread of the pool.
 *
 * @param unit The unit, from {@linkcode walkRoots}.
 * @param matchIds The match id filter (empty: all).
 * @returns The items.
 * @throws {Error} when the match directory cannot be read.
 */
export function* expandUnit(unit: ScanUnit, matchIds: readonly string[]): Generator<ScanItem> {
  const filter = new Set(matchIds);
  if (unit.kind === "file") {
    yield* expandFile(unit.path, filter);
    return;
  }
  const skip = unit.skip;
  for (const item of expandEntry(unit, filter)) {
    if (skip === undefined || !skip.includes(itemPath(item))) yield item;
  }
}

/**
 * The whole walk, item by item: {@linkcode walkRoots} with each unit
 * expanded in place by {@linkcode expandUnit}.
 *
 * @param paths The paths given on the command line (may be empty).
 * @param options The default data dir and the match id filter.
 * @returns The items, lazily.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when a path does not exist;
 * kind `permanent`, code `data_dir`, when there is no path and the data dir is not a directory.
 *
 * @example
 * ```ts ignore
 * import { scanStream } from "./scan_stream.ts";
 * for await (const item of scanStream([], { dataDir: "./data/telemetry" })) {
 *   console.log(item.kind === "file" ? item.target.path : item.finding.status);
 * }
 * ```
 */
export function scanStream(
  paths: readonly string[],
  options: ScanStreamOptions,
): AsyncIterable<ScanItem> {
  const walked = walkRoots(paths, options);
  const matchIds = options.matchIds ?? [];
  return (async function* () {
    for await (const item of walked) {
      if (item.kind === "finding") yield item;
      else yield* expandUnit(item.unit, matchIds);
    }
  })();
}

/** A path to walk, by what it is. */
type Root =
  | { kind: "data_dir"; path: string }
  | { kind: "entry"; path: string; id: string; isDir: boolean }
  | { kind: "file"; path: string };

/**
 * Refuses a data dir (`--data-dir`, `TELEMETRY_DATA_DIR`) that is a file,
 * in the words and kind `download` uses (`data dir … is not a directory`,
 * `permanent`, code `data_dir`), instead of auditing the file itself; one
 * that does not exist (or a link to nothing) is a usage error, like a
 * missing path.
 */
function assertDataDir(path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path); // followed: a data dir may be a link to another disk
  } catch (err) {
    if (isMissing(err)) throw noSuchPath(path);
    throw err;
  }
  if (!info.isDirectory) {
    throw new TelemetryError("permanent", "data_dir", `data dir ${path} is not a directory`);
  }
}

function classifyRoot(path: string): Root {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (isMissing(err)) throw noSuchPath(path);
    throw err;
  }
  const id = matchIdOfDirName(basename(path));
  if (id === undefined && (info.isDirectory || (info.isSymlink && isDirectory(path)))) {
    // A data dir given by the operator may be a link (to another disk): followed.
    return { kind: "data_dir", path };
  }
  if (id !== undefined && !info.isFile) return { kind: "entry", path, id, isDir: info.isDirectory };
  return { kind: "file", path };
}

async function* walk(roots: Root[], filter: Set<string>): AsyncGenerator<WalkItem> {
  const unique = [...new Map(roots.map((r) => [r.path, r])).values()];
  const entries = new Set(unique.filter((r) => r.kind === "entry").map((r) => r.path));
  // Files given as paths, by directory: an entry that holds one skips it.
  const filesByDir = new Map<string, string[]>();
  for (const root of unique) {
    if (root.kind !== "file" || entries.has(dirname(root.path))) continue;
    const files = filesByDir.get(dirname(root.path)) ?? [];
    files.push(root.path);
    filesByDir.set(dirname(root.path), files);
  }
  for (const root of unique) {
    if (root.kind === "data_dir") continue;
    if (root.kind === "file" && entries.has(dirname(root.path))) continue;
    yield {
      kind: "unit",
      unit: root.kind === "file"
        ? { kind: "file", path: root.path }
        : entryUnit(root.path, root.id, dirname(root.path), root.isDir, filesByDir),
    };
  }
  for (const root of unique) {
    if (root.kind !== "data_dir") continue;
    for await (const item of walkDataDir(root.path, filter)) {
      if (item.kind === "unit" && item.unit.kind === "entry") {
        const { path, id, dataDir, isDir } = item.unit;
        if (entries.has(path)) continue; // Given as a path: walked already.
        if (!isDir && filesByDir.has(path)) continue; // A link whose file was given: reported already.
        yield { kind: "unit", unit: entryUnit(path, id, dataDir, isDir, filesByDir) };
      } else {
        yield item;
      }
    }
  }
}

function entryUnit(
  path: string,
  id: string,
  dataDir: string,
  isDir: boolean,
  filesByDir: Map<string, string[]>,
): ScanUnit {
  const skip = filesByDir.get(path);
  return skip === undefined
    ? { kind: "entry", path, id, dataDir, isDir }
    : { kind: "entry", path, id, dataDir, isDir, skip };
}

async function* walkDataDir(dataDir: string, filter: Set<string>): AsyncGenerator<WalkItem> {
  // Deno reads a directory whole: its listing is the one thing held per
  // entry while the directory is walked (async: the sync call takes twice
  // the memory). It is iterated as it is, never copied.
  const listing = Deno.readDir(dataDir);
  // Only ids of the filter are remembered, to report those without a directory.
  const seen = new Set<string>();
  for await (const entry of listing) {
    const id = matchIdOfDirName(entry.name);
    if (id !== undefined && !entry.isFile) {
      // A directory is walked; a symlink or special file is reported, never followed.
      if (filter.has(id)) seen.add(id);
      if (!isValidMatchId(id)) {
        if (filter.size === 0) yield badDirName(join(dataDir, entry.name), dataDir);
      } else if (filter.size === 0 || filter.has(id)) {
        const path = join(dataDir, entry.name);
        yield {
          kind: "unit",
          unit: { kind: "entry", path, id, dataDir, isDir: entry.isDirectory },
        };
      }
    } else if (entry.isFile && isTempFileName(entry.name) && filter.size === 0) {
      const temp = tempItem(join(dataDir, entry.name), undefined, dataDir);
      if (temp !== undefined) yield temp;
    }
  }
  for (const id of filter) {
    if (seen.has(id)) continue;
    yield findingItem({
      path: join(dataDir, `${MATCH_DIR_PREFIX}${id}`),
      matchId: id,
      status: "missing",
      detail: `no directory ${MATCH_DIR_PREFIX}${id} in ${dataDir}`,
      dataDir,
    });
  }
}

/** A path given that is not a directory: one file, audited as the file of its match dir. */
function* expandFile(path: string, filter: Set<string>): Generator<ScanItem> {
  const dir = dirname(path);
  const id = matchIdOfDirName(basename(dir));
  const valid = id !== undefined && isValidMatchId(id);
  if (!wanted(filter, valid ? id : undefined)) return;
  if (valid && !isRealDirectory(dir)) {
    // The file is reached through a matchID= symlink: report the link, not what it leads to.
    yield fileItem(dir, id, dirname(dir));
    return;
  }
  yield fileItem(path, valid ? id : undefined, valid ? dirname(dir) : dir);
}

function* expandEntry(
  unit: Extract<ScanUnit, { kind: "entry" }>,
  filter: Set<string>,
): Generator<ScanItem> {
  const { path: dir, id, dataDir, isDir } = unit;
  if (!isValidMatchId(id)) {
    if (filter.size === 0) yield badDirName(dir, dataDir);
    return;
  }
  if (!wanted(filter, id)) return;
  if (!isDir) {
    yield fileItem(dir, id, dataDir);
    return;
  }
  let hasRaw = false;
  let temps = 0;
  const others: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.name === RAW_FILE_NAME) {
      hasRaw = true;
    } else if (isTempFileName(entry.name)) {
      temps++;
      const temp = entry.isFile ? tempItem(join(dir, entry.name), id, dataDir) : undefined;
      if (temp !== undefined) yield temp;
    } else {
      others.push(entry.name);
    }
  }
  if (hasRaw) {
    yield fileItem(join(dir, RAW_FILE_NAME), id, dataDir);
    return;
  }
  yield findingItem({
    path: dir,
    matchId: id,
    status: "missing",
    detail: missingDetail(others, temps > 0),
    dataDir,
  });
}

function wanted(filter: Set<string>, matchId: string | undefined): boolean {
  return filter.size === 0 || (matchId !== undefined && filter.has(matchId));
}

function itemPath(item: ScanItem): string {
  return item.kind === "file" ? item.target.path : item.finding.path;
}

function fileItem(path: string, matchId: string | undefined, dataDir: string): ScanItem {
  return { kind: "file", target: { path, matchId, dataDir } };
}

function findingItem(
  finding: Omit<ScanFinding, "bytes" | "decompressedBytes" | "seconds">,
  bytes?: number,
): { kind: "finding"; finding: ScanFinding } {
  return {
    kind: "finding",
    finding: { bytes, decompressedBytes: undefined, seconds: 0, ...finding },
  };
}

function badDirName(dir: string, dataDir: string): { kind: "finding"; finding: ScanFinding } {
  return findingItem({
    path: dir,
    matchId: undefined,
    status: "bad_dir_name",
    detail: `directory name ${
      JSON.stringify(basename(dir))
    } is not a valid match id (1-128 characters of A-Z a-z 0-9 . _ -): not audited`,
    dataDir,
  });
}

/** A stray temp file, or undefined when it is gone already (committed or removed meanwhile). */
function tempItem(
  path: string,
  matchId: string | undefined,
  dataDir: string,
): { kind: "finding"; finding: ScanFinding } | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
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
  return findingItem(finding, info.size);
}

/** Why a match dir has no `raw.json.gz`: what else is there (temp files aside). */
function missingDetail(others: string[], hasTemps: boolean): string {
  if (others.includes(PARQUET_FILE_NAME)) {
    return `no ${RAW_FILE_NAME}, but ${PARQUET_FILE_NAME} is there (written by the old R worker)`;
  }
  if (others.length === 0) {
    return `no ${RAW_FILE_NAME} (directory is empty${hasTemps ? " but for temp files" : ""})`;
  }
  const shown = others.sort().slice(0, 5).join(", ");
  return `no ${RAW_FILE_NAME} (contains ${shown}${others.length > 5 ? ", ..." : ""})`;
}

/** Whether `path` leads to a directory, following a symlink. */
/** A path that is not there: missing, or under a file (`file/sub`, ENOTDIR). */
function isMissing(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

function noSuchPath(path: string): TelemetryError {
  return new TelemetryError(
    "usage",
    "bad_option",
    `cannot verify ${path}: no such file or directory`,
  );
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path` is a directory itself, not a symlink to one. */
function isRealDirectory(path: string): boolean {
  try {
    return Deno.lstatSync(path).isDirectory;
  } catch {
    return false;
  }
}
