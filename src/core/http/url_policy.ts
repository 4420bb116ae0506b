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
  /**
   * Hosts that may be contacted (exact, case-insensitive), each `host` or
   * `host:port` (see {@linkcode parseAllowedHost}): a bare host allows only
   * the scheme's default port (443 for https, 80 for http), `host:port`
   * only that port.
   */
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
  // The URL parser drops a port that is the scheme's default: "" means 443 or 80.
  const port = url.port === "" ? undefined : Number(url.port);
  const entries = policy.allowHosts.map(splitAllowedHost);
  const sameHost = entries.filter((entry) => entry.host === host);
  if (sameHost.length === 0) {
    throw refused(
      `URL refused: host ${host} is not in the allow-list (${
        policy.allowHosts.join(", ")
      }); add it with --allow-host or TELEMETRY_ALLOWED_HOSTS`,
    );
  }
  const defaultPort = scheme === "https:" ? 443 : 80;
  if (!sameHost.some((entry) => (entry.port ?? defaultPort) === (port ?? defaultPort))) {
    const shown = port ?? defaultPort;
    throw refused(
      `URL refused: port ${shown} of host ${host} is not allowed (a bare host allows only ` +
        `port ${defaultPort} for ${
          scheme.slice(0, -1)
        }); add it with --allow-host ${host}:${shown}`,
    );
  }
  return url;
}

/**
 * Checks and normalizes one allow-list entry, as given to `--allow-host` or
 * `TELEMETRY_ALLOWED_HOSTS`: a host name or IP address, optionally with a
 * port (`cdn.example.com`, `127.0.0.1:8080`, `[::1]:8080`). Nothing else: no
 * scheme, path, credentials or empty value.
 *
 * @param value The entry as given.
 * @returns The entry lower-cased, as `host` or `host:port`.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, saying what a valid entry looks like.
 *
 * @example
 * ```ts
 * import { parseAllowedHost } from "./url_policy.ts";
 * if (parseAllowedHost("Mirror.Example:8080") !== "mirror.example:8080") throw new Error();
 * ```
 */
export function parseAllowedHost(value: string): string {
  const text = value.trim();
  const why = text === ""
    ? "it is empty"
    : text.includes("://")
    ? "it has a scheme"
    : /[/?#]/.test(text)
    ? "it has a path"
    : text.includes("@")
    ? "it has credentials"
    : undefined;
  const match = why === undefined ? HOST_ENTRY.exec(text) : null;
  const host = match === null ? undefined : normalizeHost(match[1]!);
  const port = match?.[2];
  const badPort = port !== undefined && (Number(port) < 1 || Number(port) > 65535);
  if (host === undefined || badPort) {
    const reason = why ??
      (badPort ? "the port is not from 1 to 65535" : "it is not a host or host:port");
    throw new TelemetryError(
      "usage",
      "bad_option",
      `invalid allowed host ${JSON.stringify(value.slice(0, 200))} (${reason}): expected ` +
        `host or host:port, such as cdn.example.com or 127.0.0.1:8080`,
    );
  }
  return port === undefined ? host : `${host}:${Number(port)}`;
}

/** `host` or `host:port`, the host a name, an IPv4 address or a bracketed IPv6 address. */
const HOST_ENTRY = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/;

/** The host as the URL parser spells it (lower case, punycode), or undefined when it is none. */
function normalizeHost(host: string): string | undefined {
  try {
    const url = new URL(`http://${host}/`);
    return url.hostname === "" ? undefined : url.hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** An allow-list entry split into its host and, when it names one, its port. */
function splitAllowedHost(entry: string): { host: string; port: number | undefined } {
  const match = HOST_ENTRY.exec(entry.trim());
  if (match === null) return { host: entry.trim().toLowerCase(), port: undefined };
  const host = normalizeHost(match[1]!) ?? match[1]!.toLowerCase();
  return { host, port: match[2] === undefined ? undefined : Number(match[2]) };
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
