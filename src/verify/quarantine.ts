/**
 * Setting bad files aside: `<data-dir>/.quarantine/<UTC stamp>/matchID=<id>/`.
 * A move (rename), never a delete, so nothing is ever lost; the freed slot
 * makes `consume` download the match again.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { denoFileSystem } from "../core/store/file_system.ts";
import { asStoreFault, type StoreOperation } from "../core/store/store_fault.ts";
import { MATCH_DIR_PREFIX, QUARANTINE_DIR_NAME } from "../core/store/storage.ts";
import { assertUnchanged } from "./file_stream.ts";
import type { FileIdentity } from "./result.ts";

/** Options of {@linkcode quarantineFile}. */
export interface QuarantineOptions {
  /** The data dir holding the `.quarantine` directory (same file system as the file). */
  dataDir: string;
  /** The file's match id; files outside a match directory go straight under the stamp. */
  matchId: string | undefined;
  /** The run's directory name inside `.quarantine`, from {@linkcode quarantineStamp}. */
  stamp: string;
  /** The file's identity when audited: a file that changed since is not moved. */
  identity?: FileIdentity | undefined;
}

/** Where {@linkcode quarantineFile} put a file. */
export interface QuarantineResult {
  /** The new path of the file. */
  to: string;
  /** Whether its match directory was left empty and removed. */
  removedDir: boolean;
}

/**
 * A UTC timestamp usable as a directory name: `20241128T120304Z`.
 *
 * @param date The time of the run.
 * @returns The stamp.
 *
 * @example
 * ```ts
 * import { quarantineStamp } from "./quarantine.ts";
 * if (quarantineStamp(new Date(Date.UTC(2024, 10, 28, 12, 3, 4))) !== "20241128T120304Z") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function quarantineStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

/**
 * The directory a match's files are quarantined to in one run.
 *
 * @param options Data dir, match id and stamp.
 * @returns `<data-dir>/.quarantine/<stamp>/matchID=<id>`.
 */
export function quarantineDir(options: Omit<QuarantineOptions, "identity">): string {
  const { dataDir, matchId, stamp } = options;
  const base = join(dataDir, QUARANTINE_DIR_NAME, stamp);
  return matchId === undefined ? base : join(base, `${MATCH_DIR_PREFIX}${matchId}`);
}

/**
 * Moves a file into the quarantine (rename, then fsync of both
 * directories), never overwriting anything there, then removes its
 * `matchID=` directory when that move left it empty.
 *
 * @param path The file to move.
 * @param options Data dir, match id, stamp and audited identity.
 * @returns Where it went.
 * @throws {StoreFaultError} kind `store`, when the store refuses the move
 * (full, read-only, an I/O error, a permission on a match directory).
 * @throws {Error} when the file changed since it was audited or cannot be
 * moved; it is then where it was.
 *
 * @example
 * ```ts ignore
 * import { quarantineFile, quarantineStamp } from "./quarantine.ts";
 * const stamp = quarantineStamp(new Date());
 * await quarantineFile("/data/matchID=abc/raw.json.gz", { dataDir: "/data", matchId: "abc", stamp });
 * ```
 */
export async function quarantineFile(
  path: string,
  options: QuarantineOptions,
): Promise<QuarantineResult> {
  const { matchId, identity } = options;
  await assertUnchanged(path, identity);
  const destDir = quarantineDir(options);
  let op: StoreOperation = "mkdir";
  let to = join(destDir, basename(path));
  try {
    await Deno.mkdir(destDir, { recursive: true });
    to = await freeName(to);
    op = "rename";
    await Deno.rename(path, to);
  } catch (err) {
    const fault = await asStoreFault(err, {
      op,
      path: op === "mkdir" ? destDir : path,
      to: op === "rename" ? to : undefined,
      dataDir: options.dataDir,
    });
    throw fault ?? err;
  }
  await denoFileSystem.syncDir(destDir);
  const sourceDir = dirname(path);
  await denoFileSystem.syncDir(sourceDir);
  let removedDir = false;
  if (matchId !== undefined && (await isEmptyDir(sourceDir))) {
    try {
      await Deno.remove(sourceDir);
      removedDir = true;
      await denoFileSystem.syncDir(dirname(sourceDir));
    } catch {
      // A download wrote into it meanwhile, or it is gone: either way it stays correct.
    }
  }
  return { to, removedDir };
}

/** `path`, or `path.1`, `path.2`... : the first name not taken. */
async function freeName(path: string): Promise<string> {
  for (let n = 0;; n++) {
    const candidate = n === 0 ? path : `${path}.${n}`;
    try {
      await Deno.lstat(candidate);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return candidate;
      throw err;
    }
  }
}

/** Whether `dir` is a real directory (not a symlink to one) with nothing in it. */
async function isEmptyDir(dir: string): Promise<boolean> {
  if (!(await Deno.lstat(dir)).isDirectory) return false;
  for await (const _ of Deno.readDir(dir)) return false;
  return true;
}
