/**
 * The data dir check that `download` and `consume` run once, before any
 * network: the directory exists (or is created), is a directory, and a file
 * can be created in it. A data dir that fails it fails the run with one
 * line, at once: retrying a download cannot make it writable.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { TelemetryError } from "../errors.ts";
import { fsErrorReason } from "./fs_error.ts";

/** A data dir that passed {@linkcode checkDataDir}. */
export interface CheckedDataDir {
  /** Its absolute path. */
  path: string;
  /** The directories the check created, deepest first (the data dir and missing parents). */
  created: readonly string[];
  /**
   * Removes the directories the check created that are still empty, deepest
   * first: a run that stored nothing leaves nothing behind.
   */
  removeCreated(): Promise<void>;
}

/**
 * Checks the data dir: creates it (and its missing parents) when needed,
 * checks it is a directory, and creates and removes an empty probe file in
 * it.
 *
 * @param dataDir The data dir (relative paths are resolved against the cwd).
 * @returns The checked data dir, with the directories the check created.
 * @throws {TelemetryError} kind `permanent`, code `data_dir`: one line naming
 * the directory and the reason in plain words (`is not a directory`,
 * `read-only file system`, `permission denied`...).
 *
 * @example
 * ```ts ignore
 * import { checkDataDir } from "./data_dir.ts";
 * const checked = await checkDataDir("/opt/pewstats-platform/data/telemetry");
 * console.log(checked.path);
 * ```
 */
export async function checkDataDir(dataDir: string): Promise<CheckedDataDir> {
  const path = resolve(dataDir);
  const created = await createMissing(path);
  const checked: CheckedDataDir = {
    path,
    created,
    async removeCreated() {
      for (const dir of created) {
        try {
          await Deno.remove(dir);
        } catch {
          return; // not empty (the run stored files) or already gone: keep it and its parents
        }
      }
    },
  };
  const probe = join(path, `.telemetry-probe-${Deno.pid}-${randomHex()}.tmp`);
  try {
    const file = await Deno.open(probe, { write: true, createNew: true });
    file.close();
    await Deno.remove(probe);
  } catch (err) {
    await checked.removeCreated();
    throw dataDirError(path, `is not writable: ${fsErrorReason(err)}`, err);
  }
  return checked;
}

/**
 * Creates `path` and its missing parents, one at a time, so that the ones
 * created are known; fails with a reason that names the culprit when a
 * parent is a file.
 */
async function createMissing(path: string): Promise<string[]> {
  const missing: string[] = [];
  let existing = path;
  for (;;) {
    const info = await statOrUndefined(existing).catch((err) => {
      throw dataDirError(path, `cannot be used: ${fsErrorReason(err)}`, err);
    });
    if (info !== undefined) {
      if (info.isDirectory) break;
      const what = existing === path
        ? "is not a directory"
        : `cannot be created: ${existing} is not a directory`;
      throw dataDirError(path, what);
    }
    missing.push(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  const created: string[] = [];
  for (const dir of missing.reverse()) {
    try {
      await Deno.mkdir(dir);
      created.unshift(dir);
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) continue; // made meanwhile by someone else
      for (const made of created) await Deno.remove(made).catch(() => {});
      throw dataDirError(path, `cannot be created: ${fsErrorReason(err)}`, err);
    }
  }
  return created;
}

/** The stat of a path, or undefined when it (or a parent) does not exist as a directory. */
async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    // ENOTDIR: a parent is a file; the walk up finds it and names it.
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
}

function dataDirError(path: string, what: string, cause?: unknown): TelemetryError {
  return new TelemetryError(
    "permanent",
    "data_dir",
    `data dir ${path} ${what}`,
    cause === undefined ? {} : { cause },
  );
}

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
