/**
 * Store faults: a write, fsync, rename, mkdir, open or remove in the store
 * that failed because of the store, not of the job. Retrying the job cannot
 * help and must not count against it; the worker waits until the store is
 * usable again (issue 21). They are:
 *
 * | errno              | reason       | what the operator does                 |
 * | ------------------ | ------------ | -------------------------------------- |
 * | `ENOSPC`, `EDQUOT` | `full`       | free space, raise the quota            |
 * | `EROFS`            | `read_only`  | remount read-write (after a fsck)      |
 * | `EIO`              | `io`         | check the disk                         |
 * | `EACCES`, `EPERM`  | `permission` | fix the owner or mode of the directory |
 *
 * plus a free space below the floor (`--min-free-space`, reason `full`, no
 * errno). `EACCES`/`EPERM` count only on the data dir itself, its direct
 * entries (the match directories) and the entries of a match directory:
 * elsewhere (a `--jobs` file, a quarantine subfolder) a refused permission
 * is not a condition of the store. The runtime's own refusals
 * (`NotCapable`, `Requires … access`) never count: those are the binary's
 * permissions (kind `fatal`, code `permission`).
 *
 * The error is a {@linkcode StoreFaultError}: a `TelemetryError` that keeps
 * the fault and the free space, so a caller can pause, log and report
 * without parsing the message. Its kind is {@linkcode STORE_FAULT_KIND}
 * and its code comes from {@linkcode storeFaultCode}.
 *
 * **The kind and code.** The kind is `store` ("the store is unusable right
 * now; the job is not at fault; wait"), the same for every store fault; the
 * code says what to fix: `store_full`, `store_read_only`, `store_io`,
 * `store_permission`. Callers may branch on the kind, or find a store
 * fault in a cause chain with {@linkcode storeFaultOf}.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { type ErrorCode, type ErrorKind, TelemetryError } from "../errors.ts";
import {
  belowFloor,
  floorBytes,
  formatBytes,
  formatFloor,
  type FreeSpace,
  freeSpace as statFreeSpace,
  type FreeSpaceFloor,
} from "./free_space.ts";
import { fsErrorReason } from "./fs_error.ts";
import { MATCH_DIR_PREFIX } from "./storage.ts";

/** The kind of a {@linkcode StoreFaultError}. */
export const STORE_FAULT_KIND: ErrorKind = "store";

/** The operation on the store that failed. */
export type StoreOperation =
  | "create"
  | "open"
  | "write"
  | "fsync"
  | "rename"
  | "mkdir"
  | "remove"
  | "statfs";

/** Why the store is unusable: one remedy each (see the module doc). */
export type StoreFaultReason = "full" | "read_only" | "io" | "permission";

/** The errnos of a store fault. */
export type StoreErrno = "ENOSPC" | "EDQUOT" | "EROFS" | "EIO" | "EACCES" | "EPERM";

const REASON_OF_ERRNO: Record<StoreErrno, StoreFaultReason> = {
  ENOSPC: "full",
  EDQUOT: "full",
  EROFS: "read_only",
  EIO: "io",
  EACCES: "permission",
  EPERM: "permission",
};

/** Linux error numbers, for an error that names only `(os error N)` in its message. */
const ERRNO_OF_NUMBER: Record<number, StoreErrno> = {
  1: "EPERM",
  5: "EIO",
  13: "EACCES",
  28: "ENOSPC",
  30: "EROFS",
  122: "EDQUOT",
};

/** Where a failed operation happened. */
export interface StoreFaultContext {
  /** The operation. */
  op: StoreOperation;
  /** The path it was on (the source of a rename). */
  path: string;
  /** The destination of a rename. */
  to?: string | undefined;
  /** The data dir: decides whether `EACCES`/`EPERM` are the store's. */
  dataDir: string;
}

