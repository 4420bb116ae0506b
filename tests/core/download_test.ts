import assert from "node:assert/strict";
import { expectTelemetryError, recordingFs, withTempDir } from "../support/helpers.ts";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  type DownloadOptions,
  type DownloadResult,
  downloadTelemetry,
} from "../../src/core/download.ts";
import type { TelemetryError } from "../../src/core/errors.ts";
import { denoFileSystem, type FileSystem } from "../../src/core/store/file_system.ts";
import {
  chunked,
  gzipEncoded,
  gzipFile,
  hang,
  json,
  redirect,
  shortBody,
  slow,
  stall,
  status,
  type TestServer,
  withServer,
} from "../support/http_server.ts";
import { generateTelemetry, gzipBytes, telemetryMatchId } from "../support/telemetry_fixture.ts";
import { EXCERPT, TRUNCATED } from "../support/real_fixtures.ts";
import { concatBytes } from "../support/bytes.ts";

const MATCH_ID = "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const OTHER_ID = "00000000-1111-2222-3333-444444444444";
const REAL_MATCH_ID = "8c1c8a56-4104-46ef-8aec-5e012b041574";
const TEMP_NAME = /^\.raw\.json\.gz\..*\.tmp$/;
const encoder = new TextEncoder();

/** Tens of thousands of events, ~10 MB of JSON. */
const TELEMETRY = generateTelemetry({ matchId: MATCH_ID, events: 30_000 });
const TELEMETRY_GZ = await gzipBytes(TELEMETRY);
/** A small file for the failure cases. */
const SMALL = generateTelemetry({ matchId: MATCH_ID, events: 2_000 });
/** Download options without a match id: it is taken from the content. */
const FROM_CONTENT: Partial<DownloadOptions> = {};

function gunzip(data: Uint8Array): Uint8Array {
  return new Uint8Array(gunzipSync(data));
}

/**
 * Options for a loopback server: http allowed on the host and port of
 * `origin` (any URL of the server), small timeouts, no real sleeping.
 */
function opts(
  origin: string,
  dataDir: string,
  extra: Partial<DownloadOptions> = {},
): DownloadOptions {
  return {
    dataDir,
    policy: { allowHosts: [new URL(origin).host], allowHttp: true },
    timeouts: { headersMs: 2_000, idleMs: 300, attemptMs: 20_000 },
    retry: { backoffMs: 1 },
    sleep: () => Promise.resolve(),
    ...extra,
  };
}

function rawFile(dataDir: string, matchId = MATCH_ID): string {
  return join(dataDir, `matchID=${matchId}`, "raw.json.gz");
}

/** Every path (relative) under `dir`, directories included; [] when it does not exist. */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      out.push(entry.isDirectory ? `${rel}/` : rel);
      if (entry.isDirectory) out.push(...await listTree(join(dir, entry.name), rel));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

/** After a failure: no raw.json.gz, no temp file, no empty matchID= dir: nothing at all. */
async function assertNothingLeft(dataDir: string): Promise<void> {
  const tree = await listTree(dataDir);
  assert.deepEqual(
    tree.filter((p) => p.endsWith("raw.json.gz")),
    [],
    "no raw.json.gz after a failure",
  );
  assert.deepEqual(
    tree.filter((p) => TEMP_NAME.test(p.split("/").at(-1) ?? "")),
    [],
    "no temp file left",
  );
  assert.deepEqual(tree.filter((p) => p.startsWith("matchID=")), [], "no matchID= dir left");
  assert.deepEqual(tree, [], "the data dir holds nothing");
}

/** What a {@linkcode withDownloads} test works with. */
interface Downloads {
  server: TestServer;
  dataDir: string;
  /**
   * Downloads a path of the server (or a full URL) into the data dir with
   * {@linkcode opts}; `extra` defaults to `{ matchId: MATCH_ID }`.
   */
  download(target: string, extra?: Partial<DownloadOptions>): Promise<DownloadResult>;
  /**
   * Expects {@linkcode Downloads.download} to fail with a TelemetryError of
   * `kind` and `code`, leaving nothing in the data dir; returns the error.
   */
  fail(
    target: string,
    kind: TelemetryError["kind"],
    code: TelemetryError["code"] | TelemetryError["code"][],
    extra?: Partial<DownloadOptions>,
  ): Promise<TelemetryError>;
}

