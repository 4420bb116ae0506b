import assert from "node:assert/strict";
import { expectTelemetryError } from "../../support/helpers.ts";
import {
  openDownload,
  type OpenDownloadOptions,
  parseRetryAfter,
  statusError,
} from "../../../src/core/http/http_download.ts";
import {
  bytes,
  chunked,
  gzipEncoded,
  hang,
  json,
  redirect,
  shortBody,
  slow,
  stall,
  startServer,
  status,
  withServer,
} from "../../support/http_server.ts";
import { generateTelemetry, gzipBytes } from "../../support/telemetry_fixture.ts";

const BODY = generateTelemetry({ matchId: "abc", events: 2_000 });
const BODY_GZ = await gzipBytes(BODY);
const URL_HERE = new URL("https://telemetry-cdn.pubg.com/x-telemetry.json");

/** Options allowing http to the host and port of `origin` (any URL of the test server). */
function opts(origin: string, extra: Partial<OpenDownloadOptions> = {}): OpenDownloadOptions {
  return {
    policy: { allowHosts: [new URL(origin).host], allowHttp: true },
    timeouts: { headersMs: 2_000, idleMs: 300, attemptMs: 10_000 },
    ...extra,
  };
}

/** Opens, reads the whole body, closes. */
async function fetchAll(url: string, options: OpenDownloadOptions = opts(url)) {
  const download = await openDownload(url, options);
  try {
    const body = new Uint8Array(await new Response(download.body).arrayBuffer());
    return { download, body };
  } finally {
    download.close();
  }
}

Deno.test("openDownload() asks for gzip and hands over the bytes as served", async () => {
  await withServer(async (server) => {
    server.route("/gz", gzipEncoded(BODY_GZ));
    const { download, body } = await fetchAll(server.url("/gz"));
    assert.equal(server.requests[0]?.headers.get("accept-encoding"), "gzip");
    assert.equal(download.contentEncoding, "gzip");
    assert.equal(download.contentLength, BODY_GZ.length);
    assert.deepEqual(body, BODY_GZ, "not decoded");
  });
});

Deno.test("openDownload() returns a plain body and its length", async () => {
  await withServer(async (server) => {
    server.route("/plain", json(BODY));
    const { download, body } = await fetchAll(server.url("/plain"));
    assert.equal(download.contentEncoding, "");
    assert.equal(download.contentLength, BODY.length);
    assert.deepEqual(body, BODY);
  });
});

Deno.test("openDownload() reads a body without Content-Length", async () => {
  await withServer(async (server) => {
    server.route("/chunked", chunked(BODY));
    const { download, body } = await fetchAll(server.url("/chunked"));
    assert.equal(download.contentLength, undefined);
    assert.deepEqual(body, BODY);
  });
});

Deno.test("openDownload() follows relative and absolute redirects of every kind", async () => {
  await withServer(async (server) => {
    server.route("/final", json(BODY));
    for (const code of [301, 302, 303, 307, 308]) {
      server.route(`/abs${code}`, redirect(server.url("/final"), code));
      server.route(`/rel${code}`, redirect(`/abs${code}`, code));
      const { download, body } = await fetchAll(server.url(`/rel${code}`));
      assert.equal(download.url.pathname, "/final");
      assert.deepEqual(body, BODY);
    }
  });
});

Deno.test("openDownload() checks every redirect hop against the policy", async () => {
  await withServer(async (server) => {
    server.route("/final", json(BODY));
    server.route("/to-localhost", redirect(server.url("/final", "localhost")));
    const err = await expectTelemetryError(
      openDownload(server.url("/to-localhost"), opts(server.origin)),
      "usage",
      "url_refused",
    );
    // It says it was a redirect, and from where: the target alone reads as the URL given.
    assert.equal(
      err.message.split(" (")[0],
      `redirect from ${
        server.url("/to-localhost")
      } refused: host localhost is not in the allow-list`,
    );
    assert.equal(server.count("/final"), 0);
  });
});

Deno.test("openDownload() refuses a redirect to another port of an allowed host", async () => {
  await withServer(async (server) => {
    await using other = startServer();
    other.route("/final", json(BODY));
    server.route("/to-other-port", redirect(other.url("/final")));
    const err = await expectTelemetryError(
      openDownload(server.url("/to-other-port"), opts(server.origin)),
      "usage",
      "url_refused",
    );
    assert.match(err.message, new RegExp(`port ${other.port} of host 127\\.0\\.0\\.1`));
    assert.equal(other.count("/final"), 0);
  });
});