/** A failure classified as a condition of the store. */
export interface StoreFault {
  /** The operation. */
  op: StoreOperation;
  /** The path it was on, absolute. */
  path: string;
  /** The destination of a rename, absolute. */
  to: string | undefined;
  /** The data dir, absolute. */
  dataDir: string;
  /** Why the store is unusable. */
  reason: StoreFaultReason;
  /** The OS error (`ENOSPC`...), or undefined for a free space below the floor. */
  errno: StoreErrno | undefined;
  /** The reason in a few plain words (`no space left on device`). */
  words: string;
  /** The error the operation threw, if any. */
  cause: unknown;
}

/**
 * The code of a store fault's error: `store_<reason>`.
 *
 * @param reason Why the store is unusable.
 * @returns The error code.
 */
export function storeFaultCode(reason: StoreFaultReason): ErrorCode {
  return `store_${reason}`;
}

/**
 * The error of a store fault: a one-line `TelemetryError` that names what
 * failed, the path, the reason in words and errno, and the free space:
 * `cannot write /data/matchID=x/.raw.json.gz.ab12cd34ef56.tmp: no space left
 * on device (ENOSPC); 0 B free of 8.0 MiB`.
 */
export class StoreFaultError extends TelemetryError {
  /** The fault. */
  readonly fault: StoreFault;
  /** The free space of the store when the fault was built, if it could be read. */
  readonly space: FreeSpace | undefined;

  /**
   * @param fault The fault.
   * @param space The store's free space, if known.
   * @param message The line; built from the fault and the space when not given.
   */
  constructor(fault: StoreFault, space?: FreeSpace | undefined, message?: string) {
    super(
      STORE_FAULT_KIND,
      storeFaultCode(fault.reason),
      message ?? faultLine(fault, space),
      fault.cause === undefined ? {} : { cause: fault.cause },
    );
    this.fault = fault;
    this.space = space;
  }
}

/**
 * Whether an error thrown by an operation on the store is a condition of
 * the store, and which. A `TelemetryError` wrapping the operation's error
 * (the `io` errors of `atomic_file.ts`) is looked through, and a
 * {@linkcode StoreFaultError} gives its own fault.
 *
 * @param err What the operation threw.
 * @param context The operation, its path and the data dir.
 * @returns The fault, or undefined when the job, the tool or the input is at fault.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyStoreFault } from "./store_fault.ts";
 * const err = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * const fault = classifyStoreFault(err, { op: "write", path: "/data/matchID=x/f", dataDir: "/data" });
 * assert.equal(fault?.reason, "full");
 * assert.equal(fault?.errno, "ENOSPC");
 * ```
 */
export function classifyStoreFault(
  err: unknown,
  context: StoreFaultContext,
): StoreFault | undefined {
  const known = storeFaultOf(err);
  if (known !== undefined) return known.fault;
  const found = errnoIn(err);
  if (found === undefined) return undefined;
  const { errno, error } = found;
  const path = resolve(context.path);
  const to = context.to === undefined ? undefined : resolve(context.to);
  const dataDir = resolve(context.dataDir);
  const reason = REASON_OF_ERRNO[errno];
  if (
    reason === "permission" && !inStore(path, dataDir) &&
    (to === undefined || !inStore(to, dataDir))
  ) {
    return undefined;
  }
  return {
    op: context.op,
    path,
    to,
    dataDir,
    reason,
    errno,
    words: fsErrorReason(error),
    cause: err,
  };
}

/** Options of {@linkcode asStoreFault}. */
export interface AsStoreFaultOptions {
  /** Reads the store's free space. @default {freeSpace} */
  freeSpace?: (path: string) => Promise<FreeSpace>;
}

