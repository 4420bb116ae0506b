import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  bytes,
  gzipEncoded,
  json,
  redirect,
  slow,
  stall,
  startServer,
  status,
  type TestServer,
  withServer,
} from "../support/http_server.ts";
import { generateTelemetry, gzipBytes } from "../support/telemetry_fixture.ts";
import { EXCERPT, TRUNCATED } from "../support/real_fixtures.ts";
import { ROOT, runCli, type RunCliOptions, spawnCli } from "../support/cli.ts";
import { giveToUnprivileged, runCliUnprivileged } from "../support/unprivileged.ts";
import { exists } from "../support/helpers.ts";
import { USAGE_HINT } from "../../src/commands/program.ts";

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

/** The one `error: …` line of a usage error, after checking the hint follows it and nothing else. */
function usageLine(stderr: string): string {
  const [line, hint, ...rest] = lines(stderr);
  assert.match(line ?? "", /^error: /, stderr);
  assert.equal(hint, USAGE_HINT, stderr);
  assert.deepEqual(rest, [], stderr);
  return line!;
}

/** Common flags: the loopback server's host and port allowed, the test's data dir, quick retries. */
function flags(server: TestServer, dataDir: string): string[] {
  const allow = `127.0.0.1:${server.port}`;
  return ["--data-dir", dataDir, "--allow-http", "--allow-host", allow, "--backoff", "0"];
}

/** Serves the three matches: `/a.json` and `/c.json` gzip-encoded, `/b.json` plain. */
function routeMatches(server: TestServer): void {
  server.route("/a.json", gzipEncoded(A_GZ));
  server.route("/b.json", json(B));
  server.route("/c.json", gzipEncoded(C_GZ));
}

/** `download URL EXTRA... FLAGS`: one download from the test server. */
function downloadArgs(
  server: TestServer,
  dataDir: string,
  url: string,
  ...extra: string[]
): string[] {
  return ["download", url, ...extra, ...flags(server, dataDir)];
}

/**
 * Serves the file `fixture` as JSON, then runs `telemetry download <its URL>
 * --json`: the file's bytes, the result line parsed (null when there is
 * none), stderr and the exit code.
 */
async function downloadFixture(server: TestServer, dataDir: string, fixture: URL) {
  const bytes = await Deno.readFile(fixture);
  server.route("/fixture.json", json(bytes));
  const args = downloadArgs(server, dataDir, server.url("/fixture.json"), "--json");
  const [out, err, code] = await cli(args);
  return { bytes, result: JSON.parse(out || "null"), err, code };
}

function rawFile(dataDir: string, matchId: string): string {
  return join(dataDir, `matchID=${matchId}`, "raw.json.gz");
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
    const [out, err, code] = await cli(downloadArgs(server, dataDir, url, "--match-id", ID_A));
    assert.equal(code, 0, err);
    const path = rawFile(dataDir, ID_A);
    assert.equal(lines(out).length, 1);
    assert.match(out, /^downloaded\s/);
    assert.ok(out.includes(ID_A) && out.includes(path), out);
    const stored = await Deno.readFile(path);
    assert.ok(out.includes(`${stored.length} bytes`), out);
    assert.deepEqual(new Uint8Array(gunzipSync(stored)), A);

    const [again, err2, code2] = await cli(downloadArgs(server, dataDir, url, "--match-id", ID_A));
    assert.equal(code2, 0, err2);
    assert.match(again, /^already_exists\s/);
    assert.equal(server.count("/a.json"), 1, "no request for a file already present");
  });
});

Deno.test("telemetry download --json prints one object", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    const url = server.url("/a.json");
    const [out, err, code] = await cli(downloadArgs(server, dataDir, url, "--json"));
    assert.equal(code, 0, err);
    assert.equal(lines(out).length, 1);
    const result = JSON.parse(out);
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.match_id, ID_A, "taken from the content");
    assert.equal(result.path, rawFile(dataDir, ID_A));
    assert.equal(result.bytes, A_GZ.length);
    assert.equal(typeof result.seconds, "number");
    assert.deepEqual(await Deno.readFile(result.path), A_GZ);

    const [again, , code2] = await cli(
      downloadArgs(server, dataDir, url, "--json", "--match-id", ID_A),
    );
    assert.equal(code2, 0);
    assert.equal(JSON.parse(again).outcome, "already_exists");
  });
});

