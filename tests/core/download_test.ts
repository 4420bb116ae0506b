import assert from "node:assert/strict";
import { expectTelemetryError } from "../support/helpers.ts";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type DownloadOptions, downloadTelemetry } from "../../src/core/download.ts";
import { denoFileSystem, type FileSystem } from "../../src/core/store/file_system.ts";
import {
  chunked,
  gzipEncoded,
  gzipFile,
  hang,
  json,
  redirect,
  shortBody,
  stall,
  startServer,
  status,
  type TestServer,
} from "../support/http_server.ts";
import { generateTelemetry, gzipBytes, telemetryMatchId } from "../support/telemetry_fixture.ts";
import { EXCERPT, TRUNCATED } from "../support/real_fixtures.ts";

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

function gunzip(data: Uint8Array): Uint8Array {
  return new Uint8Array(gunzipSync(data));
}

/** Runs `fn` with a loopback server and a fresh data dir, and cleans both up. */
async function withServer(
  fn: (server: TestServer, dataDir: string) => Promise<void>,
): Promise<void> {
  const server = startServer();
  const root = await Deno.makeTempDir({ prefix: "download_test_" });
  try {
    await fn(server, join(root, "data"));
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** Options for the loopback server: http allowed on 127.0.0.1, small timeouts, no real sleeping. */
function opts(dataDir: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    dataDir,
    policy: { allowHosts: ["127.0.0.1"], allowHttp: true },
    timeouts: { headersMs: 2_000, idleMs: 300, totalMs: 20_000 },
    backoffBaseMs: 1,
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

/** After a success: no temp file anywhere. */
async function assertNoTemps(dataDir: string): Promise<void> {
  const tree = await listTree(dataDir);
  assert.deepEqual(tree.filter((p) => TEMP_NAME.test(p.split("/").at(-1) ?? "")), []);
}

Deno.test("downloadTelemetry() stores plain JSON as gzip", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t.json", json(TELEMETRY));
    const progress: number[] = [];
    const result = await downloadTelemetry(
      server.url("/t.json"),
      opts(dataDir, { matchId: MATCH_ID, onProgress: (p) => progress.push(p.bytes) }),
    );
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
  await withServer(async (server, dataDir) => {
    server.route("/t.json", gzipEncoded(TELEMETRY_GZ));
    const result = await downloadTelemetry(
      server.url("/t.json"),
      opts(dataDir, { matchId: MATCH_ID }),
    );
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.gzipLayers, 1);
    assert.equal(result.bytes, TELEMETRY_GZ.length);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() stores an application/gzip body byte-identical", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t.json.gz", gzipFile(TELEMETRY_GZ));
    const result = await downloadTelemetry(
      server.url("/t.json.gz"),
      opts(dataDir, { matchId: MATCH_ID }),
    );
    assert.equal(result.gzipLayers, 1);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
  });
});

Deno.test("downloadTelemetry() stores gzip inside gzip once", async () => {
  await withServer(async (server, dataDir) => {
    const double = await gzipBytes(TELEMETRY_GZ);
    server.route("/double", gzipFile(double));
    const result = await downloadTelemetry(
      server.url("/double"),
      opts(dataDir, { matchId: MATCH_ID }),
    );
    assert.equal(result.gzipLayers, 2);
    const stored = await Deno.readFile(result.path);
    assert.deepEqual(stored, TELEMETRY_GZ, "the innermost gzip layer is stored");
    assert.deepEqual(gunzip(stored), TELEMETRY, "decompresses once to JSON");
  });
});

Deno.test("downloadTelemetry() stores triple gzip once", async () => {
  await withServer(async (server, dataDir) => {
    const triple = await gzipBytes(await gzipBytes(TELEMETRY_GZ));
    server.route("/triple", gzipFile(triple));
    const result = await downloadTelemetry(
      server.url("/triple"),
      opts(dataDir, { matchId: MATCH_ID }),
    );
    assert.equal(result.gzipLayers, 3);
    const stored = await Deno.readFile(result.path);
    assert.deepEqual(stored, TELEMETRY_GZ);
    assert.deepEqual(gunzip(stored), TELEMETRY);
  });
});

