/**
 * Asking a running worker how it is: one GET of its `/healthz` (served by
 * `telemetry consume --metrics-port`), bounded in time, for `telemetry
 * status --metrics-url`. The answer is a value, never an exception.
 *
 * @module
 */

import { errorLine, TelemetryError } from "../errors.ts";

/** Default of {@linkcode HealthProbeOptions.timeoutMs}. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;

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
  /** The URL asked. */
  url: string;
  /** The HTTP status, or null when there was no answer. */
  status: number | null;
  /** The first line of the body (at most 200 characters), or null. */
  body: string | null;
  /** Why there was no answer (connection refused, timeout). */
  error?: string;
}

/**
 * The `/healthz` URL of a worker given its metrics address: `/healthz` is
 * appended to a base URL (`http://host:9092` or `http://host:9092/prefix`),
 * and replaces a trailing `/metrics`; a URL ending in `/healthz` is kept.
 *
 * @param metricsUrl The worker's metrics address, `http:` or `https:`.
 * @returns The `/healthz` URL.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when it is not an http(s) URL.
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
  let url: URL;
  try {
    url = new URL(metricsUrl);
  } catch {
    throw usage(`invalid --metrics-url ${JSON.stringify(metricsUrl)}: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw usage(`invalid --metrics-url: scheme ${url.protocol} is not http: or https:`);
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
 * @returns The status and the first line of the body, or the error.
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
  try {
    const response = await doFetch(url, { signal, redirect: "manual" });
    const text = await response.text();
    const line = text.split("\n", 1)[0]?.trim() ?? "";
    return { url, status: response.status, body: line.slice(0, MAX_BODY_CHARS) };
  } catch (err) {
    const error = signal.aborted
      ? `no answer within ${timeoutMs / 1000} s`
      : errorLine(err) || "request failed";
    return { url, status: null, body: null, error };
  }
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
