import assert from "node:assert/strict";
import { withTempDir } from "../support/helpers.ts";
import { join } from "node:path";
import { toVerifySettings } from "../../src/commands/verify.ts";
import {
  gzip,
  peel,
  randomBytes,
  snapshot,
  telemetryJson,
  telemetryText,
  writeMatch,
} from "../verify/fixtures.ts";
import { EXCERPT } from "../support/real_fixtures.ts";
import { runCli, spawnCli } from "../support/cli.ts";
import { concatBytes } from "../support/bytes.ts";

const EXCERPT_ID = "8c1c8a56-4104-46ef-8aec-5e012b041574";
function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").map((l) => JSON.parse(l));
}

async function okStore(dir: string): Promise<void> {
  await writeMatch(dir, "ok-1", gzip(telemetryJson("ok-1", 500)));
  const text = telemetryText("ok-2", 500);
  const enc = new TextEncoder();
  await writeMatch(
    dir,
    "ok-2",
    concatBytes(gzip(enc.encode(text.slice(0, 999))), gzip(enc.encode(text.slice(999)))),
  );
  const excerpt = await Deno.readFile(
    EXCERPT,
  );
  await writeMatch(dir, EXCERPT_ID, gzip(excerpt));
}

/** One file or directory per status (too_large needs --max-decompressed-bytes 1MiB). */
async function everyStatus(dir: string): Promise<void> {
  await okStore(dir);
  await writeMatch(dir, "dbl", gzip(telemetryJson("dbl", 500), 3));
  await writeMatch(dir, "pln", telemetryJson("pln", 500));
  const whole = gzip(telemetryJson("trc", 3000));
  await writeMatch(dir, "trc", whole.subarray(0, whole.length >> 1));
  const crc = gzip(telemetryJson("crc", 500));
  crc[crc.length - 7]! ^= 0x55;
  await writeMatch(dir, "crc", crc);
  await writeMatch(dir, "bad", gzip(new TextEncoder().encode('[{"_T":"x"},{"_T":}]')));
  await writeMatch(dir, "emp", new Uint8Array());
  await writeMatch(dir, "obj", gzip(new TextEncoder().encode('{"not":"an array"}')));
  await writeMatch(dir, "wrg", gzip(telemetryJson("someone-else", 100)));
  await writeMatch(dir, "bmb", gzip(new Uint8Array(4 * 1024 * 1024).fill(0x20)));
  await writeMatch(dir, "pq", new Uint8Array([1]), "part-0.parquet");
  await Deno.mkdir(join(dir, "matchID=no good"));
  const old = join(dir, ".raw.json.gz.0123456789ab.tmp");
  await Deno.writeFile(old, new Uint8Array(10));
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  await Deno.utime(old, twoHoursAgo, twoHoursAgo);
  await writeMatch(dir, "ok-1", new Uint8Array(10), ".raw.json.gz.ba9876543210.tmp");
}

const EXPECTED_STATUSES = {
  "ok-1": "ok",
  "ok-2": "ok",
  [EXCERPT_ID]: "ok",
  dbl: "double_gzip",
  pln: "not_gzip",
  trc: "truncated",
  crc: "corrupt",
  bad: "invalid_json",
  emp: "empty",
  obj: "not_telemetry",
  wrg: "wrong_match",
  bmb: "too_large",
  pq: "missing",
};

Deno.test("verify exits 0 when every file is ok", async () => {
  await withTempDir(async (dir) => {
    await okStore(dir);
    const [stdout, stderr, code] = await runCli(["verify", "--data-dir", dir]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^\s+ok\s+3$/m);
    assert.match(stdout, /0 problems/);
  });
});