Deno.test("telemetry download --force downloads again", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", [json(A), gzipEncoded(A_GZ)]);
    const args = downloadArgs(server, dataDir, server.url("/a.json"), "--match-id", ID_A);
    assert.equal((await cli(args))[2], 0);
    const [out, err, code] = await cli([...args, "--force", "--json"]);
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).outcome, "downloaded");
    assert.equal(server.count("/a.json"), 2);
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_A)), A_GZ);
  });
});

Deno.test("telemetry download stores the real duo excerpt", async () => {
  await withServer(async (server, dataDir) => {
    const { bytes, result, err, code } = await downloadFixture(server, dataDir, EXCERPT);
    assert.equal(code, 0, err);
    assert.equal(result.match_id, REAL_MATCH_ID);
    assert.deepEqual(new Uint8Array(gunzipSync(await Deno.readFile(result.path))), bytes);
  });
});

Deno.test("telemetry download exits 2 with one line for a bad match id", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    for (const bad of ["..", "../x", "a/b"]) {
      const [out, err, code] = await cli(
        downloadArgs(server, dataDir, server.url("/a.json"), "--match-id", bad),
      );
      assert.equal(code, 2, err);
      assert.equal(out, "");
      assert.match(usageLine(err), /^error: invalid match id /);
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
      const [out, err, code] = await cli(downloadArgs(server, dataDir, url, "--match-id", ID_A));
      assert.equal(code, 2, err);
      assert.equal(out, "");
      assert.match(usageLine(err), pattern);
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
      assert.match(usageLine(err), pattern);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("telemetry download exits 1 for a 404", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/gone.json", status(404));
    const [out, err, code] = await cli(
      downloadArgs(server, dataDir, server.url("/gone.json?Signature=SECRET"), "--match-id", ID_A),
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
    const [out, err, code] = await cli(
      downloadArgs(server, dataDir, server.url("/a.json"), ...extra),
    );
    assert.equal(code, 1, err);
    assert.equal(JSON.parse(out).error_code, "too_large");
    assert.equal(server.count("/a.json"), 1, "not retried");
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download exits 1 for the real truncated file and stores nothing", async () => {
  await withServer(async (server, dataDir) => {
    const { result, err, code } = await downloadFixture(server, dataDir, TRUNCATED);
    assert.equal(code, 1, err);
    assert.equal(result.outcome, "failed");
    assert.equal(result.error_code, "invalid_json");
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download --jobs runs a batch with one result line per job", async () => {
  await withServer(async (server, dataDir) => {
    routeMatches(server);
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
      ...flags(server, dataDir),
    ]);
    assert.equal(code, 1, err);
    const results = lines(out).map((l) => JSON.parse(l));
    assert.equal(results.length, 6, out);
    const byId = new Map(results.map((r) => [r.match_id, r]));
    // Every result carries its line, whatever the outcome.
    const lineOf = new Map(jobs.map((j, i) => [j.match_id ?? ID_C, i + 1]));
    for (const r of results) assert.equal(r.line, lineOf.get(r.match_id), JSON.stringify(r));
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

Deno.test("telemetry download --jobs reports a line that is not a job, once, on stderr", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    const input = `not json\n{"match_id":"${ID_A}","telemetry_url":"${
      server.url("/a.json")
    }"}\n[1]\n`;
    const [out, err, code] = await cli(["download", "--jobs", "-", ...flags(server, dataDir)], {
      stdin: input,
    });
    assert.equal(code, 1, err);
    const results = lines(out);
    assert.equal(results.length, 1, "stdout: the jobs stored");
    assert.match(results[0]!, /^downloaded\s/);
    // Each failure once, on stderr, in the shape of enqueue's `refused  line N: …`; no log record of it.
    const failures = lines(err).filter((l) => !l.startsWith("{"));
    assert.deepEqual(failures.sort(), [
      "failed  line 1: the job is not valid JSON",
      "failed  line 3: the job is not a JSON object",
    ]);
    assert.deepEqual(lines(err).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).event), [
      "batch_done",
    ]);
  });
});

Deno.test("telemetry download --jobs gives every result and failure line its line number and match id", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    server.route("/c.json", gzipEncoded(C_GZ));
    server.route("/missing.json", status(404));
    const input = [
      JSON.stringify({ match_id: ID_A, telemetry_url: server.url("/a.json") }),
      "not json",
      JSON.stringify({ match_id: "m404", telemetry_url: server.url("/missing.json") }),
      JSON.stringify({ telemetry_url: server.url("/c.json") }),
      JSON.stringify({ match_id: "m-no-url" }),
    ].join("\n");
    const args = ["download", "--jobs", "-", "--concurrency", "1", ...flags(server, dataDir)];
    const [out, err, code] = await cli(args, { stdin: input });
    assert.equal(code, 1, err);
    const text = lines(out);
    assert.equal(text.length, 2, out);
    assert.match(
      text[0]!,
      new RegExp(`^downloaded +${ID_A} +line 1 +\\S+raw\\.json\\.gz +\\d+ bytes`),
    );
    assert.match(text[1]!, new RegExp(`^downloaded +${ID_C} +line 4 `));
    const failed = lines(err).filter((l) => l.startsWith("failed "));
    assert.equal(failed.length, 3, err);
    assert.equal(failed[0], "failed  line 2: the job is not valid JSON");
    assert.match(failed[1]!, /^failed {2}line 3 \(match m404\): HTTP 404 /);
    assert.equal(failed[2], 'failed  line 5 (match m-no-url): the job has no "telemetry_url"');
    assert.equal(lines(err).length, 4, `the failures and batch_done, nothing twice:\n${err}`);

    const [json, err2, code2] = await cli([...args, "--json", "--force"], { stdin: input });
    assert.equal(code2, 1, err2);
    // With --json a failure is its result object on stdout, and nothing on stderr.
    assert.deepEqual(lines(err2).map((l) => JSON.parse(l).event), ["batch_done"]);
    const results = lines(json).map((l) => JSON.parse(l));
    assert.deepEqual(
      results.map((r) => [r.line, r.match_id, r.outcome, r.error_code]),
      [
        [1, ID_A, "downloaded", undefined],
        [2, null, "failed", "bad_job"],
        [3, "m404", "failed", "http_status"],
        [4, ID_C, "downloaded", undefined],
        [5, "m-no-url", "failed", "bad_job"],
      ],
    );
  });
});

