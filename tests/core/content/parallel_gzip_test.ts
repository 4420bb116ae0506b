import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { ParallelGzipStream } from "../../../src/core/content/parallel_gzip.ts";
import { generateTelemetry } from "../../support/telemetry_fixture.ts";

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("ParallelGzipStream output decompresses to its input, in order", async () => {
  const json = generateTelemetry({ matchId: "p1", events: 40_000 });
  // Views into one large buffer, as stream chunks often are.
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < json.length; i += 50_000) chunks.push(json.subarray(i, i + 50_000));
  const gz = await collect(ReadableStream.from(chunks).pipeThrough(new ParallelGzipStream()));
  assert.deepEqual(new Uint8Array(gunzipSync(gz)), json);
  assert.deepEqual([...json.subarray(0, 2)], [0x5b, 0x7b], "the input was not detached");
});

Deno.test("ParallelGzipStream handles empty input", async () => {
  const gz = await collect(
    ReadableStream.from<Uint8Array>([]).pipeThrough(new ParallelGzipStream()),
  );
  assert.equal(gunzipSync(gz).length, 0);
});

Deno.test("ParallelGzipStream stops its worker when the source fails", async () => {
  const failing = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(1000));
      controller.error(new Error("source failed"));
    },
  });
  await assert.rejects(
    failing.pipeThrough(new ParallelGzipStream()).pipeTo(new WritableStream()),
    /source failed/,
  );
});

Deno.test("ParallelGzipStream stops its worker when the sink fails", async () => {
  const json = generateTelemetry({ matchId: "p2", events: 5_000 });
  await assert.rejects(
    ReadableStream.from([json]).pipeThrough(new ParallelGzipStream()).pipeTo(
      new WritableStream({ write: () => Promise.reject(new Error("disk full")) }),
    ),
    /disk full/,
  );
});
