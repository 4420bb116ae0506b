import assert from "node:assert/strict";
import {
  ByteLimitStream,
  CopyToSinkStream,
  CountingStream,
} from "../../../src/core/content/byte_streams.ts";
import { TelemetryError } from "../../../src/core/errors.ts";

function chunks(...sizes: number[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(sizes.map((n) => new Uint8Array(n).fill(n)));
}

Deno.test("CountingStream counts bytes and reports running totals", async () => {
  const totals: number[] = [];
  const counter = new CountingStream((n) => totals.push(n));
  await chunks(3, 4).pipeThrough(counter).pipeTo(new WritableStream());
  assert.equal(counter.bytes, 7);
  assert.deepEqual(totals, [3, 7]);
});

Deno.test("ByteLimitStream passes up to the limit and errors beyond it", async () => {
  await chunks(5, 5).pipeThrough(new ByteLimitStream(10)).pipeTo(new WritableStream());
  await assert.rejects(
    chunks(5, 6).pipeThrough(new ByteLimitStream(10, { what: "download" })).pipeTo(
      new WritableStream(),
    ),
    (err: unknown) =>
      err instanceof TelemetryError && err.code === "too_large" &&
      /download exceeds the limit of 10 bytes/.test(err.message),
  );
});

Deno.test("CopyToSinkStream copies every chunk and closes the sink", async () => {
  const copied: number[] = [];
  let closed = false;
  const sink = new WritableStream<Uint8Array>({
    write: (c) => void copied.push(c.length),
    close: () => void (closed = true),
  });
  const passed: number[] = [];
  await chunks(1, 2, 3).pipeThrough(new CopyToSinkStream(sink)).pipeTo(
    new WritableStream({ write: (c) => void passed.push(c.length) }),
  );
  assert.deepEqual(copied, [1, 2, 3]);
  assert.deepEqual(passed, [1, 2, 3]);
  assert.equal(closed, true);
});

Deno.test("CopyToSinkStream fails the pipeline when the sink fails", async () => {
  const sink = new WritableStream<Uint8Array>({
    write: () => Promise.reject(new Error("disk full")),
  });
  await assert.rejects(
    chunks(1).pipeThrough(new CopyToSinkStream(sink)).pipeTo(new WritableStream()),
    /disk full/,
  );
});
