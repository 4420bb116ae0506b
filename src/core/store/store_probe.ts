/**
 * The store probe: whether the data dir can take a write now. A paused
 * worker runs it every few seconds and resumes when it passes; `download`
 * and `consume` can run it before starting (issue 21).
 *
 * It reads the free space (against the floor) first, so a store below the
 * floor is not written to at all; then it makes a small real write: a temp
 * file in the data dir, named like the temp files of an atomic write
 * (`.raw.json.gz.<hex>.tmp`, so `verify` reports one a crash left and
 * `verify --fix` removes it after an hour), 4 KiB written, fsynced, closed
 * and removed.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { TelemetryError } from "../errors.ts";
import {
  belowFloor,
  DEFAULT_FREE_SPACE_FLOOR,
  type FreeSpace,
  freeSpace,
  type FreeSpaceFloor,
} from "./free_space.ts";
import { denoFileSystem, type FileSystem, type WritableFile, writeFully } from "./file_system.ts";
import { fsErrorReason } from "./fs_error.ts";
import { tempFileName } from "./storage.ts";
import {
  asStoreFault,
  floorFaultError,
  type StoreFaultError,
  type StoreOperation,
} from "./store_fault.ts";

/** Bytes the probe writes: one page, so a full file system refuses it. */
export const PROBE_BYTES = 4096;

/** Options of {@linkcode probeStore}. */
export interface ProbeStoreOptions {
  /** The free space to keep (`--min-free-space`). @default {DEFAULT_FREE_SPACE_FLOOR} */
  floor?: FreeSpaceFloor;
  /** The file system the probe file is written with. @default {denoFileSystem} */
  fs?: FileSystem;
  /** Reads the free space of a path. @default {freeSpace} */
  freeSpace?: (path: string) => Promise<FreeSpace>;
  /** A clock in milliseconds, for {@linkcode StoreProbe.seconds}. @default {performance.now} */
  now?: () => number;
}

/** What the probe found. */
export type StoreProbe =
  | {
    /** The store takes writes, above the floor. */
    ok: true;
    /** The free space, read before the write. */
    space: FreeSpace;
    /** How long the probe took. */
    seconds: number;
  }
  | {
    /** The store cannot be used now. */
    ok: false;
    /**
     * Why: a {@linkcode StoreFaultError} for a condition of the store
     * (full, below the floor, read-only, I/O error, permission on the data
     * dir); otherwise a `transient` `io` error naming the data dir (it is
     * missing, say).
     */
    error: StoreFaultError | TelemetryError;
    /** The free space, when it could be read. */
    space: FreeSpace | undefined;
    /** How long the probe took. */
    seconds: number;
  };

/**
 * Probes the store: the free space against the floor, then a small real
 * write (create, write, fsync, remove). Never throws; leaves no file.
 *
 * @param dataDir The data dir (relative paths are resolved against the cwd).
 * @param options The floor, the file system, the free-space reader and the clock.
 * @returns `ok`, or the error that says why not.
 *
 * @example
 * ```ts
 * import { probeStore } from "./store_probe.ts";
 * const dir = await Deno.makeTempDir();
 * const probe = await probeStore(dir, { floor: { type: "off" } });
 * await Deno.remove(dir);
 * if (!probe.ok) throw probe.error;
 * ```
 */
export async function probeStore(
  dataDir: string,
  options: ProbeStoreOptions = {},
): Promise<StoreProbe> {
  const {
    floor = DEFAULT_FREE_SPACE_FLOOR,
    fs = denoFileSystem,
    freeSpace: readFreeSpace = freeSpace,
    now = () => performance.now(),
  } = options;
  const started = now();
  const seconds = () => (now() - started) / 1000;
  const dir = resolve(dataDir);
  let space: FreeSpace;
  try {
    space = await readFreeSpace(dir);
  } catch (err) {
    const error = await failure(err, "statfs", dir, dir, readFreeSpace);
    return { ok: false, error, space: undefined, seconds: seconds() };
  }
  if (belowFloor(space, floor)) {
    return {
      ok: false,
      error: floorFaultError({ dataDir: dir, space, floor }),
      space,
      seconds: seconds(),
    };
  }
  const path = join(dir, tempFileName());
  let op: StoreOperation = "create";
  let file: WritableFile | undefined;
  try {
    file = await fs.create(path);
    op = "write";
    await writeFully(file, new Uint8Array(PROBE_BYTES));
    op = "fsync";
    await file.sync();
    closeQuietly(file);
    file = undefined;
    op = "remove";
    await fs.removeIfExists(path);
  } catch (err) {
    if (file !== undefined) closeQuietly(file);
    await fs.removeIfExists(path).catch(() => {});
    const error = await failure(err, op, path, dir, () => Promise.resolve(space));
    return { ok: false, error, space, seconds: seconds() };
  }
  return { ok: true, space, seconds: seconds() };
}

/** The store fault of a failed step, or a transient `io` error naming the data dir. */
async function failure(
  err: unknown,
  op: StoreOperation,
  path: string,
  dataDir: string,
  readFreeSpace: (path: string) => Promise<FreeSpace>,
): Promise<StoreFaultError | TelemetryError> {
  const fault = await asStoreFault(err, { op, path, dataDir, freeSpace: readFreeSpace });
  if (fault !== undefined) return fault;
  return new TelemetryError(
    "transient",
    "io",
    `cannot probe the data dir ${dataDir}: ${op} ${path}: ${fsErrorReason(err)}`,
    { cause: err },
  );
}

function closeQuietly(file: WritableFile): void {
  try {
    file.close();
  } catch {
    // Closed already: the removal is what matters.
  }
}