/** Runs `fn` with a loopback server, a fresh data dir and download helpers bound to both. */
function withDownloads(fn: (t: Downloads) => Promise<void>): Promise<void> {
  return withServer((server, dataDir) => {
    function download(target: string, extra: Partial<DownloadOptions> = { matchId: MATCH_ID }) {
      const url = target.startsWith("/") ? server.url(target) : target;
      return downloadTelemetry(url, opts(server.origin, dataDir, extra));
    }
    const fail: Downloads["fail"] = async (target, kind, code, extra) => {
      const err = await expectTelemetryError(download(target, extra), kind, code);
      await assertNothingLeft(dataDir);
      return err;
    };
    return fn({ server, dataDir, download, fail });
  });
}

/** A `sleep` option that records the delays asked for instead of waiting. */
function recordingSleep(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  function sleep(ms: number): Promise<void> {
    delays.push(ms);
    return Promise.resolve();
  }
  return { delays, sleep };
}

/** After a success: no temp file anywhere. */
async function assertNoTemps(dataDir: string): Promise<void> {
  const tree = await listTree(dataDir);
  assert.deepEqual(tree.filter((p) => TEMP_NAME.test(p.split("/").at(-1) ?? "")), []);
}

Deno.test("downloadTelemetry() stores plain JSON as gzip", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t.json", json(TELEMETRY));
    const progress: number[] = [];
    const result = await download("/t.json", {
      matchId: MATCH_ID,
      onProgress: (p) => progress.push(p.bytes),
    });
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.matchId, MATCH_ID);
    assert.equal(result.path, rawFile(dataDir));
    assert.equal(result.attempts, 1);
    assert.equal(result.gzipLayers, 0);
    assert.equal(result.events, 30_001);
    assert.equal(result.contentBytes, TELEMETRY.length);
    const stored = await Deno.readFile(result.path);
    assert.equal(result.bytes, stored.length);
    assert.ok(stored.length < TELEMETRY.length / 3, "stored compressed");
    assert.deepEqual(gunzip(stored), TELEMETRY);
    assert.equal(server.count("/t.json"), 1);
    assert.equal(server.requests[0]?.headers.get("accept-encoding"), "gzip");
    assert.equal(progress.at(-1), TELEMETRY.length);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() stores Content-Encoding: gzip byte-identical", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t.json", gzipEncoded(TELEMETRY_GZ));
    const result = await download("/t.json");
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.gzipLayers, 1);
    assert.equal(result.bytes, TELEMETRY_GZ.length);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() stores an application/gzip body byte-identical", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/t.json.gz", gzipFile(TELEMETRY_GZ));
    const result = await download("/t.json.gz");
    assert.equal(result.gzipLayers, 1);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
  });
});

Deno.test("downloadTelemetry() stores gzip inside gzip once", async () => {
  await withDownloads(async ({ server, download }) => {
    const double = await gzipBytes(TELEMETRY_GZ);
    server.route("/double", gzipFile(double));
    const result = await download("/double");
    assert.equal(result.gzipLayers, 2);
    const stored = await Deno.readFile(result.path);
    assert.deepEqual(stored, TELEMETRY_GZ, "the innermost gzip layer is stored");
    assert.deepEqual(gunzip(stored), TELEMETRY, "decompresses once to JSON");
  });
});

Deno.test("downloadTelemetry() stores triple gzip once", async () => {
  await withDownloads(async ({ server, download }) => {
    const triple = await gzipBytes(await gzipBytes(TELEMETRY_GZ));
    server.route("/triple", gzipFile(triple));
    const result = await download("/triple");
    assert.equal(result.gzipLayers, 3);
    const stored = await Deno.readFile(result.path);
    assert.deepEqual(stored, TELEMETRY_GZ);
    assert.deepEqual(gunzip(stored), TELEMETRY);
  });
});

Deno.test("downloadTelemetry() stores a gzip body sent with Content-Encoding: gzip once", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/t", gzipEncoded(await gzipBytes(TELEMETRY_GZ)));
    const result = await download("/t");
    assert.equal(result.gzipLayers, 2);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
  });
});