Deno.test("verify --json gives every status, offsets, and a summary; exits 1", async () => {
  await withTempDir(async (dir) => {
    await everyStatus(dir);
    const [stdout, stderr, code] = await runCli([
      "verify",
      "--json",
      "--max-decompressed-bytes",
      "1MiB",
      dir,
    ]);
    assert.equal(code, 1, stderr);
    const lines = jsonLines(stdout);
    const summary = lines.pop() as {
      summary: { problems: number; statuses: Record<string, number> };
    };
    const byId = Object.fromEntries(
      lines.filter((l) => l.match_id !== null && l.status !== "stray_temp")
        .map((l) => [l.match_id, l.status]),
    );
    assert.deepEqual(byId, EXPECTED_STATUSES);
    const statuses = new Set(lines.map((l) => l.status));
    for (const s of ["stray_temp", "bad_dir_name"]) assert.ok(statuses.has(s), s);
    const bad = lines.find((l) => l.match_id === "bad")!;
    assert.equal(bad.offset, 18);
    assert.match(String(bad.detail), /byte 18/);
    const ok = lines.find((l) => l.match_id === EXCERPT_ID)!;
    assert.equal(ok.events, 29);
    for (
      const key of [
        "path",
        "match_id",
        "status",
        "detail",
        "bytes",
        "decompressed_bytes",
        "seconds",
      ]
    ) {
      assert.ok(key in ok, key);
    }
    assert.match(String(lines.find((l) => l.match_id === "pq")!.detail), /part-0\.parquet/);
    assert.equal(summary.summary.problems, lines.length - 3);
    assert.equal(summary.summary.statuses.stray_temp, 2);
  });
});

Deno.test("verify prints the table and one line per problem", async () => {
  await withTempDir(async (dir) => {
    await everyStatus(dir);
    const [stdout, , code] = await runCli([
      "verify",
      "--data-dir",
      dir,
      "--max-decompressed-bytes",
      "1MiB",
    ]);
    assert.equal(code, 1);
    assert.match(stdout, /^\s+corrupt\s+1$/m);
    assert.match(stdout, /^\s+stray_temp\s+2$/m);
    assert.match(stdout, /^invalid_json\s+\S+matchID=bad\/raw\.json\.gz: .*byte 18/m);
    assert.match(stdout, /^missing\s+\S+matchID=pq: .*part-0\.parquet/m);
  });
});

Deno.test("verify prints each problem as it is found, then the table of counts", async () => {
  await withTempDir(async (dir) => {
    await everyStatus(dir);
    for (const jobs of ["1", "2"]) {
      const [stdout, , code] = await runCli([
        "verify",
        "--data-dir",
        dir,
        "--jobs",
        jobs,
        "--max-decompressed-bytes",
        "1MiB",
      ]);
      assert.equal(code, 1);
      const lines = stdout.trimEnd().split("\n");
      const table = lines.findIndex((l) => /^\s+status\s+count$/.test(l));
      assert.ok(table > 0, stdout);
      // Every problem line comes before the table, then one blank line.
      const problems = lines.slice(0, table - 1);
      assert.equal(lines[table - 1], "");
      assert.equal(problems.length, 13, stdout);
      assert.ok(problems.every((l) => /^[a-z_]+ +\/.+?: /.test(l)), stdout);
      assert.match(lines.at(-1)!, /13 problems$/);
    }
  });
});

Deno.test("verify exits 2 on usage errors", async () => {
  await withTempDir(async (dir) => {
    for (
      const args of [
        ["--match-id", "../etc"],
        [join(dir, "does-not-exist")],
        ["--jobs", "0", dir],
        ["--max-decompressed-bytes", "lots", dir],
        ["--no-such-flag", dir],
      ]
    ) {
      const [, stderr, code] = await runCli(["verify", ...args]);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.notEqual(stderr, "");
    }
  });
});

Deno.test("verify --match-id restricts the audit, TELEMETRY_DATA_DIR sets the data dir", async () => {
  await withTempDir(async (dir) => {
    await everyStatus(dir);
    const [stdout, , code] = await runCli(["verify", "--json", "--match-id", "ok-1,ok-2"], {
      env: { TELEMETRY_DATA_DIR: dir },
    });
    const lines = jsonLines(stdout);
    lines.pop();
    assert.deepEqual(lines.map((l) => `${l.match_id}:${l.status}`).sort(), [
      "ok-1:ok",
      "ok-1:stray_temp",
      "ok-2:ok",
    ]);
    assert.equal(code, 1);
  });
});