Deno.test("telemetry download says an HTML page is not telemetry (permanent invalid_json, not retried)", async () => {
  await withServer(async (server, dataDir) => {
    const page = new TextEncoder().encode("<!DOCTYPE html>\n<html><body>Sign in</body></html>\n");
    server.route("/login", bytes(page, { "content-type": "text/html" }));
    const args = downloadArgs(server, dataDir, server.url("/login"), "--match-id", ID_A);
    const [out, err, code] = await cli([...args, "--log-format", "text"]);
    assert.equal(code, 1, err);
    assert.equal(out, "");
    assert.equal(lines(err).length, 1, err);
    assert.match(err, /kind=permanent code=invalid_json /);
    assert.match(
      err,
      /the content is an HTML page \(starts with '<'\), not JSON: the URL may point to an error or login page/,
    );
    assert.doesNotMatch(err, /expected a JSON value/);
    const [json] = await cli([...args, "--json"]);
    const result = JSON.parse(json);
    assert.deepEqual([result.error_kind, result.error_code], ["permanent", "invalid_json"]);
    assert.equal(server.count("/login"), 2, "one request per run: not retried");
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download names --max-decompressed-bytes when content decompresses beyond it", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.gz", gzipEncoded(A_GZ));
    server.route("/a.json", json(A));
    for (const path of ["/a.gz", "/a.json"]) {
      const extra = ["--match-id", ID_A, "--max-decompressed-bytes", "64KiB", "--json"];
      const [out, err, code] = await cli(downloadArgs(server, dataDir, server.url(path), ...extra));
      assert.equal(code, 1, err);
      const result = JSON.parse(out);
      assert.equal(result.error_code, "too_large", path);
      assert.match(result.error, /--max-decompressed-bytes 65536|--max-decompressed-bytes\)/, path);
      assert.match(err, /--max-decompressed-bytes/, path);
    }
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download --jobs - reads stdin and exits 0 when all succeed", async () => {
  await withServer(async (server, dataDir) => {
    routeMatches(server);
    const input = [
      { match_id: ID_A, telemetry_url: server.url("/a.json") },
      { match_id: ID_B, telemetry_url: server.url("/b.json") },
      { match_id: ID_C, telemetry_url: server.url("/c.json") },
    ].map((j) => JSON.stringify(j)).join("\r\n");
    const [out, err, code] = await cli(
      ["download", "--jobs", "-", "--concurrency", "2", ...flags(server, dataDir)],
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
    const child = spawnCli(
      downloadArgs(server, dataDir, server.url("/slow.json"), "--match-id", ID_A),
    );
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
      downloadArgs(server, dataDir, server.url("/slow.json"), "--match-id", ID_A, "--json"),
    );
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).outcome, "downloaded", "the leftover temp does not count as done");
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_A)), big);
  });
});

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether `dir` holds a temp file with bytes in it. */
async function hasTempWithData(dir: string): Promise<boolean> {
  for (const name of await entries(dir)) {
    if (TEMP_NAME.test(name) && (await Deno.stat(join(dir, name))).size > 0) return true;
  }
  return false;
}