Deno.test("downloadTelemetry() retries 500 then 200", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/t", [status(500), json(SMALL)]);
    const retries: number[] = [];
    const { delays, sleep } = recordingSleep();
    const result = await download("/t", {
      matchId: MATCH_ID,
      retry: { backoffMs: 1000 },
      onRetry: (e) => retries.push(e.attempt),
      sleep,
    });
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.attempts, 2);
    assert.equal(server.count("/t"), 2);
    assert.deepEqual(retries, [1]);
    assert.deepEqual(delays, [2000], "backoff is base * 2^attempt");
    assert.deepEqual(gunzip(await Deno.readFile(result.path)), SMALL);
  });
});

Deno.test("downloadTelemetry() gives up after the attempts on repeated 503", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", status(503));
    const err = await fail("/t", "transient", "http_status");
    assert.match(err.message, /503/);
    assert.equal(server.count("/t"), 3);
  });
});

Deno.test("downloadTelemetry() honours 429 Retry-After", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/t", [status(429, { "retry-after": "7" }), json(SMALL)]);
    const { delays, sleep } = recordingSleep();
    const result = await download("/t", { matchId: MATCH_ID, sleep });
    assert.equal(result.attempts, 2);
    assert.deepEqual(delays, [7000]);
  });
});

Deno.test("downloadTelemetry() caps 429 Retry-After at retry.maxRetryAfterMs", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/t", [status(429, { "retry-after": "3600" }), json(SMALL)]);
    const { delays, sleep } = recordingSleep();
    const result = await download("/t", {
      matchId: MATCH_ID,
      retry: { maxRetryAfterMs: 5000 },
      sleep,
    });
    assert.equal(result.outcome, "downloaded");
    assert.deepEqual(delays, [5000]);
  });
});

for (const code of [404, 403, 400, 410]) {
  Deno.test(`downloadTelemetry() does not retry ${code}`, async () => {
    await withDownloads(async ({ server, fail }) => {
      server.route("/t", status(code));
      const err = await fail("/t", "permanent", "http_status");
      assert.match(err.message, new RegExp(String(code)));
      if (code === 403) assert.match(err.message, /14 days/);
      assert.equal(server.count("/t"), 1);
    });
  });
}

Deno.test("downloadTelemetry() fails a body that stalls past the idle timeout", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", stall(SMALL, 1000));
    const started = performance.now();
    const err = await fail("/t", "transient", "timeout", {
      matchId: MATCH_ID,
      timeouts: { idleMs: 300, attemptMs: 20_000 },
    });
    assert.match(err.message, /no data/);
    assert.equal(server.count("/t"), 3, "retried");
    assert.ok(performance.now() - started < 5000);
  });
});

Deno.test("downloadTelemetry() fails when the headers do not come in time", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", hang());
    const err = await fail("/t", "transient", "timeout", {
      matchId: MATCH_ID,
      retry: { attempts: 2, backoffMs: 1 },
      timeouts: { headersMs: 200 },
    });
    assert.match(err.message, /headers/);
    assert.equal(server.count("/t"), 2);
  });
});

Deno.test("downloadTelemetry() fails an attempt over the total timeout", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", stall(SMALL, 1000));
    await fail("/t", "transient", "timeout", {
      matchId: MATCH_ID,
      retry: { attempts: 1 },
      timeouts: { idleMs: 5000, attemptMs: 300 },
    });
  });
});

Deno.test("downloadTelemetry() retries a body cut short, saying how much came", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", shortBody(SMALL, 5000));
    const err = await fail("/t", "transient", "short_body");
    // At most what the server sent: Deno's fetch may report the reset before
    // handing over the bytes that came with it.
    const came = new RegExp(`connection closed after (\\d+) of ${SMALL.length} bytes`).exec(
      err.message,
    );
    assert.ok(came, err.message);
    assert.ok(Number(came[1]) <= 5000, err.message);
    assert.doesNotMatch(err.message, /cannot reach/);
    assert.equal(server.count("/t"), 3);
  });
});

