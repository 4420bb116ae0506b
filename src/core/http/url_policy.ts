/**
 * Which URLs may be downloaded. A queue message is untrusted input, so its
 * URL must be https (unless allowed otherwise) and on an allowed host; every
 * redirect hop is checked again.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";

/** Hosts PUBG serves telemetry from. */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = [
  "telemetry-cdn.pubg.com",
  "telemetry-cdn.playbattlegrounds.com",
];

/** What URLs are acceptable. */
export interface UrlPolicy {
  /** Host names (exact, case-insensitive) that may be contacted. */
  allowHosts: readonly string[];
  /** Whether plain `http:` is allowed (tests on 127.0.0.1 use it). */
  allowHttp: boolean;
}

/**
 * Parses a URL and checks it against the policy.
 *
 * @param raw The URL as given (flag, message or `Location` header).
 * @param policy The allowed hosts and schemes.
 * @returns The parsed URL.
 * @throws {TelemetryError} kind `usage`, code `url_refused`, saying why.
 *
 * @example
 * ```ts
 * import { checkUrl, DEFAULT_ALLOWED_HOSTS } from "./url_policy.ts";
 * checkUrl("https://telemetry-cdn.pubg.com/x-telemetry.json", {
 *   allowHosts: DEFAULT_ALLOWED_HOSTS,
 *   allowHttp: false,
 * });
 * ```
 */
export function checkUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(`not a valid URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  const scheme = url.protocol;
  if (scheme !== "https:" && !(scheme === "http:" && policy.allowHttp)) {
    const hint = scheme === "http:" ? " (use --allow-http to permit plain http)" : "";
    throw refused(`URL refused: scheme ${scheme.slice(0, -1)} is not allowed${hint}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw refused(`URL refused: credentials in URLs are not allowed (host ${url.hostname})`);
  }
  const host = url.hostname.toLowerCase();
  const allowed = policy.allowHosts.some((h) => h.toLowerCase() === host);
  if (!allowed) {
    throw refused(
      `URL refused: host ${host} is not in the allow-list (${
        policy.allowHosts.join(", ")
      }); add it with --allow-host or TELEMETRY_ALLOWED_HOSTS`,
    );
  }
  return url;
}

/**
 * Renders a URL for logs: without query string and credentials, since signed
 * URLs carry their secret in the query.
 *
 * @param url The URL.
 * @returns `scheme://host/path`.
 */
export function redactUrl(url: URL | string): string {
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}${u.search === "" ? "" : "?…"}`;
  } catch {
    return "<invalid URL>";
  }
}

function refused(message: string): TelemetryError {
  return new TelemetryError("usage", "url_refused", message);
}