Deno.test("verify refuses a --data-dir or TELEMETRY_DATA_DIR that is a file, in download's words; a file path is audited", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "raw.json.gz");
    await Deno.writeFile(file, gzip(telemetryJson("ok-1", 50)));
    const runs: [string[], Record<string, string>][] = [
      [["verify", "--data-dir", file], {}],
      [["verify"], { TELEMETRY_DATA_DIR: file }],
    ];
    for (const [args, env] of runs) {
      const [out, err, code] = await runCli(args, { env });
      assert.equal(code, 1, err);
      assert.equal(out, "");
      assert.equal(err, `error: data dir ${file} is not a directory\n`);
    }
    // The words of `download`, which exits 1 for it too.
    const [, downloadErr, downloadCode] = await runCli(
      ["download", "https://telemetry-cdn.pubg.com/x.json", "--data-dir", file],
    );
    assert.equal(downloadCode, 1);
    assert.ok(downloadErr.includes(`data dir ${file} is not a directory`), downloadErr);
    // Given as a path, a file is what to audit.
    const [out, err, code] = await runCli(["verify", "--json", file]);
    assert.equal(code, 0, err);
    assert.equal(jsonLines(out)[0]?.status, "ok");
    // A data dir under a file does not exist: a usage error, not an os error.
    const [, missing, missingCode] = await runCli(["verify", "--data-dir", join(file, "sub")]);
    assert.equal(missingCode, 2, missing);
    assert.match(
      missing,
      /^error: cannot verify \S+raw\.json\.gz\/sub: no such file or directory$/m,
    );
  });
});

Deno.test("verify warns when there is nothing to verify", async () => {
  await withTempDir(async (dir) => {
    const [out, err, code] = await runCli(["verify", dir]);
    assert.equal(code, 0, err);
    assert.match(
      err,
      /warning: nothing to verify under .* \(expected matchID=<id>\/raw\.json\.gz\)/,
    );
    assert.match(out, /total\s+0/);
  });
});

Deno.test("verify --dry-run changes nothing", async () => {
  await withTempDir(async (dir) => {
    await everyStatus(dir);
    const before = await snapshot(dir);
    const [stdout, , code] = await runCli([
      "verify",
      "--fix",
      "--dry-run",
      "--max-decompressed-bytes",
      "1MiB",
      dir,
    ]);
    assert.equal(code, 1);
    assert.match(stdout, /would rewrite/);
    assert.match(stdout, /would move to/);
    assert.match(stdout, /would remove/);
    assert.deepEqual(await snapshot(dir), before);
  });
});

Deno.test("verify --fix repairs, quarantines, cleans; exits 1 only for what is left", async () => {
  await withTempDir(async (dir) => {
    await everyStatus(dir);
    const args = ["--fix", "--max-decompressed-bytes", "1MiB", "--json", dir];
    const [stdout, stderr, code] = await runCli(["verify", ...args]);
    assert.equal(code, 1, stderr);
    const summary = jsonLines(stdout).pop() as { summary: { unresolved: number } };
    assert.equal(summary.summary.unresolved, 3); // missing, bad_dir_name, too_large
    for (const id of ["dbl", "pln"]) {
      const after = peel(await Deno.readFile(join(dir, `matchID=${id}`, "raw.json.gz")));
      assert.equal(after.layers, 1);
      assert.deepEqual(after.content, telemetryJson(id, 500));
    }
    const [stamp] = [...(await snapshot(join(dir, ".quarantine"))).keys()];
    for (const id of ["trc", "crc", "bad", "emp", "obj", "wrg"]) {
      await Deno.stat(join(dir, ".quarantine", stamp!, `matchID=${id}`, "raw.json.gz"));
      await assert.rejects(() => Deno.stat(join(dir, `matchID=${id}`)), Deno.errors.NotFound);
    }
    await assert.rejects(() => Deno.stat(join(dir, ".raw.json.gz.0123456789ab.tmp")));
    await Deno.stat(join(dir, "matchID=ok-1", ".raw.json.gz.ba9876543210.tmp"));
    await Deno.stat(join(dir, "matchID=pq", "part-0.parquet"));
    await Deno.stat(join(dir, "matchID=bmb", "raw.json.gz"));
    // What is left: only the unresolvable ones; without them --fix exits 0.
    await Deno.remove(join(dir, "matchID=pq"), { recursive: true });
    await Deno.remove(join(dir, "matchID=no good"));
    const [, , again] = await runCli(["verify", "--fix", dir]);
    assert.equal(again, 0);
    const [, , audit] = await runCli(["verify", dir, "--match-id", "ok-2,dbl,pln"]);
    assert.equal(audit, 0);
  });
});

