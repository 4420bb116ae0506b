/**
 * One download attempt over HTTP: follows redirects under the URL policy,
 * classifies the status, and returns the body guarded by the idle timeout,
 * the whole-attempt timeout, the size cap and the Content-Length check.
 *
 * @module
 */

import { abortedError, TelemetryError } from "../errors.ts";
import { connectError } from "./connect_error.ts";
import { BodyCutError, type HttpGet, nodeHttpGet } from "./http_client.ts";
import { checkUrl, redactUrl, type UrlPolicy } from "./url_policy.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUTS } from "../defaults.ts";

export { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUTS };

/** Timeouts of one attempt, in milliseconds: the `--*-timeout` flags. */
export interface HttpTimeouts {
  /** No response headers within this long. @default {DEFAULT_TIMEOUTS.headersMs} */
  headersMs?: number;
  /** No body bytes for this long. @default {DEFAULT_TIMEOUTS.idleMs} */
  idleMs?: number;
  /** The whole attempt, body included. @default {DEFAULT_TIMEOUTS.attemptMs} */
  attemptMs?: number;
}

/** Options of {@linkcode openDownload}. */
export interface OpenDownloadOptions {
  /** Allowed hosts and schemes, applied to every hop. */
  policy: UrlPolicy;
  /** Timeouts of this attempt. */
  timeouts?: HttpTimeouts;
  /** Stop the transfer beyond this many bytes on the wire. @default {DEFAULT_MAX_BYTES} */
  maxBytes?: number;
  /** Redirects followed at most. @default {3} */
  maxRedirects?: number;
  /** Aborts the attempt. */
  signal?: AbortSignal;
  /** The HTTP GET to use. @default {nodeHttpGet} */
  httpGet?: HttpGet;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Called with the running count of body bytes received. */
  onBytes?: (received: number, contentLength: number | undefined) => void;
}

/** An open download whose body can be read once. */
export interface OpenedDownload {
  /** The URL that answered 200, after redirects. */
  url: URL;
  /** Content-Length of the wire bytes, when the server sent one. */
  contentLength: number | undefined;
  /**
   * Whether the transfer itself shows where the body ends (Content-Length or
   * chunked encoding). Without either, the body ends when the connection
   * closes, and a cut transfer looks like a complete one.
   */
  lengthKnown: boolean;
  /** Content-Encoding as the server sent it (lower case), or "". */
  contentEncoding: string;
  /** The body as received on the wire. */
  body: ReadableStream<Uint8Array>;
  /** Stops the timers and the connection; call when done, whatever happened. */
  close(): void;
}

const RETRIABLE_STATUS = new Set([408, 425, 429]);

/**
 * Opens the telemetry URL: the request carries `Accept-Encoding: gzip`.
 *
 * @param url The URL, not yet checked.
 * @param options Policy, timeouts, cap, signal and the injected HTTP GET.
 * @returns The open download; its body must be consumed or cancelled, then `close()` called.
 * @throws {TelemetryError} `usage`/`url_refused` for a refused URL or hop;
 * `transient` for network errors, timeouts, 408/425/429/5xx; `permanent` for
 * other statuses and too many redirects; `fatal` for a missing permission or
 * an untrusted certificate (see connect_error.ts).
 *
 * @example
 * ```ts ignore
 * import { openDownload } from "./http_download.ts";
 * const dl = await openDownload("https://telemetry-cdn.pubg.com/x.json", {
 *   policy: { allowHosts: ["telemetry-cdn.pubg.com"], allowHttp: false },
 * });
 * try {
 *   await dl.body.pipeTo(new WritableStream());
 * } finally {
 *   dl.close();
 * }
 * ```
 */
