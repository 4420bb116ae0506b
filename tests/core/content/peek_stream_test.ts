import assert from "node:assert/strict";
import { peekUntil } from "../../../src/core/content/peek_stream.ts";

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
