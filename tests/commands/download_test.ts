import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { gzipEncoded, json, slow, status, withServer } from "../support/http_server.ts";
import { generateTelemetry, gzipBytes } from "../support/telemetry_fixture.ts";
import { EXCERPT, TRUNCATED } from "../support/real_fixtures.ts";
import { ROOT, runCli, type RunCliOptions, spawnCli } from "../support/cli.ts";

const REAL_MATCH_ID = "8c1c8a56-4104-46ef-8aec-5e012b041574";
const TEMP_NAME = /^\.raw\.json\.gz\..*\.tmp$/;

const ID_A = "aaaaaaaa-0000-4000-8000-000000000001";
const ID_B = "bbbbbbbb-0000-4000-8000-000000000002";
const ID_C = "cccccccc-0000-4000-8000-000000000003";
const A = generateTelemetry({ matchId: ID_A, events: 3_000 });
const A_GZ = await gzipBytes(A);
const B = generateTelemetry({ matchId: ID_B, events: 3_000, seed: 2 });
const C_GZ = await gzipBytes(generateTelemetry({ matchId: ID_C, events: 3_000, seed: 3 }));

/** Runs `telemetry` (see {@linkcode runCli}); a stack trace on stderr fails the test. */
async function cli(
  args: string[],
  options: RunCliOptions = {},
): Promise<[stdout: string, stderr: string, code: number]> {
  const [stdout, err, code] = await runCli(args, options);
  assert.ok(!err.includes("    at "), `no stack trace on stderr:\n${err}`);
  return [stdout, err, code];
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** Common flags: loopback server allowed, the test's data dir, quick retries. */
function flags(dataDir: string): string[] {
  return ["--data-dir", dataDir, "--allow-http", "--allow-host", "127.0.0.1", "--backoff", "0"];
}

/** `download URL EXTRA... FLAGS`: one download from the test server. */
function downloadArgs(dataDir: string, url: string, ...extra: string[]): string[] {
  return ["download", url, ...extra, ...flags(dataDir)];
}

function rawFile(dataDir: string, matchId: string): string {
  return join(dataDir, `matchID=${matchId}`, "raw.json.gz");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

Deno.test("telemetry download prints the outcome, then already_exists", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    const url = server.url("/a.json");
    const [out, err, code] = await cli(downloadArgs(dataDir, url, "--match-id", ID_A));
    assert.equal(code, 0, err);
    const path = rawFile(dataDir, ID_A);
    assert.equal(lines(out).length, 1);
    assert.match(out, /^downloaded\s/);
    assert.ok(out.includes(ID_A) && out.includes(path), out);
    const stored = await Deno.readFile(path);
    assert.ok(out.includes(`${stored.length} bytes`), out);
    assert.deepEqual(new Uint8Array(gunzipSync(stored)), A);

    const [again, err2, code2] = await cli(downloadArgs(dataDir, url, "--match-id", ID_A));
    assert.equal(code2, 0, err2);
    assert.match(again, /^already_exists\s/);
    assert.equal(server.count("/a.json"), 1, "no request for a file already present");
  });
});

Deno.test("telemetry download --json prints one object", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    const url = server.url("/a.json");
    const [out, err, code] = await cli(downloadArgs(dataDir, url, "--json"));
    assert.equal(code, 0, err);
    assert.equal(lines(out).length, 1);
    const result = JSON.parse(out);
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.match_id, ID_A, "taken from the content");
    assert.equal(result.path, rawFile(dataDir, ID_A));
    assert.equal(result.bytes, A_GZ.length);
    assert.equal(typeof result.seconds, "number");
    assert.deepEqual(await Deno.readFile(result.path), A_GZ);

    const [again, , code2] = await cli(downloadArgs(dataDir, url, "--json", "--match-id", ID_A));
    assert.equal(code2, 0);
    assert.equal(JSON.parse(again).outcome, "already_exists");
  });
});

Deno.test("telemetry download --force downloads again", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", [json(A), gzipEncoded(A_GZ)]);
    const args = downloadArgs(dataDir, server.url("/a.json"), "--match-id", ID_A);
    assert.equal((await cli(args))[2], 0);
    const [out, err, code] = await cli([...args, "--force", "--json"]);
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).outcome, "downloaded");
    assert.equal(server.count("/a.json"), 2);
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_A)), A_GZ);
  });
});

Deno.test("telemetry download stores the real duo excerpt", async () => {
  const excerpt = await Deno.readFile(EXCERPT);
  await withServer(async (server, dataDir) => {
    server.route("/duo.json", json(excerpt));
    const [out, err, code] = await cli(downloadArgs(dataDir, server.url("/duo.json"), "--json"));
    assert.equal(code, 0, err);
    const result = JSON.parse(out);
    assert.equal(result.match_id, REAL_MATCH_ID);
    assert.deepEqual(new Uint8Array(gunzipSync(await Deno.readFile(result.path))), excerpt);
  });
});

