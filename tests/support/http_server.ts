/**
 * A loopback HTTP server for tests: `Deno.serve` on 127.0.0.1 and a free
 * port, with programmable routes (status sequences, redirects, gzip bodies,
 * stalls, short and slow bodies) and a count of requests per route.
 *
 * Every body-producing stage is a function called per request, because a
 * `Response` body can be read only once.
 *
 * @module
 */

import { join } from "node:path";
import { withTempDir } from "./helpers.ts";
import type { ServeTls } from "./tls.ts";

/** Answers one request; `count` is the 1-based number of this request to the route. */
export type Handler = (
  request: Request,
  context: { count: number; server: TestServer },
) => Response | Promise<Response>;

/** A request as the server saw it. */
export interface SeenRequest {
  /** Path of the URL. */
  path: string;
  /** Request headers. */
  headers: Headers;
}

/** A running test server. */
export interface TestServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The port. */
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: readonly SeenRequest[];
  /**
   * The full URL of a path on this server.
   *
   * @param path A path such as `/telemetry.json`.
   * @param host The host name to use (e.g. `localhost` for a host outside an allow-list).
   */
  url(path: string, host?: string): string;
  /**
   * Sets the handler of a path. An array answers request n with its nth
   * handler and repeats the last one (e.g. `[status(500), json(body)]`).
   */
  route(path: string, handler: Handler | Handler[]): void;
  /** Requests received on a path so far. */
  count(path: string): number;
  /**
   * A promise resolved when the server closes: lets a handler or a body hang
   * "forever" without leaving a pending timer behind.
   */
  readonly closing: Promise<void>;
  /** Releases hanging handlers and stops the server; waits for it. */
  close(): Promise<void>;
  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1 and a free port. Unknown paths answer 404.
 *
 * @param routes Initial routes.
 * @param options `tls`: serve HTTPS with this certificate (see tls.ts).
 * @returns The running server; close it at the end of the test.
 */
