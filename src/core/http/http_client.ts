/**
 * The raw HTTP GET the downloader uses, behind a function type so tests can
 * pass their own.
 *
 * The default uses `node:http`/`node:https`: unlike Deno's `fetch`, they hand
 * over the bytes exactly as served (still gzip when the server sent
 * `Content-Encoding: gzip`), which is what lets us store the CDN's gzip
 * without decompressing and recompressing it.
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import { processTrustOptions } from "./tls_trust.ts";
import { NamedError } from "../errors.ts";

/** A request: headers and a signal that aborts it, body included. */
export interface HttpRequest {
  /** Request headers. */
  headers: Record<string, string>;
  /** Aborting destroys the connection; the body stream errors with the signal's reason. */
  signal: AbortSignal;
}

/** A response whose body has not been read yet. */
export interface HttpResponse {
  /** Status code. */
  status: number;
  /** Response headers, names lower-cased. */
  headers: Record<string, string>;
  /** The body, bytes exactly as received (no content decoding). */
  body: ReadableStream<Uint8Array>;
}

/**
 * The body ended before it was complete (the connection closed, or the
 * server sent less than it announced). `received` counts the bytes that
 * arrived from the socket, including those still queued for the reader,
 * which the stream's error discards.
 */
export class BodyCutError extends NamedError {
  /**
   * @param received Bytes received from the socket before the cut.
   * @param cause The socket's error, when it gave one.
   */
  constructor(readonly received: number, cause?: unknown) {
    super(
      cause instanceof Error ? cause.message : "connection closed before the end of the body",
      cause === undefined ? undefined : { cause },
    );
  }
}

/** Performs one GET without following redirects. */
export type HttpGet = (url: URL, request: HttpRequest) => Promise<HttpResponse>;

/**
 * GET with `node:http`/`node:https`, returning the raw bytes as a web stream
 * with backpressure (the socket is paused while the consumer is busy).
 *
 * @param url The URL (http or https).
 * @param request Headers and abort signal.
 * @returns The response once its headers arrived.
 * @throws The socket's error (e.g. `ECONNREFUSED`), a `NotCapable` for a
 * missing permission, a `TelemetryError` for an unreadable CA file, or the
 * signal's reason.
 */
export function nodeHttpGet(url: URL, request: HttpRequest): Promise<HttpResponse> {
  const { headers, signal } = request;
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const tlsOptions = url.protocol === "https:" ? processTrustOptions() : {};
    const req = client.get(url, { headers, ...tlsOptions });
    function onAbort() {
      req.destroy();
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err: Error) => {
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? signal.reason : err);
    });
    req.on("response", (res: IncomingMessage) => {
      signal.removeEventListener("abort", onAbort);
      resolve({
        status: res.statusCode ?? 0,
        headers: flattenHeaders(res.headers),
        body: bodyStream(res, signal),
      });
    });
  });
}

function flattenHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function bodyStream(res: IncomingMessage, signal: AbortSignal): ReadableStream<Uint8Array> {
  let finished = false;
  let received = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      function fail(err: unknown) {
        if (finished) return;
        finished = true;
        controller.error(err);
        res.destroy();
      }
      function onAbort() {
        fail(signal.reason);
      }
      signal.addEventListener("abort", onAbort, { once: true });
      res.on("data", (chunk: Uint8Array) => {
        if (finished) return;
        received += chunk.length;
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 0) <= 0) res.pause();
      });
      res.on("end", () => {
        signal.removeEventListener("abort", onAbort);
        if (finished) return;
        if (!res.complete) {
          fail(new BodyCutError(received));
          return;
        }
        finished = true;
        controller.close();
      });
      res.on("error", (err: Error) => {
        signal.removeEventListener("abort", onAbort);
        fail(signal.aborted ? signal.reason : new BodyCutError(received, err));
      });
      res.on("close", () => {
        signal.removeEventListener("abort", onAbort);
        fail(new BodyCutError(received));
      });
    },
    pull() {
      res.resume();
    },
    cancel() {
      finished = true;
      res.destroy();
    },
  }, { highWaterMark: 8 });
}
