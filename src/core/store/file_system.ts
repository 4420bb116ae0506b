/**
 * The file system operations the core needs, behind an interface so tests can
 * inject failures (a full disk, a failing rename) without touching the real one.
 *
 * @module
 */

/** An open file, as much of `Deno.FsFile` as the core uses. */
export interface WritableFile {
  /** Writes some bytes; returns how many were written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Flushes the file's data and metadata to the disk. */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): void;
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
  /** Creates a directory and its parents. */
  mkdirp(path: string): Promise<void>;
  /**
   * The size of the regular file at the path, or undefined when there is
   * none. A symlink is not a stored file, even to a regular file: it is not
   * followed.
   */
  fileSize(path: string): Promise<number | undefined>;
  /** Removes a directory if it is empty; does nothing otherwise. */
  removeDirIfEmpty(path: string): Promise<void>;
}

async function create(path: string): Promise<WritableFile> {
  return await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
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

async function mkdirp(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
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
};
