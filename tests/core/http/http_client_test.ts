import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { nodeHttpGet } from "../../../src/core/http/http_client.ts";
import { generateTelemetry, gzipBytes } from "../../support/telemetry_fixture.ts";

const JSON_BYTES = generateTelemetry({ matchId: "h1", events: 3_000 });
const GZ = await gzipBytes(JSON_BYTES);

async function withServer(
  handler: (request: Request) => Response | Promise<Response>,
  fn: (url: URL) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await fn(new URL(`http://127.0.0.1:${server.addr.port}/t.json`));
  } finally {
    await server.shutdown();
  }
}

Deno.test("nodeHttpGet() hands over Content-Encoding: gzip bytes undecoded", async () => {
  let accept = "";
  await withServer((request) => {
    accept = request.headers.get("accept-encoding") ?? "";
    return new Response(GZ as Uint8Array<ArrayBuffer>, {
      headers: { "content-encoding": "gzip", "X-Test": "Yes" },
    });
  }, async (url) => {
    const response = await nodeHttpGet(url, {
      headers: { "accept-encoding": "gzip" },
      signal: new AbortController().signal,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers["content-encoding"], "gzip");
    assert.equal(response.headers["x-test"], "Yes");
    const body = new Uint8Array(await new Response(response.body).arrayBuffer());
    assert.deepEqual(body, GZ);
    assert.deepEqual(new Uint8Array(gunzipSync(body)), JSON_BYTES);
  });
  assert.equal(accept, "gzip");
});

Deno.test("nodeHttpGet() rejects with the signal's reason when aborted before headers", async () => {
  const release = Promise.withResolvers<void>();
  await withServer(async () => {
    await release.promise;
    return new Response("late");
  }, async (url) => {
    const controller = new AbortController();
    const pending = nodeHttpGet(url, { headers: {}, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("stop now")), 20);
    await assert.rejects(pending, /stop now/);
    release.resolve();
  });
});

Deno.test("nodeHttpGet() errors the body with the signal's reason when aborted mid-body", async () => {
  const release = Promise.withResolvers<void>();
  await withServer(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(JSON_BYTES.subarray(0, 1000));
          await release.promise;
          controller.close();
        },
      }),
    ), async (url) => {
    const controller = new AbortController();
    const response = await nodeHttpGet(url, { headers: {}, signal: controller.signal });
    const reader = response.body.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    controller.abort(new Error("cut"));
    await assert.rejects(reader.read(), /cut/);
    release.resolve();
  });
});

Deno.test("nodeHttpGet() rejects when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    nodeHttpGet(new URL(`http://127.0.0.1:${port}/`), {
      headers: {},
      signal: new AbortController().signal,
    }),
    /ECONNREFUSED|refused/i,
  );
});