Deno.test("telemetry download exits 2 with one line for a bad match id", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    for (const bad of ["..", "../x", "a/b"]) {
      const [out, err, code] = await cli(
        downloadArgs(dataDir, server.url("/a.json"), "--match-id", bad),
      );
      assert.equal(code, 2, err);
      assert.equal(out, "");
      assert.equal(lines(err).length, 1, err);
      assert.ok(err.includes("invalid match id"), err);
    }
    assert.equal(server.count("/a.json"), 0);
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download exits 2 with one line for a refused URL", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    const cases = [
      [server.url("/a.json", "localhost"), /localhost is not in the allow-list/],
      [server.url("/a.json").replace("http:", "ftp:"), /scheme ftp/],
    ] as const;
    for (const [url, pattern] of cases) {
      const [out, err, code] = await cli(downloadArgs(dataDir, url, "--match-id", ID_A));
      assert.equal(code, 2, err);
      assert.equal(out, "");
      assert.equal(lines(err).length, 1, err);
      assert.match(err, pattern);
    }
    // Plain http without --allow-http.
    const [, err, code] = await cli([
      "download",
      server.url("/a.json"),
      "--data-dir",
      dataDir,
      "--allow-host",
      "127.0.0.1",
    ]);
    assert.equal(code, 2, err);
    assert.match(err, /--allow-http/);
    assert.equal(server.count("/a.json"), 0);
  });
});

Deno.test("telemetry download exits 2 with one line for a bad flag value or a missing URL", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const cases: [string[], RegExp][] = [
      [["download", "--jobs", "-", "--concurrency", "0"], /--concurrency/],
      [["download", "https://telemetry-cdn.pubg.com/x.json", "--max-bytes", "lots"], /--max-bytes/],
      [["download", "https://telemetry-cdn.pubg.com/x.json", "--log-format", "xml"], /xml/],
      [["download", "https://telemetry-cdn.pubg.com/x.json", "--bogus"], /--bogus/],
      [["download", "--data-dir", dataDir], /missing URL/],
    ];
    for (const [args, pattern] of cases) {
      const [out, err, code] = await cli(args);
      assert.equal(code, 2, `${args.join(" ")}: ${err}`);
      assert.equal(out, "");
      assert.equal(lines(err).length, 1, err);
      assert.match(err, pattern);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("telemetry download exits 1 for a 404", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/gone.json", status(404));
    const [out, err, code] = await cli(
      downloadArgs(dataDir, server.url("/gone.json?Signature=SECRET"), "--match-id", ID_A),
    );
    assert.equal(code, 1, err);
    assert.equal(out, "");
    assert.equal(lines(err).length, 1, err);
    assert.match(err, /HTTP 404/);
    assert.ok(!err.includes("SECRET"), "the query string of a signed URL is not logged");
    assert.equal(server.count("/gone.json"), 1, "not retried");
    assert.equal(await exists(rawFile(dataDir, ID_A)), false);
  });
});

Deno.test("telemetry download exits 1 beyond --max-bytes and stores nothing", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    const extra = ["--json", "--max-bytes", "1KiB", "--match-id", ID_A];
    const [out, err, code] = await cli(downloadArgs(dataDir, server.url("/a.json"), ...extra));
    assert.equal(code, 1, err);
    assert.equal(JSON.parse(out).error_code, "too_large");
    assert.equal(server.count("/a.json"), 1, "not retried");
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download exits 1 for the real truncated file and stores nothing", async () => {
  const truncated = await Deno.readFile(
    TRUNCATED,
  );
  await withServer(async (server, dataDir) => {
    server.route("/t.json", json(truncated));
    const [out, err, code] = await cli(downloadArgs(dataDir, server.url("/t.json"), "--json"));
    assert.equal(code, 1, err);
    const result = JSON.parse(out);
    assert.equal(result.outcome, "failed");
    assert.equal(result.error_code, "invalid_json");
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download --jobs runs a batch with one result line per job", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    server.route("/b.json", json(B));
    server.route("/c.json", gzipEncoded(C_GZ));
    server.route("/missing.json", status(404));
    const jobs = [
      { match_id: ID_A, telemetry_url: server.url("/a.json") },
      { match_id: ID_B, telemetry_url: server.url("/b.json"), map_name: "Baltic_Main" },
      { telemetry_url: server.url("/c.json") },
      { match_id: "dddddddd", telemetry_url: server.url("/missing.json") },
      { match_id: "../etc", telemetry_url: server.url("/a.json") },
      { match_id: "eeeeeeee", telemetry_url: server.url("/a.json", "localhost") },
    ];
    const path = join(dataDir, "..", "jobs.ndjson");
    await Deno.writeTextFile(path, jobs.map((j) => JSON.stringify(j)).join("\n") + "\n\n");
    const [out, err, code] = await cli([
      "download",
      "--jobs",
      path,
      "--concurrency",
      "3",
      "--json",
      ...flags(dataDir),
    ]);
    assert.equal(code, 1, err);
    const results = lines(out).map((l) => JSON.parse(l));
    assert.equal(results.length, 6, out);
    const byId = new Map(results.map((r) => [r.match_id, r]));
    assert.equal(byId.get(ID_A)?.outcome, "downloaded");
    assert.equal(byId.get(ID_B)?.outcome, "downloaded");
    assert.equal(byId.get(ID_C)?.outcome, "downloaded");
    assert.equal(byId.get("dddddddd")?.error_code, "http_status");
    assert.equal(byId.get("../etc")?.error_code, "bad_match_id");
    assert.equal(byId.get("eeeeeeee")?.error_code, "url_refused");
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_A)), A_GZ);
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_C)), C_GZ);
    assert.deepEqual(new Uint8Array(gunzipSync(await Deno.readFile(rawFile(dataDir, ID_B)))), B);
    assert.deepEqual(await entries(dataDir), [
      `matchID=${ID_A}`,
      `matchID=${ID_B}`,
      `matchID=${ID_C}`,
    ]);
  });
});