/**
 * Classifies an error of an operation on the store and, when it is a store
 * fault, builds its error with the store's free space (read now; "free
 * space unknown" when it cannot be read). The one call a store write site
 * needs in its `catch`.
 *
 * @param err What the operation threw.
 * @param context The operation, its path and the data dir, and how to read the free space.
 * @returns The {@linkcode StoreFaultError}, or undefined when it is not a store fault.
 *
 * @example
 * ```ts ignore
 * import { asStoreFault } from "./store_fault.ts";
 * try {
 *   await file.write(bytes);
 * } catch (err) {
 *   throw (await asStoreFault(err, { op: "write", path, dataDir })) ?? err;
 * }
 * ```
 */
export async function asStoreFault(
  err: unknown,
  context: StoreFaultContext & AsStoreFaultOptions,
): Promise<StoreFaultError | undefined> {
  const known = storeFaultOf(err);
  if (known !== undefined) return known;
  const fault = classifyStoreFault(err, context);
  if (fault === undefined) return undefined;
  const { freeSpace = statFreeSpace } = context;
  const space = await freeSpace(fault.dataDir).catch(() => undefined);
  return new StoreFaultError(fault, space);
}

/** What {@linkcode floorFaultError} needs to know. */
export interface FloorFault {
  /** The data dir. */
  dataDir: string;
  /** Its free space now. */
  space: FreeSpace;
  /** The floor it is below. */
  floor: FreeSpaceFloor;
  /** The length of the download that would not fit above the floor, if that is the case. */
  extraBytes?: number | undefined;
}

/**
 * The error of a free space below the floor (reason `full`, no errno):
 * `free space of /data is below the floor: 512.0 MiB free of 8.0 GiB,
 * floor 1.0 GiB (--min-free-space)`, or, for a download of a known length
 * that would not fit above it, `a download of 40.0 MiB into /data would go
 * below the floor: …`.
 *
 * @param context The data dir, its free space, the floor, and the download's length.
 * @returns The error.
 *
 * @example
 * ```ts
 * import { floorFaultError } from "./store_fault.ts";
 * const err = floorFaultError({
 *   dataDir: "/data",
 *   space: { free: 0, total: 8 * 1024 * 1024 },
 *   floor: { type: "bytes", bytes: 1024 * 1024 },
 * });
 * if (err.fault.reason !== "full") throw new Error("unexpected");
 * ```
 */
export function floorFaultError(context: FloorFault): StoreFaultError {
  const { space, floor, extraBytes } = context;
  const dataDir = resolve(context.dataDir);
  const fault: StoreFault = {
    op: "statfs",
    path: dataDir,
    to: undefined,
    dataDir,
    reason: "full",
    errno: undefined,
    words: "free space below the floor",
    cause: undefined,
  };
  const what = extraBytes === undefined || extraBytes <= 0
    ? `free space of ${dataDir} is below the floor`
    : floor.type === "off"
    ? `a download of ${formatBytes(extraBytes)} does not fit into ${dataDir}`
    : `a download of ${formatBytes(extraBytes)} into ${dataDir} would go below the floor`;
  const floorText = floor.type === "percent"
    ? `${formatFloor(floor)} = ${formatBytes(floorBytes(floor, space.total))}`
    : formatFloor(floor);
  const line = `${what}: ${spaceText(space)}, floor ${floorText} (--min-free-space)`;
  return new StoreFaultError(fault, space, line);
}

/**
 * The store fault of a free space below the floor (or of a download of
 * `extraBytes` that would go below it), read now; undefined when there is
 * room, when the floor is off and nothing is to fit, or when the free space
 * cannot be read (the data dir is missing: the write that creates it will
 * say why).
 *
 * @param dataDir The data dir.
 * @param options The floor, the length to fit, the free-space reader.
 * @returns The fault, if any.
 *
 * @example
 * ```ts
 * import { floorFault } from "./store_fault.ts";
 * const fault = await floorFault("/data", {
 *   floor: { type: "bytes", bytes: 1024 },
 *   freeSpace: () => Promise.resolve({ free: 0, total: 4096 }),
 * });
 * if (fault?.code !== "store_full") throw new Error("unexpected");
 * ```
 */