export async function openDownload(
  url: string,
  options: OpenDownloadOptions,
): Promise<OpenedDownload> {
  const {
    policy,
    timeouts = {},
    maxBytes = DEFAULT_MAX_BYTES,
    maxRedirects = 3,
    signal,
    httpGet = nodeHttpGet,
    headers = {},
    onBytes,
  } = options;
  const {
    headersMs = DEFAULT_TIMEOUTS.headersMs,
    idleMs = DEFAULT_TIMEOUTS.idleMs,
    attemptMs = DEFAULT_TIMEOUTS.attemptMs,
  } = timeouts;

  // The attempt ends on the first of: the caller's signal, the attempt
  // timeout, a timeout of our own (headers, idle) or close().
  const controller = new AbortController();
  const attemptTimeout = AbortSignal.timeout(attemptMs);
  const attempt = AbortSignal.any([
    controller.signal,
    attemptTimeout,
    ...(signal === undefined ? [] : [signal]),
  ]);
  function abortWith(reason: unknown) {
    if (!controller.signal.aborted) controller.abort(reason);
  }
  /** Why the attempt ended, as the error to throw. */
  function attemptError(): TelemetryError {
    if (controller.signal.aborted && controller.signal.reason instanceof TelemetryError) {
      return controller.signal.reason;
    }
    if (attemptTimeout.aborted) {
      return timeoutError(`download took longer than ${attemptMs / 1000} s`);
    }
    return abortedError(attempt.reason);
  }
  function close() {
    abortWith(abortedError());
  }

  try {
    let current = checkUrl(url, policy);
    for (let hop = 0;; hop++) {
      const host = current.host;
      const headersTimer = setTimeout(() => {
        abortWith(timeoutError(`no response headers from ${host} within ${headersMs / 1000} s`));
      }, headersMs);
      let response;
      try {
        response = await httpGet(current, {
          headers: { "accept-encoding": "gzip", "user-agent": "pewstats-telemetry", ...headers },
          signal: attempt,
        });
      } catch (err) {
        throw attempt.aborted ? attemptError() : connectError(current.host, err);
      } finally {
        clearTimeout(headersTimer);
      }
      const { status } = response;
      if (status >= 300 && status < 400 && response.headers["location"] !== undefined) {
        await response.body.cancel().catch(() => {});
        if (hop >= maxRedirects) {
          throw new TelemetryError(
            "permanent",
            "too_many_redirects",
            `more than ${maxRedirects} redirects, last from ${redactUrl(current)}`,
          );
        }
        current = checkRedirect(resolveLocation(response.headers["location"], current), {
          from: current,
          policy,
        });
        continue;
      }
      if (status < 200 || status > 299) {
        await response.body.cancel().catch(() => {});
        throw statusError(status, current, response.headers["retry-after"]);
      }
      const lengthHeader = response.headers["content-length"];
      const contentLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader)
        ? Number(lengthHeader)
        : undefined;
      if (contentLength !== undefined && contentLength > maxBytes) {
        await response.body.cancel().catch(() => {});
        throw tooLarge(maxBytes, current);
      }
      const body = guardBody(response.body, current, {
        idleMs,
        onIdle: abortWith,
        attemptError: () => attempt.aborted ? attemptError() : undefined,
        maxBytes,
        contentLength,
        ...(onBytes === undefined ? {} : { onBytes }),
      });
      return {
        url: current,
        contentLength,
        contentEncoding: (response.headers["content-encoding"] ?? "").toLowerCase(),
        lengthKnown: contentLength !== undefined ||
          /\bchunked\b/i.test(response.headers["transfer-encoding"] ?? ""),
        body,
        close,
      };
    }
  } catch (err) {
    close();
    throw err;
  }
}

/** Options of {@linkcode guardBody}. */
interface GuardBodyOptions {
  /** Longest wait for the next bytes from the network. */
  idleMs: number;
  /** Aborts the attempt with the timeout error. */
  onIdle: (reason: unknown) => void;
  /** The error that ended the attempt, once it has ended. */
  attemptError: () => TelemetryError | undefined;
  /** The size cap on received bytes. */
  maxBytes: number;
  /** The announced length, checked at the end. */
  contentLength: number | undefined;
  /** Progress callback. */
  onBytes?: (received: number, contentLength: number | undefined) => void;
}

/**
 * The one reader of a response body, applying every check of the transfer
 * as the bytes come in (one stage instead of one per check: this runs for
 * every chunk of every download):
 * - errors become transient TelemetryErrors (a reset connection is worth a
 *   retry; our own timeouts already are);
 * - the idle timeout runs only while a read from the socket is pending, not
 *   while our own pipeline (disk, validation) holds the body back;
 * - more than `maxBytes` is a permanent `too_large`;
 * - ending before `Content-Length`, or a connection closed in the middle of
 *   the body, is a transient `short_body`.
 */