Deno.test("downloadTelemetry() stores a gzip body sent with Content-Encoding: gzip once", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", gzipEncoded(await gzipBytes(TELEMETRY_GZ)));
    const result = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    assert.equal(result.gzipLayers, 2);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
  });
});

Deno.test("downloadTelemetry() retries 500 then 200", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", [status(500), json(SMALL)]);
    const retries: number[] = [];
    const delays: number[] = [];
    const result = await downloadTelemetry(
      server.url("/t"),
      opts(dataDir, {
        matchId: MATCH_ID,
        backoffBaseMs: 1000,
        onRetry: (e) => retries.push(e.attempt),
        sleep: (ms) => {
          delays.push(ms);
          return Promise.resolve();
        },
      }),
    );
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.attempts, 2);
    assert.equal(server.count("/t"), 2);
    assert.deepEqual(retries, [1]);
    assert.deepEqual(delays, [2000], "backoff is base * 2^attempt");
    assert.deepEqual(gunzip(await Deno.readFile(result.path)), SMALL);
  });
});

Deno.test("downloadTelemetry() gives up after the attempts on repeated 503", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", status(503));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID })),
      "transient",
      "http_status",
    );
    assert.match(err.message, /503/);
    assert.equal(server.count("/t"), 3);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() honours 429 Retry-After", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", [status(429, { "retry-after": "7" }), json(SMALL)]);
    const delays: number[] = [];
    const result = await downloadTelemetry(
      server.url("/t"),
      opts(dataDir, {
        matchId: MATCH_ID,
        sleep: (ms) => {
          delays.push(ms);
          return Promise.resolve();
        },
      }),
    );
    assert.equal(result.attempts, 2);
    assert.deepEqual(delays, [7000]);
  });
});

Deno.test("downloadTelemetry() caps 429 Retry-After at maxRetryAfterMs", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", [status(429, { "retry-after": "3600" }), json(SMALL)]);
    const delays: number[] = [];
    const result = await downloadTelemetry(
      server.url("/t"),
      opts(dataDir, {
        matchId: MATCH_ID,
        maxRetryAfterMs: 5000,
        sleep: (ms) => {
          delays.push(ms);
          return Promise.resolve();
        },
      }),
    );
    assert.equal(result.outcome, "downloaded");
    assert.deepEqual(delays, [5000]);
  });
});

for (const code of [404, 403, 400, 410]) {
  Deno.test(`downloadTelemetry() does not retry ${code}`, async () => {
    await withServer(async (server, dataDir) => {
      server.route("/t", status(code));
      const err = await expectTelemetryError(
        downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID })),
        "permanent",
        "http_status",
      );
      assert.match(err.message, new RegExp(String(code)));
      if (code === 403) assert.match(err.message, /14 days/);
      assert.equal(server.count("/t"), 1);
      await assertNothingLeft(dataDir);
    });
  });
}

