/**
 * Atomic file commit: bytes go to a temp file, normally in the same directory
 * as the final file; only {@linkcode AtomicFile.commit} makes them visible, by
 * fsync, rename and directory fsync. A crash at any moment leaves either no
 * final file or a complete one, plus at worst a temp file. The next download
 * into the same match directory removes such a temp file once no process
 * holds it ({@linkcode AtomicFileOptions.removeOrphans}, `file_system.ts`);
 * `verify --fix` cleans up the rest.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { TelemetryError } from "../errors.ts";
import { denoFileSystem, type FileSystem, type WritableFile, writeFully } from "./file_system.ts";
import { fsErrorReason } from "./fs_error.ts";
import { tempFileName } from "./storage.ts";
import { asStoreFault, type StoreOperation } from "./store_fault.ts";

/** Options of {@linkcode createAtomicFile}. */
export interface AtomicFileOptions {
  /**
   * The file system to use.
   * @default {denoFileSystem}
   */
  fs?: FileSystem;
  /**
   * First remove the temp files in `dir` that no live writer holds (left by
   * a process that died mid-write). Only for a small directory of one
   * match, never for the data dir itself.
   * @default {false}
   */
  removeOrphans?: boolean;
  /**
   * The data dir of the store the file is in. When given, a failure that is
   * a condition of the store (full, read-only, an I/O error, a permission
   * on the data dir or a match directory) throws a `StoreFaultError` (kind
   * `store`) instead of a transient `io` error: retrying the download
   * cannot fix it (`store_fault.ts`).
   */
  dataDir?: string | undefined;
}

/** A temp file that becomes a final file on {@linkcode AtomicFile.commit}. */
export interface AtomicFile {
  /** The temp path the bytes are written to. */
  readonly tempPath: string;
  /**
   * Sink for the content. Every chunk is written fully before the next is
   * taken (no hidden buffer). Closing it does not commit.
   */
  readonly writable: WritableStream<Uint8Array>;
  /** Bytes written so far. */
  readonly bytesWritten: number;
  /**
   * fsync the temp file, rename it onto `finalPath` (creating its directory
   * if needed), fsync the directories involved: the final one, the temp
   * file's, and the final one's parent (which holds the entry of a directory
   * just created). `finalPath` must be on the
   * same file system as the temp file: the same directory or a sibling.
   */
  commit(finalPath: string): Promise<void>;
  /** Close and delete the temp file. Safe to call more than once, and after commit (no-op). */
  abort(): Promise<void>;
}

/**
 * Creates `dir` if needed and a fresh temp file in it.
 *
 * @param dir The directory of the temp file: the final file's directory.
 * @param options The file system.
 * @returns The open {@linkcode AtomicFile}.
 * @throws {StoreFaultError} kind `store`, when the store is full, read-only,
 * failing or refuses the write (with `dataDir`).
 * @throws {TelemetryError} kind `transient`, code `io`, when the directory or file cannot be created.
 *
 * @example
 * ```ts ignore
 * import { createAtomicFile } from "./atomic_file.ts";
 * const file = await createAtomicFile("/data/matchID=abc");
 * try {
 *   await ReadableStream.from([new Uint8Array([1, 2, 3])]).pipeTo(file.writable);
 *   await file.commit("/data/matchID=abc/raw.json.gz");
 * } finally {
 *   await file.abort();
 * }
 * ```
 */
export async function createAtomicFile(
  dir: string,
  options: AtomicFileOptions = {},
): Promise<AtomicFile> {
  const { fs = denoFileSystem, removeOrphans = false, dataDir } = options;
  const tempPath = join(dir, tempFileName());
  let file: WritableFile;
  let op: StoreOperation = "mkdir";
  try {
    const made = await fs.mkdirp(dir);
    // Temp files of a download that died with its process (kill -9, OOM);
    // a directory this call just made has none, and is not read.
    if (removeOrphans && !made) await fs.removeOrphanedTemps(dir).catch(() => []);
    op = "create";
    file = await fs.create(tempPath);
  } catch (err) {
    const path = op === "mkdir" ? dir : tempPath;
    throw await failure(`cannot create ${tempPath}`, err, { op, path, dataDir });
  }
  return new DenoAtomicFile(tempPath, file, fs, dataDir);
}