export async function floorFault(
  dataDir: string,
  options: {
    floor: FreeSpaceFloor;
    extraBytes?: number;
    freeSpace?: (path: string) => Promise<FreeSpace>;
  },
): Promise<StoreFaultError | undefined> {
  const { floor, extraBytes = 0, freeSpace: read = statFreeSpace } = options;
  if (floor.type === "off" && extraBytes === 0) return undefined;
  const space = await read(dataDir).catch(() => undefined);
  if (space === undefined || !belowFloor(space, floor, extraBytes)) return undefined;
  return floorFaultError({ dataDir, space, floor, extraBytes });
}

/**
 * The store fault an error is or was caused by: the error itself, or one
 * of its `cause`s.
 *
 * @param err Any thrown value.
 * @returns The {@linkcode StoreFaultError}, or undefined.
 *
 * @example
 * ```ts
 * import { floorFaultError, storeFaultOf } from "./store_fault.ts";
 * const fault = floorFaultError({
 *   dataDir: "/data",
 *   space: { free: 0, total: 100 },
 *   floor: { type: "bytes", bytes: 10 },
 * });
 * const wrapped = new Error("download failed", { cause: fault });
 * if (storeFaultOf(wrapped) !== fault) throw new Error("unexpected");
 * ```
 */
export function storeFaultOf(err: unknown): StoreFaultError | undefined {
  let e = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (e instanceof StoreFaultError) return e;
    e = e.cause;
  }
  return undefined;
}

/** The first error in the cause chain that carries a store errno. */
function errnoIn(err: unknown): { errno: StoreErrno; error: unknown } | undefined {
  let e = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (isRuntimeRefusal(e)) return undefined;
    const errno = errnoOf(e);
    if (errno !== undefined) return { errno, error: e };
    e = e.cause;
  }
  return undefined;
}

/** The runtime refused the path (the binary's permissions), not the OS. */
function isRuntimeRefusal(err: Error): boolean {
  return err instanceof Deno.errors.NotCapable ||
    (err instanceof Deno.errors.PermissionDenied && /Requires .* access/.test(err.message));
}

function errnoOf(err: Error): StoreErrno | undefined {
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === "string") return isStoreErrno(code) ? code : undefined;
  if (err instanceof Deno.errors.PermissionDenied) return "EACCES";
  const number = /\(os error (\d+)\)/.exec(err.message)?.[1];
  return number === undefined ? undefined : ERRNO_OF_NUMBER[Number(number)];
}

function isStoreErrno(code: string): code is StoreErrno {
  return Object.hasOwn(REASON_OF_ERRNO, code);
}

/**
 * Whether a path is the data dir, one of its entries (a match directory, a
 * temp file), or an entry of a match directory.
 */
function inStore(path: string, dataDir: string): boolean {
  if (path === dataDir) return true;
  const parent = dirname(path);
  if (parent === dataDir) return true;
  return dirname(parent) === dataDir && basename(parent).startsWith(MATCH_DIR_PREFIX);
}

const VERBS: Record<StoreOperation, string> = {
  create: "cannot create",
  open: "cannot open",
  write: "cannot write",
  fsync: "cannot fsync",
  rename: "cannot rename",
  mkdir: "cannot create directory",
  remove: "cannot remove",
  statfs: "cannot read the free space of",
};

function faultLine(fault: StoreFault, space: FreeSpace | undefined): string {
  const where = fault.to === undefined ? fault.path : `${fault.path} to ${fault.to}`;
  const errno = fault.errno === undefined ? "" : ` (${fault.errno})`;
  const free = space === undefined ? "free space unknown" : spaceText(space);
  return `${VERBS[fault.op]} ${where}: ${fault.words}${errno}; ${free}`;
}

function spaceText(space: FreeSpace): string {
  return `${formatBytes(space.free)} free of ${formatBytes(space.total)}`;
}
