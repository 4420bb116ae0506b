import assert from "node:assert/strict";
import { join } from "node:path";
import type { VerifyResult } from "../../src/verify/result.ts";
import { verifyUnit } from "../../src/verify/verify_unit.ts";
import { gzip, telemetryJson, writeMatch } from "./fixtures.ts";
import { withTempDir } from "../support/helpers.ts";

/** The unit of work for the directory `matchID=<id>` of the data dir `dir`. */
function matchDirUnit(dir: string, id: string) {
  return {
    kind: "entry",
    path: join(dir, `matchID=${id}`),
    id,
    dataDir: dir,
    isDir: true,
  } as const;
}

Deno.test("verifyUnit() audits a match directory: its temp files, then its file", async () => {
  await withTempDir(async (dir) => {
    await writeMatch(dir, "b2", gzip(telemetryJson("b2", 10), 2));
    await writeMatch(dir, "b2", new Uint8Array(5), ".raw.json.gz.00aa11bb22cc.tmp");
    const results: VerifyResult[] = [];
    const unit = matchDirUnit(dir, "b2");
    let bytes = 0;
    await verifyUnit(unit, { matchIds: [], onBytes: (n) => bytes += n }, (r) => results.push(r));
    assert.deepEqual(results.map((r) => r.status), ["stray_temp", "double_gzip"]);
    assert.equal(bytes, results[1]!.bytes);
    assert.ok(!("dataDir" in results[0]!) && !("identity" in results[1]!));
  });
});

Deno.test("verifyUnit() with fix options repairs what it found", async () => {
  await withTempDir(async (dir) => {
    await writeMatch(dir, "b2", gzip(telemetryJson("b2", 10), 2));
    const results: VerifyResult[] = [];
    const unit = matchDirUnit(dir, "b2");
    const fix = { dryRun: false, stamp: "20241128T120304Z" };
    await verifyUnit(unit, { matchIds: [], fix }, (r) => results.push(r));
    assert.equal(results[0]?.fix?.outcome, "done");
    const again: VerifyResult[] = [];
    await verifyUnit(unit, { matchIds: [] }, (r) => again.push(r));
    assert.equal(again[0]?.status, "ok");
  });
});

Deno.test("verifyUnit() reports a match directory it cannot read as unreadable", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "matchID=b2");
    await Deno.writeFile(path, new Uint8Array(1)); // Listed as a directory, but a file now.
    const results: VerifyResult[] = [];
    await verifyUnit(
      { kind: "entry", path, id: "b2", dataDir: dir, isDir: true },
      { matchIds: [] },
      (r) => results.push(r),
    );
    assert.equal(results.length, 1);
    assert.equal(results[0]!.status, "unreadable");
    assert.match(results[0]!.detail, /^cannot read the directory: /);
  });
});