Deno.test("downloadTelemetry() fails a body that stalls past the idle timeout", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", stall(SMALL, 1000));
    const started = performance.now();
    const err = await expectTelemetryError(
      downloadTelemetry(
        server.url("/t"),
        opts(dataDir, { matchId: MATCH_ID, timeouts: { idleMs: 300, totalMs: 20_000 } }),
      ),
      "transient",
      "timeout",
    );
    assert.match(err.message, /no data/);
    assert.equal(server.count("/t"), 3, "retried");
    assert.ok(performance.now() - started < 5000);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() fails when the headers do not come in time", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", hang());
    const err = await expectTelemetryError(
      downloadTelemetry(
        server.url("/t"),
        opts(dataDir, { matchId: MATCH_ID, attempts: 2, timeouts: { headersMs: 200 } }),
      ),
      "transient",
      "timeout",
    );
    assert.match(err.message, /headers/);
    assert.equal(server.count("/t"), 2);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() fails an attempt over the total timeout", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", stall(SMALL, 1000));
    await expectTelemetryError(
      downloadTelemetry(
        server.url("/t"),
        opts(dataDir, { matchId: MATCH_ID, attempts: 1, timeouts: { idleMs: 5000, totalMs: 300 } }),
      ),
      "transient",
      "timeout",
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() retries a body cut short", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", shortBody(SMALL, 5000));
    await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID })),
      "transient",
      ["short_body", "network"],
    );
    assert.equal(server.count("/t"), 3);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() succeeds after a body cut short", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", [shortBody(TELEMETRY_GZ, 5000), gzipEncoded(TELEMETRY_GZ)]);
    const result = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    assert.equal(result.attempts, 2);
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects invalid JSON without committing", async () => {
  await withServer(async (server, dataDir) => {
    const broken = SMALL.slice(0, SMALL.length - 1); // no closing bracket
    server.route("/plain", json(broken));
    server.route("/gz", gzipEncoded(await gzipBytes(broken)));
    server.route("/garbage", json(encoder.encode('[{"_T":"LogMatchDefinition",}]')));
    for (const path of ["/plain", "/gz", "/garbage"]) {
      await expectTelemetryError(
        downloadTelemetry(server.url(path), opts(dataDir, { matchId: MATCH_ID })),
        "permanent",
        "invalid_json",
      );
      assert.equal(server.count(path), 1, `${path} not retried`);
      await assertNothingLeft(dataDir);
    }
  });
});

Deno.test("downloadTelemetry() rejects a corrupt gzip body without committing", async () => {
  await withServer(async (server, dataDir) => {
    const cut = TELEMETRY_GZ.slice(0, TELEMETRY_GZ.length - 100);
    server.route("/cut", gzipFile(cut));
    await expectTelemetryError(
      downloadTelemetry(server.url("/cut"), opts(dataDir, { matchId: MATCH_ID })),
      "permanent",
      ["truncated", "corrupt"],
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects an empty body", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/empty", json(new Uint8Array()));
    server.route("/array", json(encoder.encode("[]")));
    await expectTelemetryError(
      downloadTelemetry(server.url("/empty"), opts(dataDir, { matchId: MATCH_ID })),
      "permanent",
      ["empty", "invalid_json"],
    );
    await assertNothingLeft(dataDir);
    await expectTelemetryError(
      downloadTelemetry(server.url("/array"), opts(dataDir, { matchId: MATCH_ID })),
      "permanent",
      ["empty", "not_telemetry"],
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects telemetry of another match", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: OTHER_ID })),
      "permanent",
      "wrong_match",
    );
    assert.ok(err.message.includes(telemetryMatchId(MATCH_ID)));
    assert.equal(server.count("/t"), 1);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects a path-traversal match id before any request", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    for (const bad of ["..", ".", "../x", "a/b", "", "a b", "x".repeat(129)]) {
      const err = await expectTelemetryError(
        downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: bad })),
        "usage",
        "bad_match_id",
      );
      if (bad !== "") assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
    }
    assert.equal(server.count("/t"), 0);
    await assertNothingLeft(dataDir);
    await assertNothingLeft(join(dataDir, ".."));
  });
});

Deno.test("downloadTelemetry() refuses a host outside the allow-list", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/t", "localhost"), opts(dataDir, { matchId: MATCH_ID })),
      "usage",
      "url_refused",
    );
    assert.match(err.message, /localhost/);
    assert.equal(server.count("/t"), 0);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() refuses schemes other than https", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    const strict = { allowHosts: ["127.0.0.1"], allowHttp: false };
    await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID, policy: strict })),
      "usage",
      "url_refused",
    );
    for (const url of ["ftp://127.0.0.1/t", "file:///etc/passwd", "not a url"]) {
      await expectTelemetryError(
        downloadTelemetry(url, opts(dataDir, { matchId: MATCH_ID })),
        "usage",
        "url_refused",
      );
    }
    assert.equal(server.count("/t"), 0);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() follows a redirect to an allowed host", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/start", redirect("/t"));
    server.route("/t", gzipEncoded(TELEMETRY_GZ));
    const result = await downloadTelemetry(
      server.url("/start"),
      opts(dataDir, { matchId: MATCH_ID }),
    );
    assert.equal(result.outcome, "downloaded");
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
  });
});