Deno.test("downloadTelemetry() succeeds after a body cut short", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t", [shortBody(TELEMETRY_GZ, 5000), gzipEncoded(TELEMETRY_GZ)]);
    const result = await download("/t");
    assert.equal(result.attempts, 2);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects invalid JSON without committing", async () => {
  await withDownloads(async ({ server, fail }) => {
    const broken = SMALL.slice(0, SMALL.length - 1); // no closing bracket
    server.route("/plain", json(broken));
    server.route("/gz", gzipEncoded(await gzipBytes(broken)));
    server.route("/garbage", json(encoder.encode('[{"_T":"LogMatchDefinition",}]')));
    for (const path of ["/plain", "/gz", "/garbage"]) {
      await fail(path, "permanent", "invalid_json");
      assert.equal(server.count(path), 1, `${path} not retried`);
    }
  });
});

Deno.test("downloadTelemetry() rejects a corrupt gzip body without committing", async () => {
  await withDownloads(async ({ server, fail }) => {
    const cut = TELEMETRY_GZ.slice(0, TELEMETRY_GZ.length - 100);
    server.route("/cut", gzipFile(cut));
    await fail("/cut", "permanent", ["truncated", "corrupt"]);
  });
});

Deno.test("downloadTelemetry() rejects an empty body", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/empty", json(new Uint8Array()));
    server.route("/array", json(encoder.encode("[]")));
    await fail("/empty", "permanent", ["empty", "invalid_json"]);
    await fail("/array", "permanent", ["empty", "not_telemetry"]);
  });
});

Deno.test("downloadTelemetry() rejects telemetry of another match", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    const err = await fail("/t", "permanent", "wrong_match", { matchId: OTHER_ID });
    assert.ok(err.message.includes(telemetryMatchId(MATCH_ID)));
    assert.equal(server.count("/t"), 1);
  });
});

Deno.test("downloadTelemetry() refuses another match at its first event and stops the transfer", async () => {
  await withDownloads(async ({ server, fail }) => {
    const sent = new Map<string, number>();
    // 16 KiB every 100 ms: sending all of it would take seconds.
    const trickle = (path: string, body: Uint8Array) =>
      slow(body, { chunkSize: 16 * 1024, intervalMs: 100, onChunk: (n) => sent.set(path, n) });
    server.route("/plain", trickle("/plain", TELEMETRY));
    server.route("/gz", trickle("/gz", TELEMETRY_GZ));
    for (const [path, body] of [["/plain", TELEMETRY], ["/gz", TELEMETRY_GZ]] as const) {
      await fail(path, "permanent", "wrong_match", { matchId: OTHER_ID });
      const bytes = sent.get(path) ?? 0;
      assert.ok(bytes < body.length / 4, `${path}: stopped after ${bytes} of ${body.length} bytes`);
      assert.equal(server.count(path), 1, `${path} not retried`);
    }
  });
});

Deno.test("downloadTelemetry() refuses an HTML page at its first bytes and stops the transfer", async () => {
  await withDownloads(async ({ server, fail }) => {
    const page = encoder.encode(
      `<!DOCTYPE html><html><body>${"<p>busy</p>".repeat(50_000)}</body></html>`,
    );
    let sent = 0;
    server.route(
      "/t",
      slow(page, { chunkSize: 16 * 1024, intervalMs: 100, onChunk: (n) => sent = n }),
    );
    const err = await fail("/t", "permanent", "invalid_json");
    assert.match(err.message, /an HTML page \(starts with '<'\)/);
    assert.ok(sent < page.length / 4, `stopped after ${sent} of ${page.length} bytes`);
  });
});

Deno.test("downloadTelemetry() rejects a path-traversal match id before any request", async () => {
  await withDownloads(async ({ server, dataDir, fail }) => {
    server.route("/t", json(SMALL));
    for (const bad of ["..", ".", "../x", "a/b", "", "a b", "x".repeat(129)]) {
      const err = await fail("/t", "usage", "bad_match_id", { matchId: bad });
      if (bad !== "") assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
    }
    assert.equal(server.count("/t"), 0);
    await assertNothingLeft(join(dataDir, ".."));
  });
});

