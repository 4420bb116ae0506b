import assert from "node:assert/strict";
import { withTempDir } from "../support/helpers.ts";
import { join } from "node:path";
import { auditFile } from "../../src/verify/audit_file.ts";
import { fixFile, fixFinding } from "../../src/verify/fix.ts";
import { quarantineFile, quarantineStamp } from "../../src/verify/quarantine.ts";
import type { FileTarget, ScanFinding, VerifyResult } from "../../src/verify/result.ts";
import { rewriteSingleGzip } from "../../src/verify/rewrite.ts";
import { runVerify } from "../../src/verify/run_verify.ts";
import { scanPaths } from "../../src/verify/scan.ts";
import { gzip, peel, snapshot, telemetryJson, writeMatch } from "./fixtures.ts";

const STAMP = "20241128T120304Z";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("quarantineStamp() formats UTC without separators", () => {
  assert.equal(quarantineStamp(new Date(Date.UTC(2024, 10, 28, 12, 3, 4, 567))), STAMP);
});

Deno.test("rewriteSingleGzip() turns triple gzip into one layer of the same JSON", async () => {
  await withTempDir(async (dir) => {
    const json = telemetryJson("m1", 3000);
    const path = await writeMatch(dir, "m1", gzip(json, 3));
    const done = await rewriteSingleGzip(path, { expectedMatchId: "m1" });
    assert.equal(done.fromLayers, 3);
    const after = peel(await Deno.readFile(path));
    assert.equal(after.layers, 1);
    assert.deepEqual(after.content, json);
    assert.equal((await auditFile(path, { expectedMatchId: "m1" })).status, "ok");
    assert.deepEqual(await names(join(dir, "matchID=m1")), ["raw.json.gz"]);
  });
});

Deno.test("rewriteSingleGzip() gzips plain JSON", async () => {
  await withTempDir(async (dir) => {
    const json = telemetryJson("m1", 1000);
    const path = await writeMatch(dir, "m1", json);
    await rewriteSingleGzip(path, { expectedMatchId: "m1" });
    const after = peel(await Deno.readFile(path));
    assert.equal(after.layers, 1);
    assert.deepEqual(after.content, json);
  });
});

Deno.test("rewriteSingleGzip() leaves the original and no temp when it fails", async () => {
  await withTempDir(async (dir) => {
    const wrong = gzip(telemetryJson("other", 100), 2);
    const path = await writeMatch(dir, "m1", wrong);
    await assert.rejects(() => rewriteSingleGzip(path, { expectedMatchId: "m1" }), /another match/);
    assert.deepEqual(await Deno.readFile(path), wrong);
    assert.deepEqual(await names(join(dir, "matchID=m1")), ["raw.json.gz"]);
  });
});

Deno.test("fixFile() does not replace a file that changed since the audit", async () => {
  await withTempDir(async (dir) => {
    const path = await writeMatch(dir, "m1", gzip(telemetryJson("m1", 100), 2));
    const target: FileTarget = { path, matchId: "m1", dataDir: dir };
    const audit = await auditFile(path, { expectedMatchId: "m1" });
    const replaced = gzip(telemetryJson("m1", 50), 2);
    await Deno.remove(path);
    await Deno.writeFile(path, replaced);
    const outcome = await fixFile(audit, target, { dryRun: false, stamp: STAMP });
    assert.equal(outcome?.outcome, "failed");
    assert.equal(outcome?.resolved, false);
    assert.match(outcome!.detail, /changed since it was audited/);
    assert.deepEqual(await Deno.readFile(path), replaced);
    assert.deepEqual(await names(join(dir, "matchID=m1")), ["raw.json.gz"]);
  });
});

Deno.test("quarantineFile() moves the file, removes the empty match dir, never overwrites", async () => {
  await withTempDir(async (dir) => {
    for (const bytes of [new Uint8Array([1]), new Uint8Array([2])]) {
      const path = await writeMatch(dir, "m1", bytes);
      const moved = await quarantineFile(path, { dataDir: dir, matchId: "m1", stamp: STAMP });
      assert.equal(moved.removedDir, true);
    }
    const qdir = join(dir, ".quarantine", STAMP, "matchID=m1");
    assert.deepEqual(await names(qdir), ["raw.json.gz", "raw.json.gz.1"]);
    assert.deepEqual(await Deno.readFile(join(qdir, "raw.json.gz")), new Uint8Array([1]));
    assert.deepEqual(await names(dir), [".quarantine"]);
  });
});

Deno.test("quarantineFile() keeps a match dir that still holds part-0.parquet", async () => {
  await withTempDir(async (dir) => {
    const path = await writeMatch(dir, "m1", new Uint8Array([1]));
    await writeMatch(dir, "m1", new Uint8Array([9]), "part-0.parquet");
    const moved = await quarantineFile(path, { dataDir: dir, matchId: "m1", stamp: STAMP });
    assert.equal(moved.removedDir, false);
    assert.deepEqual(await names(join(dir, "matchID=m1")), ["part-0.parquet"]);
  });
});

