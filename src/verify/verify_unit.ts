/**
 * One unit of a `verify` run: read one `matchID=` entry (or a file given as
 * a path), audit its file, and with `--fix` repair what it found. A worker
 * thread runs units one after the other; nothing outlives a unit but the
 * results it reports.
 *
 * @module
 */

import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/content/ingest.ts";
import { auditFile } from "./audit_file.ts";
import { fixFile, fixFinding, type FixOptions } from "./fix.ts";
import type { ScanFinding, VerifyResult } from "./result.ts";
import { errorLine } from "../core/errors.ts";
import { expandUnit, type ScanItem, type ScanUnit } from "./scan_stream.ts";

/** Options of {@linkcode verifyUnit}: the same for every unit of a run. */
export interface VerifyUnitOptions {
  /** The match id filter (empty: all). */
  matchIds: readonly string[];
  /** Decompressed size cap per file. @default {4 GiB} */
  maxDecompressedBytes?: number;
  /** What `--fix` (or `--dry-run`) does; undefined: audit only. */
  fix?: FixOptions | undefined;
  /** Called with the count of file bytes read since the last call, as they are read. */
  onBytes?: (bytes: number) => void;
}

/**
 * Audits (and repairs) one unit and reports each of its results.
 *
 * @param unit A match directory, a `matchID=` link, or a file given as a path.
 * @param options Filter, size cap, fix options, progress callback.
 * @param onResult Receives each result: the unit's findings and its file.
 * @returns When every result of the unit was reported.
 * @throws {never} A directory that cannot be read is an `unreadable` result.
 *
 * @example
 * ```ts ignore
 * import { verifyUnit } from "./verify_unit.ts";
 * const unit = { kind: "entry", path: "/d/matchID=abc", id: "abc", dataDir: "/d", isDir: true } as const;
 * await verifyUnit(unit, { matchIds: [] }, (r) => console.log(r.status, r.path));
 * ```
 */
export async function verifyUnit(
  unit: ScanUnit,
  options: VerifyUnitOptions,
  onResult: (result: VerifyResult) => void,
): Promise<void> {
  const {
    matchIds,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    fix,
    onBytes,
  } = options;
  const items = expandUnit(unit, matchIds);
  for (;;) {
    let next: IteratorResult<ScanItem>;
    try {
      next = items.next();
    } catch (err) {
      onResult(unreadableDir(unit, err));
      return;
    }
    if (next.done === true) return;
    const item = next.value;
    if (item.kind === "finding") {
      onResult(await findingResult(item.finding, fix));
      continue;
    }
    const { target } = item;
    let read = 0;
    const audit = await auditFile(target.path, {
      expectedMatchId: target.matchId,
      maxDecompressedBytes,
      ...(onBytes === undefined ? {} : {
        onBytes: (total: number) => {
          onBytes(total - read);
          read = total;
        },
      }),
    });
    const { identity: _i, ...result } = audit;
    if (fix !== undefined) {
      const outcome = await fixFile(audit, target, fix);
      if (outcome !== undefined) result.fix = outcome;
    }
    onResult(result);
  }
}

/**
 * The result of a finding the scan made without opening a file (a missing
 * or stray entry), with what `--fix` did about it.
 *
 * @param finding The scan's finding.
 * @param fix The `--fix` options, when fixing.
 * @returns The result to report.
 */
export async function findingResult(finding: ScanFinding, fix?: FixOptions): Promise<VerifyResult> {
  const { dataDir: _d, mtime: _m, ...result } = finding;
  if (fix !== undefined) result.fix = await fixFinding(finding, fix);
  return result;
}

/** The result of a match directory that cannot be listed. */
function unreadableDir(unit: ScanUnit, err: unknown): VerifyResult {
  return {
    path: unit.path,
    matchId: unit.kind === "entry" ? unit.id : undefined,
    status: "unreadable",
    detail: `cannot read the directory: ${errorLine(err)}`,
    bytes: undefined,
    decompressedBytes: undefined,
    seconds: 0,
  };
}