Deno.test("openDownload() refuses a redirect to an invalid URL", async () => {
  await withServer(async (server) => {
    server.route("/bad", redirect("http://[not-a-host"));
    await expectTelemetryError(
      openDownload(server.url("/bad"), opts(server.origin)),
      "usage",
      "url_refused",
    );
  });
});

Deno.test("openDownload() stops after maxRedirects", async () => {
  await withServer(async (server) => {
    server.route("/loop", redirect("/loop"));
    await expectTelemetryError(
      openDownload(server.url("/loop"), opts(server.origin, { maxRedirects: 2 })),
      "permanent",
      "too_many_redirects",
    );
    assert.equal(server.count("/loop"), 3);
  });
});

Deno.test("openDownload() classifies HTTP statuses", async () => {
  await withServer(async (server) => {
    for (const code of [408, 425, 429, 500, 502, 503, 504]) {
      server.route(`/s${code}`, status(code));
      await expectTelemetryError(
        openDownload(server.url(`/s${code}`), opts(server.origin)),
        "transient",
        "http_status",
      );
    }
    for (const code of [400, 401, 403, 404, 410, 451]) {
      server.route(`/s${code}`, status(code));
      await expectTelemetryError(
        openDownload(server.url(`/s${code}`), opts(server.origin)),
        "permanent",
        "http_status",
      );
    }
  });
});

Deno.test("openDownload() fails without response headers within headersMs", async () => {
  await withServer(async (server) => {
    server.route("/hang", hang());
    const started = performance.now();
    const err = await expectTelemetryError(
      openDownload(server.url("/hang"), opts(server.origin, { timeouts: { headersMs: 200 } })),
      "transient",
      "timeout",
    );
    assert.match(err.message, /no response headers/);
    assert.ok(performance.now() - started < 2000);
  });
});

Deno.test("openDownload() fails a body idle for idleMs", async () => {
  await withServer(async (server) => {
    server.route("/stall", stall(BODY, 100));
    const err = await expectTelemetryError(
      fetchAll(server.url("/stall"), opts(server.origin, { timeouts: { idleMs: 200 } })),
      "transient",
      "timeout",
    );
    assert.match(err.message, /no data from 127\.0\.0\.1/);
  });
});

Deno.test("openDownload() does not time out a slow body that keeps coming", async () => {
  await withServer(async (server) => {
    server.route("/slow", slow(BODY, { chunkSize: Math.ceil(BODY.length / 5), intervalMs: 100 }));
    const { body } = await fetchAll(
      server.url("/slow"),
      opts(server.origin, { timeouts: { idleMs: 400 } }),
    );
    assert.deepEqual(body, BODY);
  });
});