function tempFinding(path: string, dataDir: string, mtime: Date): ScanFinding {
  return {
    path,
    matchId: undefined,
    status: "stray_temp",
    detail: "",
    bytes: 1,
    decompressedBytes: undefined,
    seconds: 0,
    dataDir,
    mtime,
  };
}

Deno.test("fixFinding() removes stray temps older than an hour and keeps fresh ones", async () => {
  await withTempDir(async (dir) => {
    const now = new Date();
    const old = join(dir, ".raw.json.gz.aaaaaaaaaaaa.tmp");
    const fresh = join(dir, ".raw.json.gz.bbbbbbbbbbbb.tmp");
    await Deno.writeFile(old, new Uint8Array(1));
    await Deno.writeFile(fresh, new Uint8Array(1));
    const twoHoursAgo = new Date(now.getTime() - 2 * 3600_000);
    const options = { dryRun: false, stamp: STAMP, now };
    const dry = await fixFinding(tempFinding(old, dir, twoHoursAgo), { ...options, dryRun: true });
    assert.deepEqual([dry.action, dry.outcome], ["remove", "planned"]);
    assert.deepEqual(await names(dir), [
      ".raw.json.gz.aaaaaaaaaaaa.tmp",
      ".raw.json.gz.bbbbbbbbbbbb.tmp",
    ]);
    const removed = await fixFinding(tempFinding(old, dir, twoHoursAgo), options);
    assert.deepEqual([removed.action, removed.outcome, removed.resolved], ["remove", "done", true]);
    const kept = await fixFinding(
      tempFinding(fresh, dir, new Date(now.getTime() - 60_000)),
      options,
    );
    assert.deepEqual([kept.action, kept.resolved], ["keep", true]);
    assert.deepEqual(await names(dir), [".raw.json.gz.bbbbbbbbbbbb.tmp"]);
  });
});

Deno.test("fixFinding() never touches a missing directory", async () => {
  await withTempDir(async (dir) => {
    await writeMatch(dir, "m1", new Uint8Array([9]), "part-0.parquet");
    const { findings } = await scanPaths([dir], { dataDir: dir });
    const outcome = await fixFinding(findings[0]!, { dryRun: false, stamp: STAMP });
    assert.deepEqual([outcome.action, outcome.resolved], ["none", false]);
    assert.equal(
      outcome.detail,
      "left as it is: re-queue it with telemetry enqueue --env <env> --match-id m1 <telemetry-url>",
    );
    assert.deepEqual(await names(join(dir, "matchID=m1")), ["part-0.parquet"]);
  });
});

async function mixedStore(dir: string): Promise<void> {
  await writeMatch(dir, "ok1", gzip(telemetryJson("ok1", 100)));
  await writeMatch(dir, "dbl", gzip(telemetryJson("dbl", 100), 2));
  await writeMatch(dir, "pln", telemetryJson("pln", 100));
  await writeMatch(dir, "emp", new Uint8Array());
  await writeMatch(dir, "wrg", gzip(telemetryJson("zzz", 100)));
  await writeMatch(dir, "big", gzip(new Uint8Array(300_000)));
  await writeMatch(dir, "pq", new Uint8Array([1]), "part-0.parquet");
  const temp = join(dir, ".raw.json.gz.cccccccccccc.tmp");
  await Deno.writeFile(temp, new Uint8Array(1));
  const old = new Date(Date.now() - 2 * 3600_000);
  await Deno.utime(temp, old, old);
}

Deno.test("runVerify() with dryRun reports every plan and changes nothing", async () => {
  await withTempDir(async (dir) => {
    await mixedStore(dir);
    const before = await snapshot(dir);
    const results = new Map<string, string>();
    await runVerify([dir], {
      dataDir: dir,
      jobs: 3,
      dryRun: true,
      maxDecompressedBytes: 200_000,
      onResult: (r) => results.set(`${r.status}:${r.matchId ?? "-"}`, r.fix?.action ?? "none"),
    });
    assert.deepEqual(Object.fromEntries(results), {
      "ok:ok1": "none",
      "double_gzip:dbl": "rewrite",
      "not_gzip:pln": "rewrite",
      "empty:emp": "quarantine",
      "wrong_match:wrg": "quarantine",
      "too_large:big": "none",
      "missing:pq": "none",
      "stray_temp:-": "remove",
    });
    assert.deepEqual(await snapshot(dir), before);
  });
});