Deno.test("downloadTelemetry() refuses a host outside the allow-list", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    const err = await fail(server.url("/t", "localhost"), "usage", "url_refused");
    assert.match(err.message, /localhost/);
    assert.equal(server.count("/t"), 0);
  });
});

Deno.test("downloadTelemetry() refuses schemes other than https", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    const strict = { allowHosts: [`127.0.0.1:${server.port}`], allowHttp: false };
    await fail("/t", "usage", "url_refused", { matchId: MATCH_ID, policy: strict });
    for (const url of ["ftp://127.0.0.1/t", "file:///etc/passwd", "not a url"]) {
      await fail(url, "usage", "url_refused");
    }
    assert.equal(server.count("/t"), 0);
  });
});

Deno.test("downloadTelemetry() follows a redirect to an allowed host", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/start", redirect("/t"));
    server.route("/t", gzipEncoded(TELEMETRY_GZ));
    const result = await download("/start");
    assert.equal(result.outcome, "downloaded");
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
  });
});

Deno.test("downloadTelemetry() refuses a redirect to a refused host", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/start", redirect(server.url("/t", "localhost")));
    server.route("/t", json(SMALL));
    const err = await fail("/start", "usage", "url_refused");
    assert.match(err.message, /localhost/);
    assert.equal(server.count("/start"), 1);
    assert.equal(server.count("/t"), 0, "the refused host gets no request");
  });
});

Deno.test("downloadTelemetry() refuses a redirect to a refused scheme", async () => {
  // The redirect target is checked with the same policy as the first URL.
  await withDownloads(async ({ server, fail }) => {
    server.route("/start", redirect("ftp://127.0.0.1/t"));
    await fail("/start", "usage", "url_refused");
  });
});

Deno.test("downloadTelemetry() follows 3 redirects but not 4", async () => {
  await withDownloads(async ({ server, download, fail }) => {
    for (let i = 1; i <= 4; i++) server.route(`/r${i}`, redirect(`/r${i + 1}`));
    server.route("/r5", json(SMALL));
    const err = await fail("/r1", "permanent", "too_many_redirects");
    assert.ok(!err.message.includes("\n"));
    assert.equal(server.count("/r4"), 1);
    assert.equal(server.count("/r5"), 0);

    const result = await download("/r2");
    assert.equal(result.outcome, "downloaded");
    assert.equal(server.count("/r5"), 1);
  });
});

Deno.test("downloadTelemetry() stops at maxBytes with a Content-Length", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    await fail("/t", "permanent", "too_large", {
      matchId: MATCH_ID,
      limits: { maxBytes: SMALL.length - 1 },
    });
    assert.equal(server.count("/t"), 1);
  });
});

Deno.test("downloadTelemetry() stops at maxBytes without a Content-Length", async () => {
  await withDownloads(async ({ server, download, fail }) => {
    server.route("/t", chunked(SMALL));
    await fail("/t", "permanent", "too_large", { matchId: MATCH_ID, limits: { maxBytes: 50_000 } });
    assert.equal(server.count("/t"), 1);
    // Exactly at the limit is fine.
    const result = await download("/t", { matchId: MATCH_ID, limits: { maxBytes: SMALL.length } });
    assert.equal(result.outcome, "downloaded");
  });
});

Deno.test("downloadTelemetry() stops at maxDecompressedBytes (gzip bomb)", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", gzipEncoded(TELEMETRY_GZ));
    await fail("/t", "permanent", "too_large", {
      matchId: MATCH_ID,
      limits: { maxDecompressedBytes: 1_000_000 },
    });
  });
});

Deno.test("downloadTelemetry() makes an existing file's directories durable before already_exists", async () => {
  await withDownloads(async ({ server, download, dataDir }) => {
    server.route("/t", json(SMALL));
    const first = await download("/t");
    // A crash between an earlier rename and its directory fsync leaves the
    // entry unsynced: already_exists (and the ack that follows) must sync it.
    const synced: string[] = [];
    const again = await download("/t", { matchId: MATCH_ID, fs: recordingFs("syncDir", synced) });
    assert.equal(again.outcome, "already_exists");
    assert.deepEqual(synced.sort(), [dataDir, join(dataDir, `matchID=${MATCH_ID}`)].sort());
    assert.equal(first.matchId, MATCH_ID);
  });
});