class DenoAtomicFile implements AtomicFile {
  readonly tempPath: string;
  readonly writable: WritableStream<Uint8Array>;
  #file: WritableFile;
  #fs: FileSystem;
  #dataDir: string | undefined;
  #bytes = 0;
  #state: "open" | "committed" | "aborted" = "open";

  constructor(tempPath: string, file: WritableFile, fs: FileSystem, dataDir: string | undefined) {
    this.tempPath = tempPath;
    this.#file = file;
    this.#fs = fs;
    this.#dataDir = dataDir;
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
    });
  }

  get bytesWritten(): number {
    return this.#bytes;
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== "open") throw new Error(`write after ${this.#state}: ${this.tempPath}`);
    try {
      await writeFully(this.#file, chunk);
    } catch (err) {
      throw await failure(`cannot write ${this.tempPath}`, err, {
        op: "write",
        path: this.tempPath,
        dataDir: this.#dataDir,
      });
    }
    this.#bytes += chunk.length;
  }

  async commit(finalPath: string): Promise<void> {
    if (this.#state !== "open") throw new Error(`commit after ${this.#state}: ${this.tempPath}`);
    const tempDir = dirname(this.tempPath);
    const finalDir = dirname(finalPath);
    let op: StoreOperation = "fsync";
    let path = this.tempPath;
    try {
      try {
        await this.#file.sync();
      } finally {
        // Closed whether or not the fsync worked: a failed fsync must not leak the handle.
        this.#state = "committed";
        this.#closeFile();
      }
      if (finalDir !== tempDir) {
        op = "mkdir";
        path = finalDir;
        await this.#fs.mkdirp(finalDir);
      }
      op = "rename";
      path = this.tempPath;
      await this.#fs.rename(this.tempPath, finalPath);
    } catch (err) {
      this.#state = "committed";
      await this.#fs.removeIfExists(this.tempPath).catch(() => {});
      const to = op === "rename" ? finalPath : undefined;
      throw await failure(`cannot commit ${finalPath}`, err, {
        op,
        path,
        to,
        dataDir: this.#dataDir,
      });
    }
    try {
      // The final directory may have been created for this file (matchID=<id>):
      // its own entry must be durable too, or a crash could lose the directory
      // and the file with it after the job was acknowledged. The syncs are
      // independent, so they run at once.
      const dirs = new Set([finalDir, tempDir, dirname(finalDir)]);
      await Promise.all([...dirs].map((dir) => this.#fs.syncDir(dir)));
    } catch (err) {
      throw await failure(`cannot fsync the directory of ${finalPath}`, err, {
        op: "fsync",
        path: finalDir,
        dataDir: this.#dataDir,
      });
    }
  }

  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    this.#closeFile();
    await this.#fs.removeIfExists(this.tempPath);
  }

  #closeFile(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed (by a failed write): the removal of the temp is what matters.
    }
  }
}

/**
 * The error of a failed step: a store fault (kind `store`) when the data dir
 * is known and the failure is a condition of the store, else a transient
 * `io` error.
 */
async function failure(
  what: string,
  cause: unknown,
  where: { op: StoreOperation; path: string; to?: string | undefined; dataDir: string | undefined },
): Promise<TelemetryError> {
  const { dataDir, ...context } = where;
  const fault = dataDir === undefined
    ? undefined
    : await asStoreFault(cause, { ...context, dataDir });
  return fault ?? ioError(what, cause);
}

function ioError(what: string, cause: unknown): TelemetryError {
  return new TelemetryError("transient", "io", `${what}: ${fsErrorReason(cause)}`, { cause });
}
