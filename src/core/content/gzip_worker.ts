/**
 * Worker side of {@linkcode ParallelGzipStream}: gzips the buffers it is sent
 * with `CompressionStream` and posts the output back, so compression runs on
 * its own core while the main thread receives, validates and writes.
 *
 * Protocol (main → worker): `{ type: "chunk", buffer, length }` (the buffer
 * is transferred), `{ type: "end" }`. Worker → main: `{ type: "data", data }`,
 * `{ type: "ack", buffer }` once a chunk was consumed (the buffer goes back
 * to the main thread's pool, so input buffers are reused, not collected),
 * `{ type: "done" }`, `{ type: "error", message }`.
 *
 * @module
 */

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

type MainMessage = { type: "chunk"; buffer: ArrayBuffer; length: number } | { type: "end" };

const scope = globalThis as unknown as WorkerScope;
const compressor = new CompressionStream("gzip");
const writer = compressor.writable.getWriter();

function reportError(err: unknown): void {
  scope.postMessage({ type: "error", message: String(err) });
}

async function pump(): Promise<void> {
  for await (const chunk of compressor.readable as ReadableStream<Uint8Array>) {
    const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const data = owned ? chunk : chunk.slice();
    scope.postMessage({ type: "data", data }, [data.buffer as ArrayBuffer]);
  }
  scope.postMessage({ type: "done" });
}

pump().catch(reportError);

scope.onmessage = (event: MessageEvent) => {
  const message = event.data as MainMessage;
  if (message.type === "chunk") {
    const { buffer, length } = message;
    // The compressor copies the input into zlib: once the write resolves the
    // buffer is free to go back.
    writer.write(new Uint8Array(buffer, 0, length)).then(
      () => scope.postMessage({ type: "ack", buffer }, [buffer]),
      reportError,
    );
  } else {
    writer.close().catch(reportError);
  }
};