async function readHead(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const head = new Uint8Array(2);
  await file.read(head);
  return head;
}

Deno.test("verify --fix killed midway leaves every file intact or fixed", async () => {
  await withTempDir(async (dir) => {
    const template = telemetryText("ID", 12000);
    const originals = new Map<string, Uint8Array>();
    for (let i = 0; i < 12; i++) {
      const id = `kill-${i}`;
      const json = new TextEncoder().encode(template.replace('.ID"', `.${id}"`));
      originals.set(id, json);
      await writeMatch(dir, id, i % 2 === 0 ? gzip(json, 2) : json);
    }
    const child = spawnCli(["verify", "--fix", "--jobs", "2", dir]);
    // Kill once the first plain file was committed as gzip: some fixed, others in flight.
    const plain = [...originals.keys()].filter((_, i) => i % 2 === 1);
    let committed = false;
    for (let tries = 0; tries < 2000 && !committed; tries++) {
      await new Promise((r) => setTimeout(r, 5));
      for (const id of plain) {
        const head = await readHead(join(dir, `matchID=${id}`, "raw.json.gz"));
        if (head[0] === 0x1f) committed = true;
      }
    }
    assert.ok(committed, "no file was fixed");
    await new Promise((r) => setTimeout(r, 30));
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL", "the run ended before it could be killed");
    let fixed = 0;
    for (const [id, json] of originals) {
      const after = peel(await Deno.readFile(join(dir, `matchID=${id}`, "raw.json.gz")));
      assert.deepEqual(after.content, json, id);
      if (after.layers === 1) fixed++;
    }
    assert.ok(fixed < originals.size, `all ${fixed} were fixed before the kill`);
    const [stdout, , code] = await runCli(["verify", "--fix", dir]);
    assert.equal(code, 0, stdout);
    for (const [id, json] of originals) {
      const after = peel(await Deno.readFile(join(dir, `matchID=${id}`, "raw.json.gz")));
      assert.deepEqual([after.layers, after.content], [1, json], id);
    }
  });
});

Deno.test("toVerifySettings() validates and normalizes the flags", () => {
  const settings = toVerifySettings({
    dataDir: "/data",
    matchId: ["a", "b", "a"],
    jobs: 3,
    maxDecompressedBytes: 10,
    dryRun: true,
  });
  assert.deepEqual(settings, {
    dataDir: "/data",
    matchIds: ["a", "b"],
    json: false,
    fix: false,
    dryRun: true,
    jobs: 3,
    maxDecompressedBytes: 10,
  });
  assert.throws(() =>
    toVerifySettings({ dataDir: ".", matchId: [".."], jobs: 1, maxDecompressedBytes: 1 })
  );
});

/** Runs the CLI like runCli, but kills it and fails after `seconds` (it must never block). */
async function runCliWithin(
  args: string[],
  seconds: number,
): Promise<[stdout: string, stderr: string, code: number]> {
  const child = spawnCli(args, { stdout: "piped", stderr: "piped" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), seconds * 1000);
  });
  const output = child.output();
  const first = await Promise.race([output, killed]);
  clearTimeout(timer);
  if (first === "timeout") {
    child.kill("SIGKILL");
    await output;
    assert.fail(`telemetry ${args.join(" ")} still ran after ${seconds} s`);
  }
  const decoder = new TextDecoder();
  return [decoder.decode(first.stdout), decoder.decode(first.stderr), first.code];
}

