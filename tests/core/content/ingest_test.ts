import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { TelemetryError } from "../../../src/core/errors.ts";
import { ingest } from "../../../src/core/content/ingest.ts";
import { ValidationThread } from "../../../src/core/content/validation_thread.ts";
import { generateTelemetry, gzipBytes, telemetryMatchId } from "../../support/telemetry_fixture.ts";
import { concatBytes } from "../../support/bytes.ts";

const json = generateTelemetry({ matchId: "m1", events: 3000 });

function streamOf(bytes: Uint8Array, chunk = 7919): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return ReadableStream.from(parts);
}

function collector(): { sink: WritableStream<Uint8Array>; bytes: () => Uint8Array } {
  const parts: Uint8Array[] = [];
  return {
    sink: new WritableStream({ write: (c) => void parts.push(c.slice()) }),
    bytes: () => concatBytes(...parts),
  };
}

function failsWith(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof TelemetryError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.kind, "permanent");
    return true;
  };
}

Deno.test("ingest() gzips plain JSON on its way to the sink", async () => {
  const out = collector();
  const result = await ingest(streamOf(json), { sink: out.sink, expectedMatchId: "m1" });
  assert.equal(result.gzipLayers, 0);
  assert.equal(result.events, 3001);
  assert.equal(result.contentBytes, json.length);
  assert.equal(result.matchId, "m1");
  assert.equal(result.telemetryMatchId, telemetryMatchId("m1"));
  assert.equal(result.firstEventType, "LogMatchDefinition");
  const stored = out.bytes();
  assert.equal(result.storedBytes, stored.length);
  assert.deepEqual(new Uint8Array(gunzipSync(stored)), json);
});

Deno.test("ingest() stores gzip input byte for byte", async () => {
  const gz = await gzipBytes(json);
  const out = collector();
  const result = await ingest(streamOf(gz), { sink: out.sink });
  assert.equal(result.gzipLayers, 1);
  assert.deepEqual(out.bytes(), gz);
  assert.equal(result.storedBytes, gz.length);
});

Deno.test("ingest() stores the innermost layer of gzip inside gzip inside gzip", async () => {
  const once = await gzipBytes(json);
  const thrice = await gzipBytes(await gzipBytes(once));
  const out = collector();
  const result = await ingest(streamOf(thrice, 100), { sink: out.sink });
  assert.equal(result.gzipLayers, 3);
  assert.deepEqual(out.bytes(), once);
});

Deno.test("ingest() without a sink only audits", async () => {
  const result = await ingest(streamOf(await gzipBytes(json)));
  assert.equal(result.gzipLayers, 1);
  assert.equal(result.events, 3001);
});

Deno.test("ingest() rejects a MatchId of another match", async () => {
  await assert.rejects(
    ingest(streamOf(json), { expectedMatchId: "other" }),
    failsWith("wrong_match"),
  );
});

Deno.test("ingest() refuses another match at the first event, without reading the rest", async () => {
  const gz = await gzipBytes(json);
  const thread = new ValidationThread();
  try {
    for (const openValidation of [undefined, () => thread.open()]) {
      for (const input of [json, gz]) {
        let pulled = 0;
        const chunks = Math.ceil(input.length / 4096);
        const source = streamOf(input, 4096).pipeThrough(
          new TransformStream({
            transform(chunk, controller) {
              pulled++;
              controller.enqueue(chunk);
            },
          }),
        );
        await assert.rejects(
          ingest(source, {
            expectedMatchId: "other",
            ...(openValidation === undefined ? {} : { openValidation }),
          }),
          failsWith("wrong_match"),
        );
        assert.ok(pulled < chunks / 4, `read ${pulled} of ${chunks} chunks`);
      }
    }
  } finally {
    thread.close();
  }
});

Deno.test("ingest() rejects invalid JSON inside valid gzip with its offset", async () => {
  const bad = json.slice();
  const at = new TextDecoder().decode(json).indexOf("},{", 5000) + 1;
  bad[at] = 0x23; // '#' where a ',' between events was
  await assert.rejects(ingest(streamOf(await gzipBytes(bad))), (err: unknown) => {
    assert.ok(err instanceof TelemetryError);
    assert.equal(err.code, "invalid_json");
    assert.equal(err.offset, at);
    return true;
  });
});

Deno.test("ingest() rejects truncated gzip and empty content", async () => {
  const gz = await gzipBytes(json);
  await assert.rejects(ingest(streamOf(gz.subarray(0, gz.length - 1000))), failsWith("truncated"));
  await assert.rejects(ingest(streamOf(new Uint8Array(0))), failsWith("empty"));
  await assert.rejects(ingest(streamOf(await gzipBytes(new Uint8Array(0)))), failsWith("empty"));
});

Deno.test("ingest() names --max-decompressed-bytes when content is too large, gzip or plain", async () => {
  const big = new TextEncoder().encode("[" + " ".repeat(5_000) + "]");
  for (const input of [await gzipBytes(big), big]) {
    await assert.rejects(
      ingest(streamOf(input), { maxDecompressedBytes: 1000 }),
      (err: unknown) => {
        assert.ok(err instanceof TelemetryError, String(err));
        assert.equal(err.code, "too_large");
        assert.match(err.message, /--max-decompressed-bytes/);
        assert.match(err.message, /1000/);
        return true;
      },
    );
  }
});

Deno.test("ingest() stops a decompression bomb at maxDecompressedBytes", async () => {
  const zeros = await gzipBytes(new TextEncoder().encode("[" + " ".repeat(5_000_000) + "]"));
  await assert.rejects(
    ingest(streamOf(zeros), { maxDecompressedBytes: 1_000_000 }),
    failsWith("too_large"),
  );
  await assert.rejects(
    ingest(streamOf(json), { maxDecompressedBytes: 1000 }),
    failsWith("too_large"),
  );
});

Deno.test("ingest() rejects JSON that is not an array of events", async () => {
  const encode = (s: string) => new TextEncoder().encode(s);
  await assert.rejects(ingest(streamOf(encode('{"a":1}'))), failsWith("not_telemetry"));
  await assert.rejects(ingest(streamOf(encode("[]"))), failsWith("not_telemetry"));
  await assert.rejects(ingest(streamOf(encode("[1]"))), failsWith("not_telemetry"));
});

Deno.test("ingest() passes input stream errors through unchanged", async () => {
  const failing = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(json.subarray(0, 100));
      controller.error(new TelemetryError("transient", "network", "reset"));
    },
  });
  await assert.rejects(
    ingest(failing),
    (err: unknown) => err instanceof TelemetryError && err.kind === "transient",
  );
});