Deno.test("downloadTelemetry() reports already_exists on a second run without a request", async () => {
  await withDownloads(async ({ server, download }) => {
    server.route("/t", json(SMALL));
    const first = await download("/t");
    const before = await Deno.readFile(first.path);
    const second = await download("/t");
    assert.equal(second.outcome, "already_exists");
    assert.equal(second.path, first.path);
    assert.equal(second.bytes, first.bytes);
    assert.equal(second.attempts, 0);
    assert.equal(server.count("/t"), 1, "no request on the second run");
    assert.deepEqual(await Deno.readFile(first.path), before);
  });
});

Deno.test("downloadTelemetry() ignores a leftover temp file in the exists check", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t", json(SMALL));
    const dir = join(dataDir, `matchID=${MATCH_ID}`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(join(dir, ".raw.json.gz.deadbeef0000.tmp"), encoder.encode("partial"));
    const result = await download("/t");
    assert.equal(result.outcome, "downloaded");
    assert.equal(server.count("/t"), 1);
  });
});

Deno.test("downloadTelemetry() re-downloads with force", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t", [json(TELEMETRY), gzipEncoded(TELEMETRY_GZ)]);
    const first = await download("/t");
    assert.notDeepEqual(await Deno.readFile(first.path), TELEMETRY_GZ);
    const second = await download("/t", { matchId: MATCH_ID, force: true });
    assert.equal(second.outcome, "downloaded");
    assert.equal(server.count("/t"), 2);
    assert.deepEqual(await Deno.readFile(second.path), TELEMETRY_GZ, "replaced");
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() keeps the old file when a forced download fails", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t", [json(SMALL), status(404)]);
    const first = await download("/t");
    const before = await Deno.readFile(first.path);
    await expectTelemetryError(
      download("/t", { matchId: MATCH_ID, force: true }),
      "permanent",
      "http_status",
    );
    assert.deepEqual(await Deno.readFile(first.path), before);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() takes the match id from the content", async () => {
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/t", gzipEncoded(TELEMETRY_GZ));
    const result = await download("/t", FROM_CONTENT);
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.matchId, MATCH_ID);
    assert.equal(result.path, rawFile(dataDir));
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
    assert.deepEqual(await listTree(dataDir), [
      `matchID=${MATCH_ID}/`,
      `matchID=${MATCH_ID}/raw.json.gz`,
    ]);

    // Without a match id the content must be fetched to learn it; the stored file stays.
    const again = await download("/t", FROM_CONTENT);
    assert.equal(again.outcome, "already_exists");
    assert.equal(server.count("/t"), 2);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() fails clearly without a match id and LogMatchDefinition", async () => {
  await withDownloads(async ({ server, download, fail }) => {
    const body = encoder.encode('[{"_T":"LogPlayerPosition","_D":"2024-11-28T12:00:00Z"}]');
    server.route("/t", json(body));
    const err = await fail("/t", "usage", "no_match_id", FROM_CONTENT);
    assert.match(err.message, /--match-id/);
    assert.equal(server.count("/t"), 1);

    // With a match id such content is accepted: the first event is not checked then.
    const result = await download("/t", { matchId: OTHER_ID });
    assert.equal(result.outcome, "downloaded");
  });
});

Deno.test("downloadTelemetry() rejects a MatchId that gives no valid match id", async () => {
  await withDownloads(async ({ server, fail }) => {
    const slash = encoder.encode('[{"_T":"LogMatchDefinition","MatchId":"match.bro.eu.a/b"}]');
    const dot = encoder.encode('[{"_T":"LogMatchDefinition","MatchId":"match.bro.eu."}]');
    server.route("/slash", json(slash));
    server.route("/dot", json(dot));
    const err = await fail("/slash", "usage", "bad_match_id", FROM_CONTENT);
    assert.ok(err.message.includes('"a/b"'), err.message);
    await fail("/dot", "usage", "no_match_id", FROM_CONTENT);
  });
});

