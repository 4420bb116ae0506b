import assert from "node:assert/strict";
import { join } from "node:path";
import { TelemetryError } from "../../../src/core/errors.ts";
import { STALE_TEMP_AGE_MS, storeStats } from "../../../src/core/store/store_stats.ts";
import { withTempDir } from "../../support/helpers.ts";

async function file(path: string, size: number, ageMs = 0): Promise<void> {
  await Deno.writeFile(path, new Uint8Array(size));
  if (ageMs > 0) {
    const when = new Date(Date.now() - ageMs);
    await Deno.utime(path, when, when);
  }
}

Deno.test("storeStats() counts matches, bytes, temp files and match dirs without a file", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 40; i++) {
      await Deno.mkdir(join(dir, `matchID=m-${i}`));
      await file(join(dir, `matchID=m-${i}`, "raw.json.gz"), i + 1);
    }
    await Deno.mkdir(join(dir, "matchID=empty"));
    await Deno.mkdir(join(dir, "matchID=writing"));
    await file(join(dir, "matchID=writing", ".raw.json.gz.abc123.tmp"), 10);
    await file(join(dir, "matchID=m-0", ".raw.json.gz.def456.tmp"), 20, 2 * STALE_TEMP_AGE_MS);
    await file(join(dir, ".raw.json.gz.0f0f0f.tmp"), 30, STALE_TEMP_AGE_MS + 60_000);
    // Not counted: other files and directories, names that only look alike.
    await Deno.mkdir(join(dir, ".quarantine"));
    await file(join(dir, ".quarantine", "raw.json.gz"), 999);
    await file(join(dir, "notes.txt"), 5);
    await file(join(dir, "matchID=m-1", "part-0.parquet"), 77);
    await file(join(dir, "matchID=m-1", "raw.json.gz.tmp"), 8);
    await Deno.symlink(join(dir, "matchID=m-2"), join(dir, "matchID=link"));
    const stats = await storeStats(dir, { concurrency: 3 });
    assert.deepEqual({ ...stats, seconds: 0 }, {
      dataDir: dir,
      matches: 40,
      bytes: (40 * 41) / 2,
      withoutFile: 2,
      irregular: 1,
      tempFiles: 3,
      tempBytes: 60,
      staleTempFiles: 2,
      unreadable: 0,
      seconds: 0,
    });
  });
});

Deno.test("storeStats() of an empty data dir counts nothing", async () => {
  await withTempDir(async (dir) => {
    const stats = await storeStats(dir);
    assert.equal(stats.matches, 0);
    assert.equal(stats.tempFiles, 0);
  });
});

Deno.test("storeStats() fails with one line when the data dir cannot be listed", async () => {
  await withTempDir(async (dir) => {
    await file(join(dir, "a-file"), 1);
    const cases: [string, string][] = [
      [join(dir, "nope"), "no such file or directory"],
      [join(dir, "a-file"), "not a directory"],
    ];
    for (const [path, reason] of cases) {
      await assert.rejects(storeStats(path), (err) => {
        assert.ok(err instanceof TelemetryError);
        assert.equal(err.code, "data_dir");
        assert.equal(err.message, `cannot read data dir ${path}: ${reason}`);
        return true;
      });
    }
  });
});
