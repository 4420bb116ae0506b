/**
 * The directory walk of `verify` as one sorted list: which `raw.json.gz`
 * files to audit, with their sizes, and what is wrong with the layout
 * itself (`missing`, `stray_temp`, `bad_dir_name`), found without reading
 * any content. For callers that need the whole list up front (`announce`);
 * `verify` itself streams the walk with {@linkcode scanStream}, whose memory
 * does not grow with the number of files.
 *
 * @module
 */

import type { FileTarget, ScanFinding } from "./result.ts";
import { scanStream } from "./scan_stream.ts";

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
 * Resolves the paths to audit, as {@linkcode scanStream} walks them, into
 * two lists sorted by path; each file gets its size (for progress) when it
 * is a regular file.
 *
 * @param paths The paths given on the command line (may be empty).
 * @param options The default data dir and the match id filter.
 * @returns The files to audit and the layout problems.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when a path does not exist;
 * kind `permanent`, code `data_dir`, when there is no path and the data dir is not a directory.
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
  const files: FileTarget[] = [];
  const findings: ScanFinding[] = [];
  for await (const item of scanStream(paths, options)) {
    if (item.kind === "finding") {
      findings.push(item.finding);
      continue;
    }
    const size = regularFileSize(item.target.path);
    if (size !== undefined) item.target.size = size;
    files.push(item.target);
  }
  return { files: files.sort(byPath), findings: findings.sort(byPath) };
}

function regularFileSize(path: string): number | undefined {
  try {
    const info = Deno.lstatSync(path);
    return info.isFile ? info.size : undefined;
  } catch {
    return undefined; // Unreadable: the audit says so.
  }
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
