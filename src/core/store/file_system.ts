/**
 * The file system operations the core needs, behind an interface so tests can
 * inject failures (a full disk, a failing rename) without touching the real one.
 *
 * A temp file being written is held under an exclusive `flock` for as long
 * as its writer has it open. The kernel drops the lock when the writer
 * closes it or dies (`kill -9`, out of memory), so a temp file whose lock can
 * be taken has no writer: {@linkcode FileSystem.removeOrphanedTemps} removes
 * those, and never one that a live download, in this process or another,
 * still writes.
 *
 * @module
 */

import { join } from "node:path";
import { isTempFileName } from "./storage.ts";

/** An open file, as much of `Deno.FsFile` as the core uses. */
export interface WritableFile {
  /** Writes some bytes; returns how many were written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Flushes the file's data and metadata to the disk. */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/**
 * Writes all of `bytes` (a write may take fewer than it was given).
 *
 * @param file The file.
 * @param bytes What to write.
 * @returns When every byte is written.
 *
 * @example
 * ```ts
 * import { writeFully } from "./file_system.ts";
 * const taken: number[] = [];
 * const file = { write: (b: Uint8Array) => Promise.resolve(taken.push(b[0]!) && 1) };
 * await writeFully(file, new Uint8Array([1, 2, 3]));
 * if (taken.join() !== "1,2,3") throw new Error("unexpected");
 * ```
 */
export async function writeFully(
  file: Pick<WritableFile, "write">,
  bytes: Uint8Array,
): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await file.write(bytes.subarray(written));
  }
}

/** File system operations used by the atomic writer and the storage code. */
export interface FileSystem {
  /** Creates a new file for writing; fails if it exists. */
  create(path: string): Promise<WritableFile>;
  /** Opens a directory and fsyncs it, making a rename in it durable. */
  syncDir(path: string): Promise<void>;
  /** Renames a file, replacing the destination atomically. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; does nothing when it does not exist. */
  removeIfExists(path: string): Promise<void>;
  /**
   * Creates a directory and its parents; resolves `true` when this call made
   * the directory itself, `false` when it was there already.
   */
  mkdirp(path: string): Promise<boolean>;
  /**
   * The size of the regular file at the path, or undefined when there is
   * none. A symlink is not a stored file, even to a regular file: it is not
   * followed.
   */
  fileSize(path: string): Promise<number | undefined>;
  /** Removes a directory if it is empty; does nothing otherwise. */
  removeDirIfEmpty(path: string): Promise<void>;
  /**
   * Removes the temp files in `dir` that no writer holds any more (left by
   * a process that died mid-download); returns their names.
   */
  removeOrphanedTemps(dir: string): Promise<string[]>;
}

async function create(path: string): Promise<WritableFile> {
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
  try {
    // Held until the file is closed or the process dies: see removeOrphanedTemps.
    await file.lock(true);
  } catch (err) {
    file.close();
    throw err;
  }
  return file;
}

async function removeOrphanedTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return removed;
    throw err;
  }
  for (const entry of entries) {
    if (!entry.isFile || !isTempFileName(entry.name)) continue;
    const path = join(dir, entry.name);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      continue; // gone already, or not ours to open
    }
    try {
      // A writer that is alive holds the lock. (A writer that created its
      // file an instant ago and has not locked it yet would find it unlinked
      // and fail its commit: a transient error, retried, never a loss.)
      if (await file.tryLock(true)) {
        await Deno.remove(path);
        removed.push(entry.name);
      }
    } catch {
      // Removed by someone else meanwhile: nothing to do.
    } finally {
      file.close();
    }
  }
  return removed;
}

async function syncDir(path: string): Promise<void> {
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function mkdirp(path: string): Promise<boolean> {
  try {
    await Deno.mkdir(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      // There already, or a file of that name: only a directory will do.
      if ((await Deno.stat(path)).isDirectory) return false;
      throw err;
    }
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  // A parent is missing: create the chain (another process may race us to it).
  await Deno.mkdir(path, { recursive: true });
  return true;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await Deno.lstat(path);
    return info.isFile ? info.size : undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

async function removeDirIfEmpty(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Not empty (another job writes there) or already gone: both are fine.
  }
}

async function rename(from: string, to: string): Promise<void> {
  await Deno.rename(from, to);
}

/** The real file system. */
export const denoFileSystem: FileSystem = {
  create,
  syncDir,
  rename,
  removeIfExists,
  mkdirp,
  fileSize,
  removeDirIfEmpty,
  removeOrphanedTemps,
};