Deno.test("downloadTelemetry() refuses a redirect to a refused host", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/start", redirect(server.url("/t", "localhost")));
    server.route("/t", json(SMALL));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/start"), opts(dataDir, { matchId: MATCH_ID })),
      "usage",
      "url_refused",
    );
    assert.match(err.message, /localhost/);
    assert.equal(server.count("/start"), 1);
    assert.equal(server.count("/t"), 0, "the refused host gets no request");
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() refuses a redirect to a refused scheme", async () => {
  // The redirect target is checked with the same policy as the first URL.
  await withServer(async (server, dataDir) => {
    server.route("/start", redirect("ftp://127.0.0.1/t"));
    await expectTelemetryError(
      downloadTelemetry(server.url("/start"), opts(dataDir, { matchId: MATCH_ID })),
      "usage",
      "url_refused",
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() follows 3 redirects but not 4", async () => {
  await withServer(async (server, dataDir) => {
    for (let i = 1; i <= 4; i++) server.route(`/r${i}`, redirect(`/r${i + 1}`));
    server.route("/r5", json(SMALL));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/r1"), opts(dataDir, { matchId: MATCH_ID })),
      "permanent",
      "too_many_redirects",
    );
    assert.ok(!err.message.includes("\n"));
    assert.equal(server.count("/r4"), 1);
    assert.equal(server.count("/r5"), 0);
    await assertNothingLeft(dataDir);

    const result = await downloadTelemetry(server.url("/r2"), opts(dataDir, { matchId: MATCH_ID }));
    assert.equal(result.outcome, "downloaded");
    assert.equal(server.count("/r5"), 1);
  });
});

Deno.test("downloadTelemetry() stops at maxBytes with a Content-Length", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    await expectTelemetryError(
      downloadTelemetry(
        server.url("/t"),
        opts(dataDir, { matchId: MATCH_ID, maxBytes: SMALL.length - 1 }),
      ),
      "permanent",
      "too_large",
    );
    assert.equal(server.count("/t"), 1);
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() stops at maxBytes without a Content-Length", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", chunked(SMALL));
    await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID, maxBytes: 50_000 })),
      "permanent",
      "too_large",
    );
    assert.equal(server.count("/t"), 1);
    await assertNothingLeft(dataDir);
    // Exactly at the limit is fine.
    const result = await downloadTelemetry(
      server.url("/t"),
      opts(dataDir, { matchId: MATCH_ID, maxBytes: SMALL.length }),
    );
    assert.equal(result.outcome, "downloaded");
  });
});

Deno.test("downloadTelemetry() stops at maxDecompressedBytes (gzip bomb)", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", gzipEncoded(TELEMETRY_GZ));
    await expectTelemetryError(
      downloadTelemetry(
        server.url("/t"),
        opts(dataDir, { matchId: MATCH_ID, maxDecompressedBytes: 1_000_000 }),
      ),
      "permanent",
      "too_large",
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() reports already_exists on a second run without a request", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    const first = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    const before = await Deno.readFile(first.path);
    const second = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    assert.equal(second.outcome, "already_exists");
    assert.equal(second.path, first.path);
    assert.equal(second.bytes, first.bytes);
    assert.equal(second.attempts, 0);
    assert.equal(server.count("/t"), 1, "no request on the second run");
    assert.deepEqual(await Deno.readFile(first.path), before);
  });
});

Deno.test("downloadTelemetry() ignores a leftover temp file in the exists check", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    const dir = join(dataDir, `matchID=${MATCH_ID}`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(join(dir, ".raw.json.gz.deadbeef0000.tmp"), encoder.encode("partial"));
    const result = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    assert.equal(result.outcome, "downloaded");
    assert.equal(server.count("/t"), 1);
  });
});