/** Runs a child to its end and returns its decoded output and exit code. */
async function finish(child: Deno.ChildProcess): Promise<[string, string, number]> {
  const { stdout, stderr, code } = await child.output();
  const decoder = new TextDecoder();
  const err = decoder.decode(stderr);
  assert.ok(!err.includes("    at "), `no stack trace on stderr:\n${err}`);
  return [decoder.decode(stdout), err, code];
}

for (const [signal, exitCode] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`telemetry download on ${signal} removes its temp file and the directories it made, says interrupted, exits ${exitCode}`, async () => {
    await withServer(async (server, dataDir) => {
      // The server sends 16 KiB, then nothing: the download is under way until the signal.
      server.route("/a.json", stall(A_GZ, 16 * 1024));
      const matchDir = join(dataDir, `matchID=${ID_A}`);
      const extra = signal === "SIGINT" ? ["--match-id", ID_A] : [];
      // Without --match-id the temp file is in the data dir itself.
      const tempDir = signal === "SIGINT" ? matchDir : dataDir;
      const child = spawnCli(downloadArgs(server, dataDir, server.url("/a.json"), ...extra), {
        stdout: "piped",
        stderr: "piped",
      });
      await waitFor(() => hasTempWithData(tempDir), "a temp file with data");
      child.kill(signal);
      const [out, err, code] = await finish(child);
      assert.equal(code, exitCode, err);
      assert.equal(out, "");
      assert.equal(lines(err).length, 1, err);
      const line = JSON.parse(err);
      assert.equal(line.event, "interrupted");
      assert.equal(line.signal, signal);
      assert.equal(await exists(dataDir), false, "no temp file, no matchID= dir, no data dir");
      assert.equal(server.count("/a.json"), 1, "not retried");
    });
  });
}

