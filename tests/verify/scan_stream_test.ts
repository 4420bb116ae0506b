import assert from "node:assert/strict";
import { join } from "node:path";
import { TelemetryError } from "../../src/core/errors.ts";
import { scanPaths } from "../../src/verify/scan.ts";
import {
  expandUnit,
  type ScanItem,
  scanStream,
  type WalkItem,
  walkRoots,
} from "../../src/verify/scan_stream.ts";
import { gzip, telemetryJson, writeMatch } from "./fixtures.ts";
import { withTempDir } from "../support/helpers.ts";

async function store(dir: string): Promise<void> {
  await writeMatch(dir, "a1", gzip(telemetryJson("a1", 10)));
  await writeMatch(dir, "b2", gzip(telemetryJson("b2", 10)));
  await writeMatch(dir, "b2", new Uint8Array(5), ".raw.json.gz.00aa11bb22cc.tmp");
  await writeMatch(dir, "c3", new Uint8Array([1, 2]), "part-0.parquet");
  await Deno.mkdir(join(dir, "matchID=bad name"));
  await Deno.writeFile(join(dir, ".raw.json.gz.ffee00112233.tmp"), new Uint8Array(3));
}

function paths(items: ScanItem[]): string[] {
  return items.map((i) => i.kind === "file" ? i.target.path : i.finding.path).sort();
}

Deno.test("scanStream() gives the items scanPaths() lists, in directory order", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    const items = await Array.fromAsync(scanStream([], { dataDir: dir }));
    const listed = await scanPaths([], { dataDir: dir });
    assert.deepEqual(paths(items), [...listed.files, ...listed.findings].map((i) => i.path).sort());
    // A file item carries no size: the audit learns it, and the walk makes no call per file.
    for (const item of items) if (item.kind === "file") assert.equal(item.target.size, undefined);
  });
});

Deno.test("walkRoots() checks every path before it walks", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    // Thrown by the call itself: nothing is walked (nor reported) before every path is known.
    assert.throws(
      () => walkRoots([dir, join(dir, "nope")], { dataDir: dir }),
      (err) => err instanceof TelemetryError && err.kind === "usage",
    );
  });
});

Deno.test("walkRoots() refuses a data dir that is a file (a file given as a path is audited)", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    const file = join(dir, "matchID=a1", "raw.json.gz");
    assert.throws(
      () => walkRoots([], { dataDir: file }),
      (err) =>
        err instanceof TelemetryError && err.kind === "permanent" && err.code === "data_dir" &&
        err.message === `data dir ${file} is not a directory`,
    );
    const items = await Array.fromAsync(walkRoots([file], { dataDir: file }));
    assert.deepEqual(items, [{ kind: "unit", unit: { kind: "file", path: file } }]);
    // A link to a directory is a data dir; a path under a file does not exist (usage).
    await Deno.symlink(dir, join(dir, "link"));
    const linked = await Array.fromAsync(walkRoots([], { dataDir: join(dir, "link") }));
    assert.ok(linked.some((item) => item.kind === "unit"), JSON.stringify(linked));
    assert.throws(
      () => walkRoots([], { dataDir: join(file, "sub") }),
      (err) => err instanceof TelemetryError && err.kind === "usage" && err.code === "bad_option",
    );
  });
});

Deno.test("walkRoots() gives one unit per matchID= entry, and the data dir's own findings", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    const walked: WalkItem[] = await Array.fromAsync(walkRoots([dir], { dataDir: dir }));
    const units = walked.flatMap((w) => w.kind === "unit" ? [w.unit.path] : []).sort();
    assert.deepEqual(units, ["a1", "b2", "c3"].map((id) => join(dir, `matchID=${id}`)));
    const findings = walked.flatMap((w) => w.kind === "finding" ? [w.finding.status] : []).sort();
    assert.deepEqual(findings, ["bad_dir_name", "stray_temp"]);
  });
});

Deno.test("scanStream() gives an item once when paths overlap", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    const given = [
      dir,
      join(dir, "matchID=a1"),
      join(dir, "matchID=b2", "raw.json.gz"),
      join(dir, "matchID=a1", "raw.json.gz"),
      dir,
    ];
    const items = await Array.fromAsync(scanStream(given, { dataDir: dir }));
    const all = paths(items);
    assert.deepEqual(all, [...new Set(all)]);
    assert.equal(items.filter((i) => i.kind === "file").length, 2);
    assert.equal(items.filter((i) => i.kind === "finding").length, 4);
  });
});

Deno.test("scanStream() with --match-id walks only those, and reports the ones without a directory", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    const items = await Array.fromAsync(scanStream([], { dataDir: dir, matchIds: ["b2", "zz"] }));
    assert.deepEqual(
      items.map((i) =>
        i.kind === "file" ? `file:${i.target.matchId}` : `${i.finding.status}:${i.finding.matchId}`
      ).sort(),
      ["file:b2", "missing:zz", "stray_temp:b2"],
    );
  });
});

Deno.test("expandUnit() skips the files given as paths, and throws for a directory it cannot read", async () => {
  await withTempDir(async (dir) => {
    await store(dir);
    const path = join(dir, "matchID=b2");
    const unit = { kind: "entry", path, id: "b2", dataDir: dir, isDir: true } as const;
    assert.equal([...expandUnit(unit, [])].length, 2);
    const skip = [join(path, "raw.json.gz")];
    assert.deepEqual([...expandUnit({ ...unit, skip }, [])].map((i) => i.kind), ["finding"]);
    const file = join(dir, "matchID=a1", "raw.json.gz");
    assert.throws(() => [...expandUnit({ ...unit, path: file }, [])]);
  });
});