Deno.test("downloadTelemetry() downloads the real duo excerpt, plain and gzipped", async () => {
  const excerpt = await Deno.readFile(EXCERPT);
  const excerptGz = await gzipBytes(excerpt);
  await withDownloads(async ({ server, dataDir, download }) => {
    server.route("/plain", json(excerpt));
    server.route("/gz", gzipEncoded(excerptGz));
    const plain = await download("/plain", { matchId: REAL_MATCH_ID });
    assert.equal(plain.outcome, "downloaded");
    assert.equal(plain.events, 29);
    assert.deepEqual(gunzip(await Deno.readFile(plain.path)), excerpt);

    const gz = await download("/gz", { matchId: REAL_MATCH_ID, force: true });
    assert.equal(gz.outcome, "downloaded");
    assert.deepEqual(await Deno.readFile(gz.path), excerptGz);

    const derived = await download("/gz", { force: true });
    assert.equal(derived.matchId, REAL_MATCH_ID);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects the real truncated 2018 file, plain and gzipped", async () => {
  const truncated = await Deno.readFile(TRUNCATED);
  await withDownloads(async ({ server, fail }) => {
    server.route("/plain", json(truncated));
    server.route("/gz", gzipEncoded(await gzipBytes(truncated)));
    for (const path of ["/plain", "/gz"]) {
      await fail(path, "permanent", "invalid_json", {
        matchId: "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c",
      });
      await fail(path, "permanent", "invalid_json", FROM_CONTENT);
    }
  });
});

/** The real file system, except that writes fail after `okBytes` bytes like a full disk. */
function fullDisk(okBytes: number): FileSystem & { created: string[] } {
  const created: string[] = [];
  return {
    ...denoFileSystem,
    created,
    async create(path) {
      created.push(path);
      const file = await denoFileSystem.create(path);
      let written = 0;
      return {
        async write(bytes) {
          if (written + bytes.length > okBytes) {
            throw Object.assign(new Error("No space left on device (os error 28)"), {
              code: "ENOSPC",
            });
          }
          const n = await file.write(bytes);
          written += n;
          return n;
        },
        sync: () => file.sync(),
        close: () => file.close(),
      };
    },
  };
}

Deno.test("downloadTelemetry() reports a full disk as a store fault and does not download again", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/plain", json(TELEMETRY));
    server.route("/gz", gzipEncoded(TELEMETRY_GZ));
    for (const path of ["/plain", "/gz"]) {
      for (const matchId of [MATCH_ID, undefined]) {
        const fs = fullDisk(10_000);
        const err = await fail(path, "store", "store_full", {
          fs,
          ...(matchId === undefined ? {} : { matchId }),
        });
        assert.match(err.message, /no space left on device \(ENOSPC\); .* free of /);
        assert.equal(fs.created.length, 1, "not retried: one temp file");
      }
    }
    assert.equal(server.count("/plain") + server.count("/gz"), 4, "one request per download");
  });
});

Deno.test("downloadTelemetry() reports a disk error that is not the store's as a transient io error", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    const fs: FileSystem = {
      ...denoFileSystem,
      rename: () => Promise.reject(new Error("Bad file descriptor (os error 9)")),
    };
    await fail("/t", "transient", "io", { fs, matchId: MATCH_ID, retry: { attempts: 1 } });
  });
});

Deno.test("downloadTelemetry() starts no request below --min-free-space", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    const err = await fail("/t", "store", "store_full", {
      matchId: MATCH_ID,
      minFreeSpace: { type: "bytes", bytes: 1024 ** 3 },
      freeSpace: () => Promise.resolve({ free: 1024 ** 2, total: 8 * 1024 ** 2 }),
    });
    assert.match(err.message, /below the floor: 1\.0 MiB free of 8\.0 MiB, floor 1\.0 GiB/);
    assert.equal(server.count("/t"), 0, "no request");
  });
});

Deno.test("downloadTelemetry() does not take a gzip body that would go below the floor", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/gz", gzipEncoded(TELEMETRY_GZ));
    const free = 1024 ** 2 + TELEMETRY_GZ.length - 1;
    const err = await fail("/gz", "store", "store_full", {
      matchId: MATCH_ID,
      minFreeSpace: { type: "bytes", bytes: 1024 ** 2 },
      freeSpace: () => Promise.resolve({ free, total: 8 * 1024 ** 2 }),
    });
    assert.match(err.message, /^a download of .* would go below the floor/);
    assert.equal(server.count("/gz"), 1, "one request, not retried");
  });
});