Deno.test("telemetry download --jobs on SIGINT starts no new job, aborts the running one and sums up what finished", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", gzipEncoded(A_GZ));
    server.route("/b.json", stall(await gzipBytes(B), 16 * 1024));
    server.route("/c.json", gzipEncoded(C_GZ));
    const jobs = [
      { match_id: ID_A, telemetry_url: server.url("/a.json") },
      { match_id: ID_B, telemetry_url: server.url("/b.json") },
      { match_id: ID_C, telemetry_url: server.url("/c.json") },
    ];
    const path = join(dataDir, "..", "jobs.ndjson");
    await Deno.writeTextFile(path, jobs.map((j) => JSON.stringify(j)).join("\n") + "\n");
    const child = spawnCli(
      ["download", "--jobs", path, "--concurrency", "1", ...flags(server, dataDir)],
      { stdout: "piped", stderr: "piped" },
    );
    await waitFor(() => hasTempWithData(join(dataDir, `matchID=${ID_B}`)), "job 2 under way");
    child.kill("SIGINT");
    const [out, err, code] = await finish(child);
    assert.equal(code, 130, err);
    assert.equal(lines(out).length, 1, out);
    assert.match(out, new RegExp(`^downloaded +${ID_A} +line 1 `));
    const logged = lines(err).map((l) => JSON.parse(l));
    assert.deepEqual(logged.map((l) => l.event), ["interrupted"], err);
    assert.deepEqual(
      [logged[0].signal, logged[0].jobs, logged[0].failed, logged[0].aborted],
      ["SIGINT", 1, 0, 1],
    );
    assert.equal(server.count("/c.json"), 0, "no job started after the signal");
    assert.deepEqual(await entries(dataDir), [`matchID=${ID_A}`]);
    assert.deepEqual(await entries(join(dataDir, `matchID=${ID_A}`)), ["raw.json.gz"]);
  });
});

Deno.test("telemetry download refuses an unusable data dir at once: one line naming it, exit 1, no request", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    const file = join(dataDir, "..", "a-file");
    await Deno.writeTextFile(file, "x");
    const cases: [string, RegExp][] = [
      [file, /data dir \S*a-file is not a directory/],
      [
        join(file, "data"),
        /data dir \S*a-file\/data cannot be created: \S*a-file is not a directory/,
      ],
      ["/proc/nc/data", /data dir \/proc\/nc\/data cannot be used: .*\/proc .*off limits/],
    ];
    for (const [dir, pattern] of cases) {
      const url = server.url("/a.json");
      const args = downloadArgs(server, dir, url, "--match-id", ID_A, "--attempts", "3");
      const [out, err, code] = await cli(args);
      assert.equal(code, 1, err);
      assert.equal(out, "");
      assert.equal(lines(err).length, 1, err);
      assert.match(err, pattern);
      assert.doesNotMatch(err, /allow-all|os error|retry/);
      const [json, , jsonCode] = await cli([...args, "--json"]);
      assert.equal(jsonCode, 1);
      const result = JSON.parse(json);
      assert.deepEqual([result.error_kind, result.error_code], ["permanent", "data_dir"]);

      const jobs = JSON.stringify({ match_id: ID_A, telemetry_url: url });
      const batch = ["download", "--jobs", "-", ...flags(server, dir)];
      const [, batchErr, batchCode] = await cli(batch, { stdin: jobs });
      assert.equal(batchCode, 1, batchErr);
      assert.equal(lines(batchErr).length, 1, batchErr);
      assert.match(batchErr, pattern);
    }
    assert.equal(server.count("/a.json"), 0, "no network before the data dir is usable");
  });
});

// Root writes anywhere: the CLI runs as an unprivileged user (nobody under root).
Deno.test("telemetry download names a data dir it may not write to: permission denied", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/a.json", json(A));
    await Deno.chmod(join(dataDir, ".."), 0o755);
    await Deno.mkdir(dataDir, { mode: 0o500 });
    await giveToUnprivileged(dataDir);
    try {
      const args = downloadArgs(server, dataDir, server.url("/a.json"));
      const [, err, code] = await runCliUnprivileged(args);
      assert.equal(code, 1, err);
      assert.match(err, /is not writable: permission denied/);
      assert.ok(!err.includes("    at "), `no stack trace on stderr:\n${err}`);
      assert.equal(server.count("/a.json"), 0);
    } finally {
      await Deno.chmod(dataDir, 0o700);
    }
  });
});

