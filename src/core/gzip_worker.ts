/**
 * Worker side of {@linkcode ParallelGzipStream}: gzips the chunks it is sent
 * with `CompressionStream` and posts the output back, so compression runs on
 * its own core while the main thread receives, validates and writes.
 *
 * Protocol (main → worker): `{ type: "chunk", data }`, `{ type: "end" }`.
 * (worker → main): `{ type: "data", data }`, `{ type: "ack", bytes }` after a
 * chunk was consumed, `{ type: "done" }`, `{ type: "error", message }`.
 *
 * @module
 */

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
const compressor = new CompressionStream("gzip");
const writer = compressor.writable.getWriter();

async function pump(): Promise<void> {
  for await (const chunk of compressor.readable as ReadableStream<Uint8Array>) {
    const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const data = owned ? chunk : chunk.slice();
    scope.postMessage({ type: "data", data }, [data.buffer as ArrayBuffer]);
  }
  scope.postMessage({ type: "done" });
}

pump().catch((err) => scope.postMessage({ type: "error", message: String(err) }));

scope.onmessage = (event: MessageEvent) => {
  const message = event.data as { type: "chunk"; data: Uint8Array } | { type: "end" };
  if (message.type === "chunk") {
    const bytes = message.data.length;
    writer.write(message.data as Uint8Array<ArrayBuffer>).then(
      () => scope.postMessage({ type: "ack", bytes }),
      (err) => scope.postMessage({ type: "error", message: String(err) }),
    );
  } else {
    writer.close().catch((err) => scope.postMessage({ type: "error", message: String(err) }));
  }
};
