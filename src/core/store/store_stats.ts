/**
 * A quick census of a data dir for `telemetry status`: how many matches are
 * stored, how many bytes they take, and which temp files are lying around,
 * from names and sizes only (no file is opened or decompressed; `verify`
 * is the audit). The walk streams the directory and keeps only counters,
 * so a store of a million matches costs no more memory than one of ten.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { TelemetryError } from "../errors.ts";
import { runPool } from "../pool.ts";
import { fsErrorReason } from "./fs_error.ts";
import { isTempFileName, matchIdOfDirName, RAW_FILE_NAME } from "./storage.ts";

/**
 * Age beyond which a temp file is taken for the leftover of a crash: the
 * threshold `verify --fix` uses too (`src/verify/fix.ts`).
 */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

/** Default of {@linkcode StoreStatsOptions.concurrency}. */
export const DEFAULT_STORE_SCAN_CONCURRENCY = 16;

/** Options of {@linkcode storeStats}. */
export interface StoreStatsOptions {
  /** Match directories read at once. @default {DEFAULT_STORE_SCAN_CONCURRENCY} */
  concurrency?: number;
  /** The clock the temp files' age is measured with. @default {() => new Date()} */
  now?: () => Date;
  /** Stops the walk early (the counters then cover what was walked). */
  signal?: AbortSignal | undefined;
}

/** What a data dir holds, counted. */
export interface StoreStats {
  /** The data dir, absolute. */
  dataDir: string;
  /** `matchID=<id>` directories holding a regular `raw.json.gz`. */
  matches: number;
  /** The size of those files, in bytes. */
  bytes: number;
  /**
   * `matchID=<id>` directories without `raw.json.gz`: a download in
   * progress, or one that failed or crashed (`verify` reports them `missing`).
   */
  withoutFile: number;
  /** `matchID=` entries that are not plain directories or files (symlinks; `verify` reports them). */
  irregular: number;
  /** Temp files (`.raw.json.gz.<hex>.tmp`), in the data dir and in match directories. */
  tempFiles: number;
  /** Their size, in bytes. */
  tempBytes: number;
  /** Temp files older than {@linkcode STALE_TEMP_AGE_MS}: left by a crash (`verify --fix` removes them). */
  staleTempFiles: number;
  /** Match directories or files that could not be read (permissions). */
  unreadable: number;
  /** How long the walk took. */
  seconds: number;
}

/**
 * Counts the matches, bytes and temp files of a data dir, by names and
 * sizes only. Entries that vanish during the walk (a worker renaming its
 * temp file) are simply not counted.
 *
 * @param dataDir The data dir.
 * @param options Concurrency, clock and abort signal.
 * @returns The counters.
 * @throws {TelemetryError} kind `permanent`, code `data_dir`, when the data dir cannot be listed.
 *
 * @example
 * ```ts
 * import { storeStats } from "./store_stats.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/matchID=abc`);
 * await Deno.writeFile(`${dir}/matchID=abc/raw.json.gz`, new Uint8Array(10));
 * const stats = await storeStats(dir);
 * await Deno.remove(dir, { recursive: true });
 * if (stats.matches !== 1 || stats.bytes !== 10) throw new Error("unexpected");
 * ```
 */
export async function storeStats(
  dataDir: string,
  options: StoreStatsOptions = {},
): Promise<StoreStats> {
  const { concurrency = DEFAULT_STORE_SCAN_CONCURRENCY, now = () => new Date(), signal } = options;
  const started = performance.now();
  const root = resolve(dataDir);
  const stats: StoreStats = {
    dataDir: root,
    matches: 0,
    bytes: 0,
    withoutFile: 0,
    irregular: 0,
    tempFiles: 0,
    tempBytes: 0,
    staleTempFiles: 0,
    unreadable: 0,
    seconds: 0,
  };
  const at = now().getTime();
  const count = new Counter(stats, at);
  let entries: AsyncIterable<Deno.DirEntry>;
  try {
    entries = await firstEntryChecked(root);
  } catch (err) {
    throw new TelemetryError(
      "permanent",
      "data_dir",
      `cannot read data dir ${root}: ${fsErrorReason(err)}`,
      { cause: err },
    );
  }
  await runPool(entries, {
    concurrency,
    ...(signal === undefined ? {} : { signal }),
    worker: async (entry) => {
      const path = join(root, entry.name);
      if (matchIdOfDirName(entry.name) !== undefined) {
        if (entry.isDirectory) await count.matchDir(path);
        else stats.irregular++;
      } else if (entry.isFile && isTempFileName(entry.name)) {
        await count.tempFile(path);
      }
    },
  });
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

/** Adds what one directory or file holds to the counters. */
class Counter {
  #stats: StoreStats;
  #now: number;

  constructor(stats: StoreStats, now: number) {
    this.#stats = stats;
    this.#now = now;
  }

  async matchDir(dir: string): Promise<void> {
    const stats = this.#stats;
    let hasFile = false;
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.name === RAW_FILE_NAME) {
          hasFile = true;
          const info = await lstatOrUndefined(join(dir, entry.name));
          if (info === undefined) hasFile = false;
          else if (info.isFile) {
            stats.matches++;
            stats.bytes += info.size;
          } else stats.irregular++;
        } else if (entry.isFile && isTempFileName(entry.name)) {
          await this.tempFile(join(dir, entry.name));
        }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return; // removed meanwhile (verify --fix)
      stats.unreadable++;
      return;
    }
    if (!hasFile) stats.withoutFile++;
  }

  async tempFile(path: string): Promise<void> {
    const stats = this.#stats;
    let info: Deno.FileInfo | undefined;
    try {
      info = await lstatOrUndefined(path);
    } catch {
      stats.unreadable++;
      return;
    }
    if (info === undefined) return; // renamed into place or removed meanwhile
    stats.tempFiles++;
    stats.tempBytes += info.size;
    const mtime = info.mtime?.getTime();
    if (mtime !== undefined && this.#now - mtime >= STALE_TEMP_AGE_MS) stats.staleTempFiles++;
  }
}

/** `Deno.lstat`, or undefined when the path is gone. */
async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * The entries of `dir`, streamed; the first read happens here, so a data
 * dir that is missing or unreadable throws before the walk starts.
 */
async function firstEntryChecked(dir: string): Promise<AsyncIterable<Deno.DirEntry>> {
  const iterator = Deno.readDir(dir)[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        yield next.value;
      }
    },
  };
}
