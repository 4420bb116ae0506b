import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkDataDir } from "../../../src/core/store/data_dir.ts";
import { TelemetryError } from "../../../src/core/errors.ts";
import { withTempDir } from "../../support/helpers.ts";
import { giveToUnprivileged, runUnprivileged } from "../../support/unprivileged.ts";
import type { ProbeOutcome } from "../../support/data_dir_probe.ts";
import { CLI_FLAGS } from "../../../scripts/permissions.ts";

/** Prints what `checkDataDir(DIR)` makes of a dir (see the module). */
const PROBE = fileURLToPath(new URL("../../support/data_dir_probe.ts", import.meta.url));

async function names(dir: string): Promise<string[]> {
  return Array.from(await Array.fromAsync(Deno.readDir(dir)), (e) => e.name).sort();
}

/** Expects `checkDataDir(dir)` to fail permanently with `data_dir` and a message matching `pattern`. */
async function refused(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(checkDataDir(dir), (err: unknown) => {
    assert.ok(err instanceof TelemetryError, String(err));
    assert.equal(err.kind, "permanent");
    assert.equal(err.code, "data_dir");
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), "one line");
    assert.doesNotMatch(err.message, /os error|allow-all/);
    return true;
  });
}

Deno.test("checkDataDir() accepts an existing directory and leaves nothing in it", async () => {
  await withTempDir(async (dir) => {
    const checked = await checkDataDir(dir);
    assert.equal(checked.path, dir);
    assert.deepEqual(checked.created, []);
    assert.deepEqual(await names(dir), [], "the probe file is gone");
    await checked.removeCreated();
    assert.ok((await Deno.stat(dir)).isDirectory, "a data dir it did not create stays");
  });
});

Deno.test("checkDataDir() creates a missing data dir and its parents, and removes them while empty", async () => {
  await withTempDir(async (dir) => {
    const dataDir = join(dir, "a", "b", "data");
    const checked = await checkDataDir(dataDir);
    assert.deepEqual(checked.created, [dataDir, join(dir, "a", "b"), join(dir, "a")]);
    assert.ok((await Deno.stat(dataDir)).isDirectory);
    await checked.removeCreated();
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("checkDataDir().removeCreated() keeps a data dir the run stored files in", async () => {
  await withTempDir(async (dir) => {
    const dataDir = join(dir, "a", "data");
    const checked = await checkDataDir(dataDir);
    await Deno.mkdir(join(dataDir, "matchID=x"));
    await checked.removeCreated();
    assert.deepEqual(await names(dataDir), ["matchID=x"]);
  });
});

Deno.test("checkDataDir() refuses a file, naming it: is not a directory", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "x");
    await refused(file, new RegExp(`^data dir ${file} is not a directory$`));
    await refused(
      join(file, "data"),
      new RegExp(`^data dir ${file}/data cannot be created: ${file} is not a directory$`),
    );
  });
});

/** Expects `checkDataDir(dir)`, run as an unprivileged user, to be refused like {@linkcode refused}. */
async function refusedUnprivileged(dir: string, pattern: RegExp): Promise<void> {
  const args = ["run", "--quiet", ...CLI_FLAGS, PROBE, dir];
  const [stdout, stderr, code] = await runUnprivileged(args);
  assert.equal(code, 0, stderr);
  const outcome: ProbeOutcome = JSON.parse(stdout);
  assert.ok(!outcome.ok, `checkDataDir(${dir}) accepted it`);
  assert.ok(outcome.telemetryError, outcome.message);
  assert.equal(outcome.kind, "permanent");
  assert.equal(outcome.code, "data_dir");
  assert.match(outcome.message, pattern);
  assert.ok(!outcome.message.includes("\n"), "one line");
  assert.doesNotMatch(outcome.message, /os error|allow-all/);
}

// Root writes anywhere: the check runs as an unprivileged user (nobody under root).
Deno.test("checkDataDir() refuses a directory it cannot write to: permission denied", async () => {
  await withTempDir(async (dir) => {
    await Deno.chmod(dir, 0o755);
    const locked = join(dir, "locked");
    await Deno.mkdir(locked, { mode: 0o500 });
    await giveToUnprivileged(locked);
    try {
      await refusedUnprivileged(locked, /is not writable: permission denied$/);
      await refusedUnprivileged(join(locked, "data"), /cannot be created: permission denied$/);
    } finally {
      await Deno.chmod(locked, 0o700);
    }
  });
});
