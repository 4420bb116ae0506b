import assert from "node:assert/strict";
import { peekStream, peekUntil } from "../../../src/core/content/peek_stream.ts";

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** A source that records how many chunks were pulled and whether it was cancelled. */
function recordingSource(chunks: Uint8Array[]): {
  stream: ReadableStream<Uint8Array>;
  pulls: () => number;
  cancelled: () => unknown;
} {
  let next = 0;
  let cancelReason: unknown;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel(reason) {
      cancelReason = reason;
    },
  }, { highWaterMark: 0 });
  return { stream, pulls: () => next, cancelled: () => cancelReason };
}

Deno.test("peekStream() reads chunks until minBytes and replays them", async () => {
  const source = recordingSource([bytes(1), bytes(2, 3), bytes(4, 5, 6), bytes(7)]);
  const { head, stream } = await peekStream(source.stream, { minBytes: 3 });
  assert.deepEqual(head, bytes(1, 2, 3));
  assert.equal(source.pulls(), 2);
  assert.deepEqual(await new Response(stream).bytes(), bytes(1, 2, 3, 4, 5, 6, 7));
});

Deno.test("peekStream() keeps the chunk boundaries of the source", async () => {
  const source = recordingSource([bytes(1), bytes(2, 3), bytes(4)]);
  const { stream } = await peekStream(source.stream, { minBytes: 2 });
  const chunks = await Array.fromAsync(stream);
  assert.deepEqual(chunks, [bytes(1), bytes(2, 3), bytes(4)]);
});

Deno.test("peekStream() returns a shorter head when the source ends first", async () => {
  const { head, stream } = await peekStream(ReadableStream.from([bytes(9)]), { minBytes: 10 });
  assert.deepEqual(head, bytes(9));
  assert.deepEqual(await new Response(stream).bytes(), bytes(9));
});

Deno.test("peekStream() handles an empty source", async () => {
  const { head, stream } = await peekStream(ReadableStream.from<Uint8Array>([]), { minBytes: 2 });
  assert.equal(head.length, 0);
  assert.equal((await new Response(stream).bytes()).length, 0);
});

Deno.test("peekStream() reads nothing when minBytes is 0", async () => {
  const source = recordingSource([bytes(1)]);
  const { head, stream } = await peekStream(source.stream, { minBytes: 0 });
  assert.equal(head.length, 0);
  assert.equal(source.pulls(), 0);
  assert.deepEqual(await new Response(stream).bytes(), bytes(1));
});

Deno.test("peekStream() pulls the rest of the source only when read", async () => {
  const source = recordingSource([bytes(1, 2), bytes(3), bytes(4)]);
  const { stream } = await peekStream(source.stream, { minBytes: 1 });
  assert.equal(source.pulls(), 1);
  const reader = stream.getReader();
  assert.deepEqual((await reader.read()).value, bytes(1, 2));
  assert.equal(source.pulls(), 1);
  assert.deepEqual((await reader.read()).value, bytes(3));
  assert.equal(source.pulls(), 2);
  reader.releaseLock();
  await stream.cancel();
});

Deno.test("peekStream() passes a cancel on to the source", async () => {
  const source = recordingSource([bytes(1), bytes(2), bytes(3)]);
  const { stream } = await peekStream(source.stream, { minBytes: 1 });
  await stream.cancel("done here");
  assert.equal(source.cancelled(), "done here");
});

Deno.test("peekStream() passes on an error of the source", async () => {
  let sent = false;
  const failing = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) controller.error(new Error("connection reset"));
      else controller.enqueue(bytes(1, 2));
      sent = true;
    },
  });
  const { stream } = await peekStream(failing, { minBytes: 2 });
  await assert.rejects(new Response(stream).bytes(), /connection reset/);
});

Deno.test("peekStream() rejects a minBytes that is not a non-negative integer", async () => {
  await assert.rejects(
    peekStream(ReadableStream.from<Uint8Array>([]), { minBytes: -1 }),
    RangeError,
  );
});

Deno.test("peekUntil() stops as soon as done() is true", async () => {
  const source = recordingSource([bytes(1), bytes(2), bytes(3), bytes(4)]);
  const seen: number[] = [];
  const { head, stream } = await peekUntil(source.stream, {
    done: (h) => {
      seen.push(h.length);
      return h.includes(2);
    },
    maxBytes: 100,
  });
  assert.deepEqual(head, bytes(1, 2));
  assert.deepEqual(seen, [0, 1, 2]);
  assert.deepEqual(await new Response(stream).bytes(), bytes(1, 2, 3, 4));
});

Deno.test("peekUntil() stops at maxBytes when done() stays false", async () => {
  const source = recordingSource([bytes(1, 2), bytes(3, 4), bytes(5, 6)]);
  const { head, stream } = await peekUntil(source.stream, { done: () => false, maxBytes: 3 });
  assert.deepEqual(head, bytes(1, 2, 3, 4));
  assert.deepEqual(await new Response(stream).bytes(), bytes(1, 2, 3, 4, 5, 6));
});

Deno.test("peekUntil() stops at the end of the source", async () => {
  const { head } = await peekUntil(ReadableStream.from([bytes(1)]), {
    done: () => false,
    maxBytes: 3,
  });
  assert.deepEqual(head, bytes(1));
});

Deno.test("peekUntil() rejects a maxBytes that is not a positive integer", async () => {
  await assert.rejects(
    peekUntil(ReadableStream.from<Uint8Array>([]), { done: () => true, maxBytes: 0 }),
    RangeError,
  );
});