function guardBody(
  body: ReadableStream<Uint8Array>,
  url: URL,
  options: GuardBodyOptions,
): ReadableStream<Uint8Array> {
  const { idleMs, onIdle, attemptError, maxBytes, contentLength, onBytes } = options;
  const reader = body.getReader();
  let received = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Cleared when the read settles, which an ended attempt makes happen at once.
      const timer = setTimeout(() => {
        onIdle(timeoutError(`no data from ${url.host} for ${idleMs / 1000} s`));
      }, idleMs);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        // The server answered: a read that fails now (and not because the
        // attempt ended) is a connection closed in the middle of the body.
        // Chunks still queued when the connection closed were received too.
        const arrived = err instanceof BodyCutError ? Math.max(received, err.received) : received;
        controller.error(
          err instanceof TelemetryError ? err : attemptError() ?? shortBody(url, arrived, {
            contentLength,
            cause: err,
          }),
        );
        return;
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) {
        if (contentLength !== undefined && received < contentLength) {
          controller.error(shortBody(url, received, { contentLength }));
        } else {
          controller.close();
        }
        return;
      }
      received += chunk.value.length;
      if (received > maxBytes) {
        controller.error(tooLarge(maxBytes, url));
        await reader.cancel().catch(() => {});
        return;
      }
      onBytes?.(received, contentLength);
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Applies the URL policy to a redirect's target; a refusal says that it was
 * a redirect, and from which URL (the target alone would read as the URL the
 * user gave).
 */
function checkRedirect(target: string, options: { from: URL; policy: UrlPolicy }): URL {
  try {
    return checkUrl(target, options.policy);
  } catch (err) {
    if (!(err instanceof TelemetryError) || err.code !== "url_refused") throw err;
    const why = err.message.replace(/^URL refused: /, "");
    throw new TelemetryError(
      err.kind,
      err.code,
      `redirect from ${redactUrl(options.from)} refused: ${why}`,
      { cause: err },
    );
  }
}

/**
 * The absolute form of a `Location` header; left as is when it cannot be
 * resolved, so that the policy check refuses it as an invalid URL.
 */
function resolveLocation(location: string, base: URL): string {
  try {
    return new URL(location, base).href;
  } catch {
    return location;
  }
}

function timeoutError(message: string): TelemetryError {
  return new TelemetryError("transient", "timeout", message);
}

function tooLarge(maxBytes: number, url: URL): TelemetryError {
  return new TelemetryError(
    "permanent",
    "too_large",
    `download from ${url.host} exceeds --max-bytes ${maxBytes}`,
  );
}

/**
 * A body that ended early: `connection closed after N of M bytes` (or `after
 * N bytes` when the server sent no Content-Length), transient.
 */
function shortBody(
  url: URL,
  received: number,
  options: { contentLength: number | undefined; cause?: unknown },
): TelemetryError {
  const { contentLength, cause } = options;
  const of = contentLength === undefined ? "" : ` of ${contentLength}`;
  return new TelemetryError(
    "transient",
    "short_body",
    `connection closed after ${received}${of} bytes from ${url.host}`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Maps an HTTP status to an error of the right kind.
 *
 * @param status The HTTP status (not 2xx).
 * @param url The URL that answered.
 * @param retryAfter The `Retry-After` header, if any.
 * @returns The error to throw.
 */
export function statusError(status: number, url: URL, retryAfter?: string): TelemetryError {
  const where = redactUrl(url);
  if (RETRIABLE_STATUS.has(status) || status >= 500) {
    const seconds = parseRetryAfter(retryAfter, Date.now());
    return new TelemetryError(
      "transient",
      "http_status",
      `HTTP ${status} from ${where}`,
      seconds === undefined ? {} : { retryAfterSeconds: seconds },
    );
  }
  const hint = status === 403
    ? " (the CDN answers 403 for telemetry older than 14 days)"
    : status === 404
    ? " (no telemetry at this URL)"
    : "";
  return new TelemetryError("permanent", "http_status", `HTTP ${status} from ${where}${hint}`);
}

/**
 * Parses `Retry-After`: delay seconds or an HTTP date.
 *
 * @param value The header value.
 * @param nowMs The current time, for dates.
 * @returns Seconds to wait (0 or more), or undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date starts with a day name; Date.parse alone takes "-5" or "1.5" for dates.
  if (!/^[A-Za-z]/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}