Deno.test("verify reports trailing data and random bytes as corrupt, with the true counts", async () => {
  await withTempDir(async (dir) => {
    const json = telemetryJson("trl", 500);
    const gz = gzip(json);
    await writeMatch(dir, "trl", concatBytes(gz, new TextEncoder().encode("xyz")));
    const random = randomBytes(5000, 3);
    random[0] = 0xcd;
    await writeMatch(dir, "rnd", random);
    const [stdout, stderr, code] = await runCli(["verify", "--json", dir]);
    assert.equal(code, 1, stderr);
    const lines = jsonLines(stdout);
    const { status, detail, decompressed_bytes, offset } = lines.find((l) => l.match_id === "trl")!;
    assert.deepEqual({ status, detail, decompressed_bytes, offset }, {
      status: "corrupt",
      detail: `trailing data after the gzip stream at compressed byte ${gz.length}`,
      decompressed_bytes: json.length,
      offset: json.length,
    });
    const rnd = lines.find((l) => l.match_id === "rnd")!;
    assert.equal(rnd.status, "corrupt");
    assert.match(String(rnd.detail), /^neither gzip nor JSON: the file starts with bytes cd /);
  });
});

Deno.test("verify --fix keeps a file not named raw.json.gz and exits 1", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "x.json");
    const json = telemetryJson("x", 100);
    await Deno.writeFile(path, json);
    const [stdout, stderr, code] = await runCli(["verify", path, "--fix"]);
    assert.equal(code, 1, stderr);
    assert.match(
      stdout,
      /^not_gzip\s+\S+\/x\.json: .* -> kept: --fix changes only files named raw\.json\.gz, not "x\.json"$/m,
    );
    assert.match(stdout, /--fix resolved 0, left 1 unresolved/);
    assert.deepEqual(await Deno.readFile(path), json);
    assert.deepEqual([...(await snapshot(dir)).keys()], ["x.json"]);
  });
});

Deno.test("verify --fix names the command that re-queues a missing match", async () => {
  await withTempDir(async (dir) => {
    await writeMatch(dir, "pq", new Uint8Array([1]), "part-0.parquet");
    const [stdout, , code] = await runCli(["verify", "--fix", dir]);
    assert.equal(code, 1);
    assert.match(
      stdout,
      /^missing\s+\S+matchID=pq: .* -> left as it is: re-queue it with telemetry enqueue --env <env> --match-id pq <telemetry-url>$/m,
    );
  });
});

Deno.test("verify reports a FIFO and symlinks as not_regular, never blocks, and --fix leaves them", async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (outside) => {
      await okStore(dir);
      await Deno.mkdir(join(dir, "matchID=fifo"));
      const fifo = join(dir, "matchID=fifo", "raw.json.gz");
      assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
      await writeMatch(outside, "lnk", gzip(telemetryJson("lnk", 100), 2));
      await Deno.symlink(join(outside, "matchID=lnk"), join(dir, "matchID=lnk"));
      await Deno.mkdir(join(dir, "matchID=raw"));
      await Deno.writeFile(join(outside, "plain.json"), telemetryJson("raw", 100));
      await Deno.symlink(join(outside, "plain.json"), join(dir, "matchID=raw", "raw.json.gz"));
      const before = await snapshot(outside);
      const [stdout, stderr, code] = await runCliWithin(["verify", "--fix", "--json", dir], 60);
      assert.equal(code, 1, stderr);
      const lines = jsonLines(stdout);
      const summary = lines.pop() as { summary: { unresolved: number } };
      const byId = Object.fromEntries(lines.map((l) => [l.match_id, l]));
      for (const id of ["fifo", "lnk", "raw"]) {
        assert.equal(byId[id]!.status, "not_regular", id);
        assert.deepEqual(
          (byId[id]!.fix as { action: string; resolved: boolean }).resolved,
          false,
          id,
        );
      }
      assert.match(String(byId.fifo!.detail), /FIFO/);
      assert.equal(
        byId.lnk!.detail,
        `symbolic link to ${join(outside, "matchID=lnk")}: not followed`,
      );
      assert.equal(summary.summary.unresolved, 3);
      assert.deepEqual(await snapshot(outside), before);
      assert.ok((await Deno.lstat(join(dir, "matchID=lnk"))).isSymlink);
      assert.ok((await Deno.lstat(join(dir, "matchID=raw", "raw.json.gz"))).isSymlink);
      assert.ok((await Deno.lstat(fifo)).isFifo);
    });
  });
});