Deno.test("openDownload() does not count a slow consumer as an idle server", async () => {
  const big = generateTelemetry({ matchId: "abc", events: 40_000 });
  await withServer(async (server) => {
    server.route("/plain", json(big));
    const download = await openDownload(
      server.url("/plain"),
      opts(server.origin, { timeouts: { idleMs: 100 } }),
    );
    try {
      let received = 0;
      let paused = false;
      // The consumer (a busy disk, a worker starting up) holds the body back
      // for longer than idleMs while the server has data ready: we are slow,
      // the server is not idle.
      for await (const chunk of download.body) {
        received += chunk.length;
        if (!paused) {
          paused = true;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      assert.equal(received, big.length);
    } finally {
      download.close();
    }
  });
});

Deno.test("openDownload() fails an attempt over attemptMs", async () => {
  await withServer(async (server) => {
    server.route("/slow", slow(BODY, { chunkSize: 1000, intervalMs: 50 }));
    const err = await expectTelemetryError(
      fetchAll(
        server.url("/slow"),
        opts(server.origin, { timeouts: { idleMs: 1000, attemptMs: 300 } }),
      ),
      "transient",
      "timeout",
    );
    assert.match(err.message, /longer than 0.3 s/);
  });
});

Deno.test("openDownload() fails a body shorter than its Content-Length", async () => {
  await withServer(async (server) => {
    server.route("/short", shortBody(BODY, 1000));
    const err = await expectTelemetryError(
      fetchAll(server.url("/short")),
      "transient",
      "short_body",
    );
    assert.match(err.message, new RegExp(`^connection closed after 1000 of ${BODY.length} bytes`));
  });
});

Deno.test("openDownload() counts the bytes still queued when a slow reader meets a cut body", async () => {
  await withServer(async (server) => {
    const sent = 300_000;
    server.route("/short", shortBody(BODY, sent));
    const dl = await openDownload(server.url("/short"), opts(server.origin));
    try {
      // A busy pipeline (as in consume): the chunks wait in the queue while the connection closes.
      await new Promise((r) => setTimeout(r, 300));
      const err = await expectTelemetryError(
        dl.body.pipeTo(new WritableStream()),
        "transient",
        "short_body",
      );
      assert.match(
        err.message,
        new RegExp(`^connection closed after ${sent} of ${BODY.length} bytes`),
      );
    } finally {
      dl.close();
    }
  });
});

Deno.test("openDownload() refuses a Content-Length over maxBytes before reading", async () => {
  await withServer(async (server) => {
    server.route("/big", json(BODY));
    await expectTelemetryError(
      openDownload(server.url("/big"), opts(server.origin, { maxBytes: 1000 })),
      "permanent",
      "too_large",
    );
  });
});

Deno.test("openDownload() stops a body without Content-Length at maxBytes", async () => {
  await withServer(async (server) => {
    server.route("/big", chunked(BODY, 1000));
    await expectTelemetryError(
      fetchAll(server.url("/big"), opts(server.origin, { maxBytes: 5000 })),
      "permanent",
      "too_large",
    );
  });
});

Deno.test("openDownload() reports an unreachable server as a transient network error", async () => {
  const server = startServer();
  const url = server.url("/gone");
  await server.close();
  await expectTelemetryError(openDownload(url, opts(url)), "transient", "network");
});

Deno.test("openDownload() stops when the signal aborts", async () => {
  await withServer(async (server) => {
    server.route("/hang", hang());
    server.route("/stall", stall(BODY, 100));
    const early = new AbortController();
    early.abort();
    await expectTelemetryError(
      openDownload(server.url("/hang"), opts(server.origin, { signal: early.signal })),
      "transient",
      "aborted",
    );
    const late = new AbortController();
    const download = await openDownload(
      server.url("/stall"),
      opts(server.origin, { signal: late.signal }),
    );
    try {
      const reader = download.body.getReader();
      await reader.read();
      late.abort();
      await expectTelemetryError(reader.read(), "transient", "aborted");
    } finally {
      download.close();
    }
  });
});

Deno.test("openDownload() sends extra headers", async () => {
  await withServer(async (server) => {
    server.route("/t", bytes(BODY));
    await fetchAll(server.url("/t"), opts(server.origin, { headers: { "x-test": "1" } }));
    assert.equal(server.requests[0]?.headers.get("x-test"), "1");
  });
});

Deno.test("statusError() makes retriable statuses transient with Retry-After", () => {
  const err = statusError(429, URL_HERE, "12");
  assert.equal(err.kind, "transient");
  assert.equal(err.retryAfterSeconds, 12);
  assert.equal(statusError(503, URL_HERE).retryAfterSeconds, undefined);
  assert.equal(statusError(500, URL_HERE).kind, "transient");
  assert.equal(statusError(408, URL_HERE).kind, "transient");
  assert.equal(statusError(425, URL_HERE).kind, "transient");
});

Deno.test("statusError() makes other 4xx permanent with a hint", () => {
  const forbidden = statusError(403, URL_HERE);
  assert.equal(forbidden.kind, "permanent");
  assert.match(forbidden.message, /HTTP 403/);
  assert.match(forbidden.message, /14 days/);
  assert.match(statusError(404, URL_HERE).message, /HTTP 404/);
  assert.equal(statusError(400, URL_HERE).kind, "permanent");
});

Deno.test("statusError() keeps the query string of signed URLs out of the message", () => {
  const err = statusError(403, new URL("https://telemetry-cdn.pubg.com/x.json?sig=SECRET"));
  assert.ok(!err.message.includes("SECRET"), err.message);
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.parse("2024-11-28T12:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120);
  assert.equal(parseRetryAfter(" 5 ", now), 5);
  assert.equal(parseRetryAfter("0", now), 0);
  assert.equal(parseRetryAfter("Thu, 28 Nov 2024 12:00:30 GMT", now), 30);
  assert.equal(parseRetryAfter("Thu, 28 Nov 2024 11:00:00 GMT", now), 0, "past date");
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter("-5", now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});