Deno.test("downloadTelemetry() re-downloads with force", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", [json(TELEMETRY), gzipEncoded(TELEMETRY_GZ)]);
    const first = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    assert.notDeepEqual(await Deno.readFile(first.path), TELEMETRY_GZ);
    const second = await downloadTelemetry(
      server.url("/t"),
      opts(dataDir, { matchId: MATCH_ID, force: true }),
    );
    assert.equal(second.outcome, "downloaded");
    assert.equal(server.count("/t"), 2);
    assert.deepEqual(await Deno.readFile(second.path), TELEMETRY_GZ, "replaced");
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() keeps the old file when a forced download fails", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", [json(SMALL), status(404)]);
    const first = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID }));
    const before = await Deno.readFile(first.path);
    await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: MATCH_ID, force: true })),
      "permanent",
      "http_status",
    );
    assert.deepEqual(await Deno.readFile(first.path), before);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() takes the match id from the content", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", gzipEncoded(TELEMETRY_GZ));
    const result = await downloadTelemetry(server.url("/t"), opts(dataDir));
    assert.equal(result.outcome, "downloaded");
    assert.equal(result.matchId, MATCH_ID);
    assert.equal(result.path, rawFile(dataDir));
    assert.deepEqual(await Deno.readFile(result.path), TELEMETRY_GZ);
    assert.deepEqual(await listTree(dataDir), [
      `matchID=${MATCH_ID}/`,
      `matchID=${MATCH_ID}/raw.json.gz`,
    ]);

    // Without a match id the content must be fetched to learn it; the stored file stays.
    const again = await downloadTelemetry(server.url("/t"), opts(dataDir));
    assert.equal(again.outcome, "already_exists");
    assert.equal(server.count("/t"), 2);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() fails clearly without a match id and LogMatchDefinition", async () => {
  await withServer(async (server, dataDir) => {
    const body = encoder.encode('[{"_T":"LogPlayerPosition","_D":"2024-11-28T12:00:00Z"}]');
    server.route("/t", json(body));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir)),
      "usage",
      "no_match_id",
    );
    assert.match(err.message, /--match-id/);
    assert.equal(server.count("/t"), 1);
    await assertNothingLeft(dataDir);

    // With a match id such content is accepted: the first event is not checked then.
    const result = await downloadTelemetry(server.url("/t"), opts(dataDir, { matchId: OTHER_ID }));
    assert.equal(result.outcome, "downloaded");
  });
});