Deno.test("runVerify() with fix repairs, quarantines and cleans, then all is ok", async () => {
  await withTempDir(async (dir) => {
    await mixedStore(dir);
    await Deno.remove(join(dir, "matchID=big"), { recursive: true });
    let progress = 0;
    await runVerify([dir], {
      dataDir: dir,
      jobs: 2,
      fix: true,
      onResult: (r) => {
        if (r.status !== "ok" && r.status !== "missing") {
          assert.equal(r.fix?.outcome, "done", r.path);
        }
      },
      onProgress: (p) => progress = p.bytes,
    });
    assert.ok(progress > 0);
    const statuses: string[] = [];
    await runVerify([dir], {
      dataDir: dir,
      onResult: (r) => statuses.push(`${r.status}:${r.matchId}`),
    });
    assert.deepEqual(statuses.sort(), ["missing:pq", "ok:dbl", "ok:ok1", "ok:pln"]);
    const q = await snapshot(join(dir, ".quarantine"));
    assert.deepEqual([...q.keys()].filter((k) => k.endsWith("raw.json.gz")).length, 2);
  });
});

Deno.test("runVerify() with fix keeps a file not named raw.json.gz: audited, reported, untouched", async () => {
  await withTempDir(async (dir) => {
    const plain = join(dir, "x.json");
    const json = telemetryJson("m1", 100);
    await Deno.writeFile(plain, json);
    const bad = await writeMatch(dir, "m2", new Uint8Array([1, 2, 3]), "copy.json.gz");
    const before = await snapshot(dir);
    const results = new Map<string, VerifyResult>();
    await runVerify([plain, bad], {
      dataDir: dir,
      fix: true,
      onResult: (r) => results.set(r.path, r),
    });
    const plainResult = results.get(plain)!;
    assert.equal(plainResult.status, "not_gzip");
    assert.deepEqual(plainResult.fix, {
      action: "keep",
      outcome: "skipped",
      resolved: false,
      detail: 'kept: --fix changes only files named raw.json.gz, not "x.json"',
    });
    const badResult = results.get(bad)!;
    assert.equal(badResult.status, "corrupt");
    assert.deepEqual([badResult.fix?.action, badResult.fix?.resolved], ["keep", false]);
    assert.deepEqual(await snapshot(dir), before);
  });
});

/** A data dir whose entries lead out of it, to an `outside` directory. */
async function linkedStore(dir: string, outside: string): Promise<void> {
  await writeMatch(outside, "lnk", gzip(telemetryJson("lnk", 100), 2));
  await writeMatch(outside, "bad", new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2]));
  await Deno.writeFile(join(outside, "corrupt.gz"), new Uint8Array([0x1f, 0x8b, 9]));
  await Deno.symlink(join(outside, "matchID=lnk"), join(dir, "matchID=lnk"));
  await Deno.symlink(join(outside, "matchID=bad"), join(dir, "matchID=bad"));
  await Deno.mkdir(join(dir, "matchID=raw"));
  await Deno.symlink(join(outside, "corrupt.gz"), join(dir, "matchID=raw", "raw.json.gz"));
}

Deno.test("runVerify() with fix never follows, changes or removes a symlink", async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (outside) => {
      await linkedStore(dir, outside);
      const before = await snapshot(outside);
      const results: VerifyResult[] = [];
      await runVerify([dir], {
        dataDir: dir,
        fix: true,
        onResult: (r) => results.push(r),
      });
      assert.deepEqual(results.map((r) => [r.matchId, r.status, r.fix?.resolved]).sort(), [
        ["bad", "not_regular", false],
        ["lnk", "not_regular", false],
        ["raw", "not_regular", false],
      ]);
      assert.deepEqual(await snapshot(outside), before);
      for (const link of ["matchID=lnk", "matchID=bad", "matchID=raw/raw.json.gz"]) {
        assert.ok((await Deno.lstat(join(dir, link))).isSymlink, link);
      }
      await assert.rejects(Deno.lstat(join(dir, ".quarantine")), Deno.errors.NotFound);
    });
  });
});

Deno.test("fixFile() keeps a file reached through a matchID= symlink", async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (outside) => {
      await linkedStore(dir, outside);
      const before = await snapshot(outside);
      for (const id of ["lnk", "bad"]) {
        const path = join(dir, `matchID=${id}`, "raw.json.gz");
        const audit = await auditFile(path, { expectedMatchId: id });
        assert.notEqual(audit.status, "ok");
        const target: FileTarget = { path, matchId: id, dataDir: dir };
        const outcome = await fixFile(audit, target, { dryRun: false, stamp: STAMP });
        assert.deepEqual([outcome?.action, outcome?.resolved], ["keep", false]);
        assert.match(outcome!.detail, /symbolic link/);
      }
      assert.deepEqual(await snapshot(outside), before);
    });
  });
});

Deno.test("quarantineFile() never removes a symlinked match dir as if it were emptied", async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (outside) => {
      await writeMatch(outside, "m1", new Uint8Array([1]));
      await Deno.symlink(join(outside, "matchID=m1"), join(dir, "matchID=m1"));
      const path = join(dir, "matchID=m1", "raw.json.gz");
      const moved = await quarantineFile(path, { dataDir: dir, matchId: "m1", stamp: STAMP });
      assert.equal(moved.removedDir, false);
      assert.ok((await Deno.lstat(join(dir, "matchID=m1"))).isSymlink);
    });
  });
});
