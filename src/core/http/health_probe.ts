/**
 * Asking a running worker how it is: one GET of its `/healthz` (served by
 * `telemetry consume --metrics-port`), bounded in time, for `telemetry
 * status --metrics-url`. The answer is a value, never an exception.
 *
 * @module
 */

import { errorLine, TelemetryError } from "../errors.ts";
import { redactUrl } from "./url_policy.ts";

/** Default of {@linkcode HealthProbeOptions.timeoutMs}. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;

/** What `--metrics-url` should look like, for its usage errors. */
const EXPECTED_METRICS_URL = "expected http://HOST:PORT (e.g. http://127.0.0.1:9092)";

/** Longest body kept from the answer. */
const MAX_BODY_CHARS = 200;

/** Options of {@linkcode probeHealth}. */
export interface HealthProbeOptions {
  /** How long the request may take, all told. @default {DEFAULT_HEALTH_TIMEOUT_MS} */
  timeoutMs?: number;
  /** The fetch to use (tests). @default {globalThis.fetch} */
  fetch?: typeof fetch;
}

/** What `/healthz` answered. */
export interface HealthAnswer {
  /** The URL asked, without its credentials (see `redactUrl`): it is shown and logged. */
  url: string;
  /** The HTTP status, or null when there was no answer. */
  status: number | null;
  /** The first line of the body (at most 200 characters), or null. */
  body: string | null;
  /** Why there was no answer (`connection refused`, `no answer within 5 s`, a DNS error). */
  error?: string;
}

/**
 * The `/healthz` URL of a worker given its metrics address: `/healthz` is
 * appended to a base URL (`http://host:9092` or `http://host:9092/prefix`),
 * and replaces a trailing `/metrics`; a URL ending in `/healthz` is kept.
 *
 * @param metricsUrl The worker's metrics address, `http:` or `https:`.
 * @returns The `/healthz` URL.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when it is not an
 * http(s) URL (`localhost:9092`, say); the message shows the expected form
 * and never the credentials of the value.
 *
 * @example
 * ```ts
 * import { healthzUrl } from "./health_probe.ts";
 * if (healthzUrl("http://localhost:9092") !== "http://localhost:9092/healthz") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function healthzUrl(metricsUrl: string): string {
  let url: URL | undefined;
  try {
    url = new URL(metricsUrl);
  } catch {
    url = undefined;
  }
  const http = url?.protocol === "http:" || url?.protocol === "https:";
  if (url === undefined || (!http && !metricsUrl.includes("://"))) {
    // `localhost:9092` parses as a URL of scheme `localhost:`: it is a host and port.
    // A value with credentials in it is not repeated.
    const shown = metricsUrl.includes("@")
      ? ""
      : ` ${/^[\x21-\x7e]+$/.test(metricsUrl) ? metricsUrl : JSON.stringify(metricsUrl)}`;
    throw usage(`--metrics-url${shown} is not a URL: ${EXPECTED_METRICS_URL}`);
  }
  if (!http) {
    throw usage(`--metrics-url ${redactUrl(url)} is not an http(s) URL: ${EXPECTED_METRICS_URL}`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/healthz")) {
    url.pathname = `${path.replace(/\/metrics$/, "")}/healthz`;
  }
  url.search = "";
  url.hash = "";
  return url.href;
}

/**
 * GETs a `/healthz` URL.
 *
 * @param url The URL (see {@linkcode healthzUrl}).
 * @param options Deadline and fetch.
 * @returns The status and the first line of the body, or why there was no
 * answer; its `url` is shown without credentials.
 *
 * @example
 * ```ts ignore
 * import { probeHealth } from "./health_probe.ts";
 * const answer = await probeHealth("http://localhost:9092/healthz");
 * console.log(answer.status, answer.body ?? answer.error);
 * ```
 */
export async function probeHealth(
  url: string,
  options: HealthProbeOptions = {},
): Promise<HealthAnswer> {
  const { timeoutMs = DEFAULT_HEALTH_TIMEOUT_MS, fetch: doFetch = fetch } = options;
  const signal = AbortSignal.timeout(timeoutMs);
  const shown = redactUrl(url);
  try {
    const response = await doFetch(url, { signal, redirect: "manual" });
    const text = await response.text();
    const line = text.split("\n", 1)[0]?.trim() ?? "";
    return { url: shown, status: response.status, body: line.slice(0, MAX_BODY_CHARS) };
  } catch (err) {
    const error = signal.aborted ? `no answer within ${timeoutMs / 1000} s` : failureReason(err);
    return { url: shown, status: null, body: null, error };
  }
}

/**
 * Why a request got no answer, from the innermost error of its `cause`
 * chain: fetch itself only says `fetch failed`. A refused connection (the
 * worker is not running, or listens elsewhere) reads `connection refused`.
 */
function failureReason(err: unknown): string {
  let innermost = err;
  for (let e = err, depth = 0; e !== undefined && depth < 8; depth++) {
    if (isConnectionRefused(e)) return "connection refused";
    innermost = e;
    e = e instanceof Error ? e.cause : undefined;
  }
  // "error sending request for url (…): client error (Connect): dns error: …": the URL is shown already.
  const reason = errorLine(innermost).replace(/^error sending request for url \(.*?\): /, "");
  return reason || errorLine(err) || "request failed";
}

function isConnectionRefused(err: unknown): boolean {
  if (err instanceof Deno.errors.ConnectionRefused) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  return code === "ECONNREFUSED" || /\bconnection refused\b/i.test(err.message);
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