Deno.test("downloadTelemetry() rejects a MatchId that gives no valid match id", async () => {
  await withServer(async (server, dataDir) => {
    const slash = encoder.encode('[{"_T":"LogMatchDefinition","MatchId":"match.bro.eu.a/b"}]');
    const dot = encoder.encode('[{"_T":"LogMatchDefinition","MatchId":"match.bro.eu."}]');
    server.route("/slash", json(slash));
    server.route("/dot", json(dot));
    const err = await expectTelemetryError(
      downloadTelemetry(server.url("/slash"), opts(dataDir)),
      "usage",
      "bad_match_id",
    );
    assert.ok(err.message.includes('"a/b"'), err.message);
    await assertNothingLeft(dataDir);
    await expectTelemetryError(
      downloadTelemetry(server.url("/dot"), opts(dataDir)),
      "usage",
      "no_match_id",
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() downloads the real duo excerpt, plain and gzipped", async () => {
  const excerpt = await Deno.readFile(EXCERPT);
  const excerptGz = await gzipBytes(excerpt);
  await withServer(async (server, dataDir) => {
    server.route("/plain", json(excerpt));
    server.route("/gz", gzipEncoded(excerptGz));
    const plain = await downloadTelemetry(
      server.url("/plain"),
      opts(dataDir, { matchId: REAL_MATCH_ID }),
    );
    assert.equal(plain.outcome, "downloaded");
    assert.equal(plain.events, 29);
    assert.deepEqual(gunzip(await Deno.readFile(plain.path)), excerpt);

    const gz = await downloadTelemetry(
      server.url("/gz"),
      opts(dataDir, { matchId: REAL_MATCH_ID, force: true }),
    );
    assert.equal(gz.outcome, "downloaded");
    assert.deepEqual(await Deno.readFile(gz.path), excerptGz);

    const derived = await downloadTelemetry(server.url("/gz"), opts(dataDir, { force: true }));
    assert.equal(derived.matchId, REAL_MATCH_ID);
    await assertNoTemps(dataDir);
  });
});

Deno.test("downloadTelemetry() rejects the real truncated 2018 file, plain and gzipped", async () => {
  const truncated = await Deno.readFile(
    TRUNCATED,
  );
  await withServer(async (server, dataDir) => {
    server.route("/plain", json(truncated));
    server.route("/gz", gzipEncoded(await gzipBytes(truncated)));
    for (const path of ["/plain", "/gz"]) {
      await expectTelemetryError(
        downloadTelemetry(
          server.url(path),
          opts(dataDir, { matchId: "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c" }),
        ),
        "permanent",
        "invalid_json",
      );
      await assertNothingLeft(dataDir);
      await expectTelemetryError(
        downloadTelemetry(server.url(path), opts(dataDir)),
        "permanent",
        "invalid_json",
      );
      await assertNothingLeft(dataDir);
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

Deno.test("downloadTelemetry() reports a failing disk as a transient io error", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/plain", json(TELEMETRY));
    server.route("/gz", gzipEncoded(TELEMETRY_GZ));
    for (const path of ["/plain", "/gz"]) {
      for (const matchId of [MATCH_ID, undefined]) {
        const fs = fullDisk(10_000);
        const err = await expectTelemetryError(
          downloadTelemetry(
            server.url(path),
            opts(dataDir, { fs, ...(matchId === undefined ? {} : { matchId }) }),
          ),
          "transient",
          "io",
        );
        assert.match(err.message, /No space left/);
        assert.equal(fs.created.length, 3, "retried: one temp file per attempt");
        await assertNothingLeft(dataDir);
      }
    }
  });
});

Deno.test("downloadTelemetry() reports a failing rename as an io error and removes the temp", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", json(SMALL));
    const fs: FileSystem = {
      ...denoFileSystem,
      rename: () => Promise.reject(new Error("Input/output error (os error 5)")),
    };
    await expectTelemetryError(
      downloadTelemetry(server.url("/t"), opts(dataDir, { fs, matchId: MATCH_ID, attempts: 1 })),
      "transient",
      "io",
    );
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() stops on abort and leaves nothing", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", stall(SMALL, 1000));
    const controller = new AbortController();
    const promise = downloadTelemetry(
      server.url("/t"),
      opts(dataDir, {
        matchId: MATCH_ID,
        signal: controller.signal,
        timeouts: { idleMs: 5000 },
        onProgress: () => controller.abort(),
      }),
    );
    await expectTelemetryError(promise, "transient", "aborted");
    assert.equal(server.count("/t"), 1, "no retry after abort");
    await assertNothingLeft(dataDir);
  });
});

Deno.test("downloadTelemetry() stops on abort during the backoff", async () => {
  await withServer(async (server, dataDir) => {
    server.route("/t", status(503));
    const controller = new AbortController();
    const promise = downloadTelemetry(
      server.url("/t"),
      opts(dataDir, {
        matchId: MATCH_ID,
        signal: controller.signal,
        onRetry: () => controller.abort(),
        sleep: (_ms, signal) =>
          new Promise((_resolve, reject) => {
            if (signal?.aborted) reject(signal.reason);
            signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
          }),
      }),
    );
    await expectTelemetryError(promise, "transient", "aborted");
    assert.equal(server.count("/t"), 1);
    await assertNothingLeft(dataDir);
  });
});