Deno.test("telemetry download refuses telemetry of another match at its first event and stops the transfer", async () => {
  await withServer(async (server, dataDir) => {
    let sent = 0;
    // About 60 chunks, one every 100 ms: seconds to send it all.
    server.route(
      "/b.json",
      slow(B, { chunkSize: 16 * 1024, intervalMs: 100, onChunk: (n) => sent = n }),
    );
    const args = downloadArgs(server, dataDir, server.url("/b.json"), "--match-id", ID_A, "--json");
    const [out, err, code] = await cli(args);
    assert.equal(code, 1, err);
    assert.equal(JSON.parse(out).error_code, "wrong_match");
    assert.ok(sent < B.length / 2, `the transfer stopped early: ${sent} of ${B.length} bytes sent`);
    assert.equal(server.count("/b.json"), 1, "not retried");
    assert.deepEqual(await entries(dataDir), []);
  });
});

Deno.test("telemetry download --allow-host takes host or host:port and nothing else (exit 2)", async () => {
  const url = "https://telemetry-cdn.pubg.com/x.json";
  const bad = ["http://127.0.0.1", "127.0.0.1/path", "", "127.0.0.1:", "host:99999", "a@b"];
  for (const value of bad) {
    const [out, err, code] = await cli(["download", url, "--allow-host", value]);
    assert.equal(code, 2, `${JSON.stringify(value)}: ${err}`);
    assert.equal(out, "");
    assert.match(
      usageLine(err),
      /expected host or host:port, such as cdn\.example\.com or 127\.0\.0\.1:8080/,
    );
  }
  const [, err, code] = await cli(["download", url], {
    env: { TELEMETRY_ALLOWED_HOSTS: "ok.example,https://bad.example" },
  });
  assert.equal(code, 2, err);
  assert.match(err, /bad\.example.*expected host or host:port/);
});

Deno.test("telemetry download: a bare --allow-host allows only the default port, host:port that port, redirects included", async () => {
  await withServer(async (server, dataDir) => {
    await using other = startServer();
    server.route("/a.json", json(A));
    server.route("/elsewhere", redirect(other.url("/a.json")));
    other.route("/a.json", json(A));
    const url = server.url("/a.json");
    const bare = ["--data-dir", dataDir, "--allow-http", "--allow-host", "127.0.0.1"];
    const [, err, code] = await cli(["download", url, "--match-id", ID_A, ...bare]);
    assert.equal(code, 2, err);
    assert.match(err, new RegExp(`port ${server.port} of host 127\\.0\\.0\\.1 is not allowed`));
    assert.match(err, new RegExp(`--allow-host 127\\.0\\.0\\.1:${server.port}`));

    const redirected = downloadArgs(server, dataDir, server.url("/elsewhere"), "--match-id", ID_A);
    const [, err2, code2] = await cli(redirected);
    assert.equal(code2, 2, err2);
    assert.match(err2, new RegExp(`port ${other.port} of host 127\\.0\\.0\\.1 is not allowed`));
    assert.equal(other.count("/a.json"), 0, "the redirect to another port was not followed");

    const [out3, err3, code3] = await cli(downloadArgs(server, dataDir, url, "--match-id", ID_A));
    assert.equal(code3, 0, err3);
    assert.match(out3, /^downloaded /);
  });
});

Deno.test("telemetry without a command prints the help on stderr and exits 2", async () => {
  const [out, err, code] = await cli([]);
  assert.equal(code, 2, err);
  assert.equal(out, "");
  assert.match(err, /^Usage: telemetry /);
  assert.match(err, /download/);
  const [helpOut, helpErr, helpCode] = await cli(["help"]);
  assert.equal(helpCode, 0, helpErr);
  assert.match(helpOut, /^Usage: telemetry /);
});

Deno.test("telemetry download --help says the --log-format default in full", async () => {
  const [out, , code] = await cli(["download", "--help"]);
  assert.equal(code, 0);
  const help = out.split("\n").find((l) => l.includes("--log-format")) ?? "";
  assert.match(help, /text on a TTY, else json/, out);
});