Deno.test("downloadTelemetry() reports a failing rename as a store fault and removes the temp", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", json(SMALL));
    const fs: FileSystem = {
      ...denoFileSystem,
      rename: () => Promise.reject(new Error("Input/output error (os error 5)")),
    };
    await fail("/t", "store", "store_io", { fs, matchId: MATCH_ID });
    assert.equal(server.count("/t"), 1, "not retried");
  });
});

Deno.test("downloadTelemetry() stops on abort and leaves nothing", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", stall(SMALL, 1000));
    const controller = new AbortController();
    await fail("/t", "transient", "aborted", {
      matchId: MATCH_ID,
      signal: controller.signal,
      timeouts: { idleMs: 5000 },
      onProgress: () => controller.abort(),
    });
    assert.equal(server.count("/t"), 1, "no retry after abort");
  });
});

Deno.test("downloadTelemetry() stops on abort during the backoff", async () => {
  await withDownloads(async ({ server, fail }) => {
    server.route("/t", status(503));
    const controller = new AbortController();
    await fail("/t", "transient", "aborted", {
      matchId: MATCH_ID,
      signal: controller.signal,
      onRetry: () => controller.abort(),
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    });
    assert.equal(server.count("/t"), 1);
  });
});

/**
 * A raw HTTP/1.1 server whose bodies have no length: each ends when the
 * connection closes. `cut(request)` says how many body bytes that request
 * gets before the close (the whole body when undefined).
 */
async function withCloseDelimited(
  body: Uint8Array,
  cut: (request: number) => number | undefined,
  fn: (url: string, dataDir: string, requests: () => number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let requests = 0;
  const handling: Promise<void>[] = [];
  async function answer(conn: Deno.Conn, request: number): Promise<void> {
    try {
      const buffer = new Uint8Array(64 * 1024);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) return;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
      const sent = body.subarray(0, cut(request) ?? body.length);
      const header =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
      let data = concatBytes(encoder.encode(header), sent);
      while (data.length > 0) data = data.subarray(await conn.write(data));
    } finally {
      conn.close();
    }
  }
  const serving = (async () => {
    for await (const conn of listener) handling.push(answer(conn, ++requests));
  })();
  try {
    await withTempDir(async (root) => {
      const url = `http://127.0.0.1:${listener.addr.port}/t.json`;
      await fn(url, join(root, "data"), () => requests);
    });
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Promise.allSettled(handling);
  }
}

Deno.test("downloadTelemetry() takes a body without a length cut short for a transient short_body and retries it", async () => {
  await withCloseDelimited(
    SMALL,
    (request) => request === 1 ? 5000 : undefined,
    async (url, dataDir, requests) => {
      const result = await downloadTelemetry(
        url,
        opts(url, dataDir, { matchId: MATCH_ID, retry: { attempts: 2, backoffMs: 1 } }),
      );
      assert.equal(result.outcome, "downloaded");
      assert.equal(result.attempts, 2);
      assert.equal(requests(), 2);
    },
  );
  await withCloseDelimited(SMALL, () => 5000, async (url, dataDir) => {
    const err = await expectTelemetryError(
      downloadTelemetry(url, opts(url, dataDir, { matchId: MATCH_ID, retry: { attempts: 1 } })),
      "transient",
      "short_body",
    );
    assert.match(err.message, /no Content-Length or chunked encoding/);
  });
});

Deno.test("downloadTelemetry() keeps a syntax error in a body without a length permanent", async () => {
  const broken = SMALL.slice();
  // The comma between two events, well past the first one, becomes "x".
  broken[new TextDecoder().decode(SMALL).indexOf("},{", 5000) + 1] = 0x78;
  await withCloseDelimited(broken, () => undefined, async (url, dataDir) => {
    await expectTelemetryError(
      downloadTelemetry(url, opts(url, dataDir, { matchId: MATCH_ID, retry: { attempts: 1 } })),
      "permanent",
      "invalid_json",
    );
  });
});
