/**
 * What a failed connection to a download host means, as a
 * {@linkcode TelemetryError} a caller can act on:
 * - the runtime refused an operation for want of a permission (`NotCapable`):
 *   `fatal`/`permission`, since no retry can grant it;
 * - the server's TLS certificate is not trusted or names another host:
 *   `fatal`/`tls`, since it is the trust set-up (or the server), never the
 *   job, and it does not heal in seconds;
 * - anything else (refused, reset, DNS): `transient`/`network`.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";

/** The variables an operator sets to trust a private CA, named in the hints. */
export const CA_HINT =
  "to trust a private CA, point NODE_EXTRA_CA_CERTS (or DENO_CERT) at its PEM file";

/** Node's codes for certificate failures (a leading `ERR_TLS_CERT_` or one of these). */
const CERT_CODES =
  /^(ERR_TLS_CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)_|CERT_|INVALID_CA$|HOSTNAME_MISMATCH$|PATH_LENGTH_EXCEEDED$)/;

/**
 * Classifies the error of a connection attempt to `host`.
 *
 * @param host The `host[:port]` the request went to.
 * @param err What the HTTP client threw.
 * @returns The error to throw: `fatal` for a missing permission or an
 * untrusted certificate, else `transient` (`network`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectError } from "./connect_error.ts";
 * const err = Object.assign(new Error("self-signed certificate"), {
 *   code: "DEPTH_ZERO_SELF_SIGNED_CERT",
 * });
 * assert.equal(connectError("cdn.example:443", err).code, "tls");
 * ```
 */
export function connectError(host: string, err: unknown): TelemetryError {
  if (err instanceof TelemetryError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  if (isPermissionError(err)) {
    return new TelemetryError(
      "fatal",
      "permission",
      `cannot connect to ${host}: the program lacks a permission (${permissionReason(reason)}); ` +
        `run it with the permissions of scripts/permissions.ts (deno task telemetry, or the compiled binary)`,
      { cause: err },
    );
  }
  const code = codeOf(err);
  if ((code !== undefined && CERT_CODES.test(code)) || /certificate/i.test(reason)) {
    return new TelemetryError(
      "fatal",
      "tls",
      `TLS certificate of ${host} is not trusted: ${reason}${
        code === undefined ? "" : ` (${code})`
      }; ` +
        CA_HINT,
      { cause: err },
    );
  }
  return new TelemetryError("transient", "network", `cannot reach ${host}: ${reason}`, {
    cause: err,
  });
}

function isPermissionError(err: unknown): boolean {
  return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied &&
      /Requires .* access/.test(err.message);
}

/** `Requires sys access to "ca", run again with …` → `sys access to "ca"`: Deno's advice names flags the CLI does not have. */
function permissionReason(message: string): string {
  const match = /Requires (.+? access(?: to "[^"]*")?)/.exec(message);
  return match === null ? message : match[1]!;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
