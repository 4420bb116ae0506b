/**
 * Runs `checkDataDir(DIR)` and prints the outcome as one JSON line: `{"ok":
 * true}` (after removing what it created), or the error's `telemetryError`,
 * `kind`, `code` and `message`. The permission tests of `checkDataDir()`
 * run it as an unprivileged user (`tests/support/unprivileged.ts`), with the
 * CLI's own flags.
 *
 * Usage: `deno run <CLI_FLAGS> tests/support/data_dir_probe.ts DIR`
 *
 * @module
 */

import { checkDataDir } from "../../src/core/store/data_dir.ts";
import { TelemetryError } from "../../src/core/errors.ts";

/** What the probe prints. */
export type ProbeOutcome =
  | { ok: true }
  | { ok: false; telemetryError: boolean; kind?: string; code?: string; message: string };

/**
 * Checks one data dir the way every command does.
 *
 * @param dir The data dir.
 * @returns The outcome, for one JSON line.
 */
export async function probe(dir: string): Promise<ProbeOutcome> {
  try {
    const checked = await checkDataDir(dir);
    await checked.removeCreated();
    return { ok: true };
  } catch (err) {
    if (err instanceof TelemetryError) {
      return {
        ok: false,
        telemetryError: true,
        kind: err.kind,
        code: err.code,
        message: err.message,
      };
    }
    return { ok: false, telemetryError: false, message: String(err) };
  }
}

if (import.meta.main) console.log(JSON.stringify(await probe(Deno.args[0] ?? "")));