export function startServer(
  routes: Record<string, Handler | Handler[]> = {},
  options: { tls?: ServeTls } = {},
): TestServer {
  const { tls } = options;
  const scheme = tls === undefined ? "http" : "https";
  const table = new Map<string, Handler[]>();
  const counts = new Map<string, number>();
  const requests: SeenRequest[] = [];
  let release = () => {};
  const closing = new Promise<void>((resolve) => {
    release = resolve;
  });
  let closed: Promise<void> | undefined;

  const serveOptions = { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls };
  const httpServer = Deno.serve(serveOptions, (request) => {
    const path = new URL(request.url).pathname;
    const count = (counts.get(path) ?? 0) + 1;
    counts.set(path, count);
    requests.push({ path, headers: request.headers });
    const handlers = table.get(path);
    if (handlers === undefined || handlers.length === 0) {
      return new Response("no such route", { status: 404 });
    }
    const handler = handlers[Math.min(count, handlers.length) - 1] as Handler;
    return handler(request, { count, server });
  });
  const port = httpServer.addr.port;

  const server: TestServer = {
    origin: `${scheme}://127.0.0.1:${port}`,
    port,
    requests,
    closing,
    url(path: string, host = "127.0.0.1") {
      return `${scheme}://${host}:${port}${path}`;
    },
    route(path: string, handler: Handler | Handler[]) {
      table.set(path, Array.isArray(handler) ? handler : [handler]);
    },
    count(path: string) {
      return counts.get(path) ?? 0;
    },
    close() {
      closed ??= (async () => {
        release();
        await httpServer.shutdown();
      })();
      return closed;
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  for (const [path, handler] of Object.entries(routes)) server.route(path, handler);
  return server;
}

/**
 * Runs `fn` with a started server and a data dir path inside a fresh temp
 * directory (the directory of `dataDir` exists, `dataDir` itself not yet),
 * then closes the server and removes the temp directory, in that order.
 *
 * @param fn The test body.
 * @returns When `fn` is done and everything is cleaned up.
 */
export async function withServer(
  fn: (server: TestServer, dataDir: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (root) => {
    await using server = startServer();
    await fn(server, join(root, "data"));
  });
}

/** Headers every body response gets: no transparent compression by `Deno.serve`. */
const NO_TRANSFORM = { "cache-control": "no-transform" };

/**
 * 200 with a body sent as is, with its Content-Length.
 *
 * @param body The bytes.
 * @param headers Extra headers (e.g. a content type).
 */
export function bytes(body: Uint8Array, headers: Record<string, string> = {}): Handler {
  return () =>
    new Response(body.slice(), {
      headers: { ...NO_TRANSFORM, "content-length": String(body.length), ...headers },
    });
}

/**
 * 200 with plain JSON (`application/json`).
 *
 * @param body The JSON bytes.
 */
export function json(body: Uint8Array): Handler {
  return bytes(body, { "content-type": "application/json" });
}

/**
 * 200 with `Content-Encoding: gzip` (a CDN serving compressed JSON).
 *
 * @param gzipped The gzip bytes of the JSON.
 */
export function gzipEncoded(gzipped: Uint8Array): Handler {
  return bytes(gzipped, { "content-type": "application/json", "content-encoding": "gzip" });
}

/**
 * 200 with a gzip file as the body (`application/gzip`, no Content-Encoding).
 *
 * @param gzipped The gzip bytes.
 */
export function gzipFile(gzipped: Uint8Array): Handler {
  return bytes(gzipped, { "content-type": "application/gzip" });
}

/**
 * 200 with a streamed body and no Content-Length (chunked transfer encoding).
 *
 * @param body The bytes.
 * @param chunkSize Bytes per chunk.
 */
export function chunked(body: Uint8Array, chunkSize = 16 * 1024): Handler {
  function* slices(): Generator<Uint8Array> {
    for (let offset = 0; offset < body.length; offset += chunkSize) {
      yield body.slice(offset, offset + chunkSize);
    }
  }
  return () =>
    new Response(ReadableStream.from(slices()), {
      headers: { ...NO_TRANSFORM, "content-type": "application/json" },
    });
}

/**
 * An empty answer with a status and headers (errors, 429 with Retry-After).
 *
 * @param code The HTTP status.
 * @param headers Extra headers.
 */
export function status(code: number, headers: Record<string, string> = {}): Handler {
  return () =>
    new Response(code === 204 || code === 304 ? null : `status ${code}`, {
      status: code,
      headers,
    });
}

/**
 * A redirect.
 *
 * @param location The `Location` header (absolute or relative).
 * @param code The status. @default {302}
 */
export function redirect(location: string, code = 302): Handler {
  return () => new Response(null, { status: code, headers: { location } });
}

/**
 * Never answers until the server closes (a headers timeout).
 */
export function hang(): Handler {
  return async (_request, { server }) => {
    await server.closing;
    return new Response("too late", { status: 503 });
  };
}

/**
 * 200 with a Content-Length; sends the first `sent` bytes, then nothing
 * until the server closes (an idle timeout).
 *
 * @param body The whole body (its length is the Content-Length).
 * @param sent Bytes sent before stalling.
 */
export function stall(body: Uint8Array, sent: number): Handler {
  return (_request, { server }) => {
    let first = true;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (first) {
          first = false;
          controller.enqueue(body.slice(0, sent));
          return;
        }
        await server.closing;
        controller.close();
      },
    });
    return new Response(stream, {
      headers: { ...NO_TRANSFORM, "content-length": String(body.length) },
    });
  };
}

/**
 * 200 announcing the whole body's Content-Length but sending only the first
 * `sent` bytes before the connection closes (a body cut short).
 *
 * @param body The whole body.
 * @param sent Bytes actually sent.
 */
export function shortBody(body: Uint8Array, sent: number): Handler {
  return () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(body.slice(0, sent));
        controller.close();
      },
    });
    return new Response(stream, {
      headers: { ...NO_TRANSFORM, "content-length": String(body.length) },
    });
  };
}

/**
 * 200 that trickles the body: `chunkSize` bytes every `intervalMs`, with its
 * Content-Length. Stops its timer when the client goes away.
 *
 * @param body The bytes.
 * @param options Chunk size and interval.
 */
export function slow(
  body: Uint8Array,
  options: { chunkSize: number; intervalMs: number; onChunk?: (sent: number) => void },
): Handler {
  const { chunkSize, intervalMs, onChunk } = options;
  return () => {
    let offset = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        return new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            timer = undefined;
            if (offset >= body.length) {
              controller.close();
            } else {
              controller.enqueue(body.slice(offset, offset + chunkSize));
              offset += chunkSize;
              onChunk?.(Math.min(offset, body.length));
            }
            resolve();
          }, offset === 0 ? 0 : intervalMs);
        });
      },
      cancel() {
        if (timer !== undefined) clearTimeout(timer);
      },
    }, { highWaterMark: 0 });
    return new Response(stream, {
      headers: { ...NO_TRANSFORM, "content-length": String(body.length) },
    });
  };
}
