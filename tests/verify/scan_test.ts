import assert from "node:assert/strict";
import { join } from "node:path";
import { TelemetryError } from "../../src/core/errors.ts";
import { scanPaths } from "../../src/verify/scan.ts";
import { gzip, telemetryJson, writeMatch } from "./fixtures.ts";

async function withStore(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await writeMatch(dir, "a1", gzip(telemetryJson("a1", 10)));
    await writeMatch(dir, "b2", gzip(telemetryJson("b2", 10)));
    await writeMatch(dir, "b2", new Uint8Array(5), ".raw.json.gz.00aa11bb22cc.tmp");
    await writeMatch(dir, "c3", new Uint8Array([1, 2]), "part-0.parquet");
    await Deno.mkdir(join(dir, "matchID=d4"));
    await Deno.mkdir(join(dir, "matchID=bad name"));
    await Deno.mkdir(join(dir, ".quarantine/20240101T000000Z/matchID=q"), { recursive: true });
    await Deno.writeFile(
      join(dir, ".quarantine/20240101T000000Z/matchID=q/raw.json.gz"),
      new Uint8Array(1),
    );
    await Deno.writeFile(join(dir, ".raw.json.gz.ffee00112233.tmp"), new Uint8Array(3));
    await Deno.writeFile(join(dir, "notes.txt"), new Uint8Array(3));
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("scanPaths() lists raw files and layout problems of a data dir", async () => {
  await withStore(async (dir) => {
    const { files, findings } = await scanPaths([], { dataDir: dir });
    assert.deepEqual(files.map((f) => [f.matchId, f.dataDir]), [["a1", dir], ["b2", dir]]);
    assert.ok(files.every((f) => f.size !== undefined && f.size > 0));
    const got = findings.map((f) => [f.status, f.path.slice(dir.length + 1), f.matchId]);
    assert.deepEqual(got, [
      ["stray_temp", ".raw.json.gz.ffee00112233.tmp", undefined],
      ["stray_temp", "matchID=b2/.raw.json.gz.00aa11bb22cc.tmp", "b2"],
      ["bad_dir_name", "matchID=bad name", undefined],
      ["missing", "matchID=c3", "c3"],
      ["missing", "matchID=d4", "d4"],
    ]);
    const c3 = findings.find((f) => f.matchId === "c3")!;
    assert.match(c3.detail, /part-0\.parquet/);
    assert.match(findings.find((f) => f.matchId === "d4")!.detail, /empty/);
    const temp = findings.find((f) => f.status === "stray_temp")!;
    assert.ok(temp.mtime instanceof Date);
    assert.equal(temp.bytes, 3);
  });
});

Deno.test("scanPaths() takes a match dir or a raw file as path", async () => {
  await withStore(async (dir) => {
    const one = await scanPaths([join(dir, "matchID=b2")], { dataDir: "/nonexistent" });
    assert.deepEqual(one.files.map((f) => f.matchId), ["b2"]);
    assert.deepEqual(one.findings.map((f) => f.status), ["stray_temp"]);
    const file = await scanPaths([join(dir, "matchID=a1/raw.json.gz")], {
      dataDir: "/nonexistent",
    });
    assert.deepEqual(file.files, [{
      path: join(dir, "matchID=a1/raw.json.gz"),
      matchId: "a1",
      dataDir: dir,
      size: file.files[0]!.size,
    }]);
    assert.deepEqual(file.findings, []);
  });
});

Deno.test("scanPaths() restricts to --match-id and reports unknown ids as missing", async () => {
  await withStore(async (dir) => {
    const { files, findings } = await scanPaths([dir], { dataDir: dir, matchIds: ["a1", "zz"] });
    assert.deepEqual(files.map((f) => f.matchId), ["a1"]);
    assert.deepEqual(findings.map((f) => [f.status, f.matchId]), [["missing", "zz"]]);
  });
});

Deno.test("scanPaths() does not list the same file twice", async () => {
  await withStore(async (dir) => {
    const { files } = await scanPaths([dir, join(dir, "matchID=a1")], { dataDir: dir });
    assert.equal(files.length, 2);
  });
});

Deno.test("scanPaths() rejects a path that does not exist as a usage error", async () => {
  await assert.rejects(
    () => scanPaths(["/nonexistent/telemetry"], { dataDir: "." }),
    (err) => err instanceof TelemetryError && err.kind === "usage",
  );
});

Deno.test("scanPaths() lists a matchID= symlink itself and never looks inside it", async () => {
  await withStore(async (dir) => {
    const outside = await Deno.makeTempDir();
    try {
      await writeMatch(outside, "x9", gzip(telemetryJson("x9", 10)));
      await Deno.symlink(join(outside, "matchID=x9"), join(dir, "matchID=x9"));
      await Deno.symlink(join(outside, "nowhere"), join(dir, "matchID=y8"));
      const { files, findings } = await scanPaths([], { dataDir: dir });
      const links = files.filter((f) => f.matchId === "x9" || f.matchId === "y8");
      assert.deepEqual(links.map((f) => [f.path, f.size]), [
        [join(dir, "matchID=x9"), undefined],
        [join(dir, "matchID=y8"), undefined],
      ]);
      assert.ok(files.every((f) => !f.path.startsWith(outside)));
      assert.ok(findings.every((f) => f.matchId !== "x9" && f.matchId !== "y8"));
      // Named with --match-id, or as a path, it is the link that is listed.
      const byId = await scanPaths([], { dataDir: dir, matchIds: ["x9"] });
      assert.deepEqual(byId.files.map((f) => f.path), [join(dir, "matchID=x9")]);
      assert.deepEqual(byId.findings, []);
      for (const path of [join(dir, "matchID=x9"), join(dir, "matchID=x9", "raw.json.gz")]) {
        const one = await scanPaths([path], { dataDir: "/nonexistent" });
        assert.deepEqual(one.files.map((f) => [f.path, f.matchId, f.dataDir]), [
          [join(dir, "matchID=x9"), "x9", dir],
        ]);
      }
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("scanPaths() lists a raw.json.gz that is a symlink or a FIFO, without its size", async () => {
  await withStore(async (dir) => {
    await Deno.remove(join(dir, "matchID=a1", "raw.json.gz"));
    await Deno.symlink(
      join(dir, "matchID=b2", "raw.json.gz"),
      join(dir, "matchID=a1", "raw.json.gz"),
    );
    const fifo = join(dir, "matchID=d4", "raw.json.gz");
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const { files, findings } = await scanPaths([], { dataDir: dir });
    assert.deepEqual(files.map((f) => [f.matchId, f.size === undefined]), [
      ["a1", true],
      ["b2", false],
      ["d4", true],
    ]);
    assert.ok(findings.every((f) => f.matchId !== "d4"));
  });
});

Deno.test("scanPaths() follows a data dir given as a symlink", async () => {
  await withStore(async (dir) => {
    const parent = await Deno.makeTempDir();
    try {
      const link = join(parent, "telemetry");
      await Deno.symlink(dir, link);
      const { files } = await scanPaths([], { dataDir: link });
      assert.deepEqual(files.map((f) => f.path), [
        join(link, "matchID=a1", "raw.json.gz"),
        join(link, "matchID=b2", "raw.json.gz"),
      ]);
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  });
});