Deno.test("telemetry download --jobs reports a line that is not a job", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    const input = `not json\n{"match_id":"${ID_A}","telemetry_url":"${
      server.url("/a.json")
    }"}\n[1]\n`;
    const [out, err, code] = await cli(["download", "--jobs", "-", ...flags(dataDir)], {
      stdin: input,
    });
    assert.equal(code, 1, err);
    const results = lines(out);
    assert.equal(results.length, 3, "one result line per job in text mode");
    assert.equal(results.filter((l) => /^downloaded\s/.test(l)).length, 1);
    assert.equal(results.filter((l) => /^failed\s/.test(l)).length, 2);
    assert.ok(out.includes("line 1: not JSON") && out.includes("line 3"), out);
    assert.ok(err.includes("line 1") && err.includes("line 3"), err);
  });
});

Deno.test("telemetry download --jobs - reads stdin and exits 0 when all succeed", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    server.route("/b.json", json(B));
    server.route("/c.json", gzipEncoded(C_GZ));
    const input = [
      { match_id: ID_A, telemetry_url: server.url("/a.json") },
      { match_id: ID_B, telemetry_url: server.url("/b.json") },
      { match_id: ID_C, telemetry_url: server.url("/c.json") },
    ].map((j) => JSON.stringify(j)).join("\r\n");
    const [out, err, code] = await cli(
      ["download", "--jobs", "-", "--concurrency", "2", ...flags(dataDir)],
      { stdin: input },
    );
    assert.equal(code, 0, err);
    const outLines = lines(out);
    assert.equal(outLines.length, 3, out);
    assert.ok(outLines.every((l) => l.startsWith("downloaded")), out);
    for (const id of [ID_A, ID_B, ID_C]) assert.ok(await exists(rawFile(dataDir, id)));
  });
});

Deno.test("telemetry download --help names every flag", async () => {
  const [out, err, code] = await cli(["download", "--help"]);
  assert.equal(code, 0, err);
  for (
    const flag of [
      "--match-id",
      "--data-dir",
      "--force",
      "--json",
      "--allow-host",
      "--allow-http",
      "--max-bytes",
      "--jobs",
      "--concurrency",
      "--headers-timeout",
      "--idle-timeout",
      "--attempt-timeout",
      "--attempts",
      "--log-format",
      "TELEMETRY_DATA_DIR",
      "TELEMETRY_ALLOWED_HOSTS",
    ]
  ) {
    assert.ok(out.includes(flag), `help names ${flag}`);
  }
});

Deno.test("telemetry --version prints the version from deno.json", async () => {
  const { version } = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const [out, err, code] = await cli(["--version"]);
  assert.equal(code, 0, err);
  assert.equal(out.trim(), version);
});

Deno.test("telemetry download killed mid-download leaves no raw.json.gz", async () => {
  await withServer(async (server, dataDir) => {
    const big = await gzipBytes(generateTelemetry({ matchId: ID_A, events: 40_000 }));
    let sent = 0;
    server.route("/slow.json", [
      slow(big, { chunkSize: 16 * 1024, intervalMs: 100, onChunk: (n) => sent = n }),
      gzipEncoded(big),
    ]);
    const child = spawnCli(downloadArgs(dataDir, server.url("/slow.json"), "--match-id", ID_A));
    const matchDir = join(dataDir, `matchID=${ID_A}`);
    // Wait until the download is under way: bytes sent and a temp file with data in it.
    const deadline = Date.now() + 20_000;
    let temp: string | undefined;
    while (Date.now() < deadline) {
      temp = (await entries(matchDir)).find((n) => TEMP_NAME.test(n));
      if (
        temp !== undefined && sent > 64 * 1024 && (await Deno.stat(join(matchDir, temp))).size > 0
      ) {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    const { signal } = await child.status;
    assert.equal(signal, "SIGKILL");
    assert.ok(temp !== undefined, "a temp file was being written");
    assert.ok(sent < big.length, "killed before the end");
    assert.equal(await exists(rawFile(dataDir, ID_A)), false, "no raw.json.gz after a kill");

    const [out, err, code] = await cli(
      downloadArgs(dataDir, server.url("/slow.json"), "--match-id", ID_A, "--json"),
    );
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).outcome, "downloaded", "the leftover temp does not count as done");
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_A)), big);
  });
});
