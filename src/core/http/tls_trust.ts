/**
 * The certificate authorities the download client trusts, from the
 * environment, so that a mirror or proxy with a private CA works the way an
 * operator expects:
 * - `NODE_EXTRA_CA_CERTS`: honoured by the `node:https` client itself (the
 *   public roots plus the file). Reading the CA store this way needs the
 *   `--allow-sys` permission (see scripts/permissions.ts).
 * - `DENO_CERT`: honoured by Deno's own client (`fetch`, e.g. `status
 *   --metrics-url https://…`); `node:https` ignores it, so here it is added
 *   to the public roots and the `NODE_EXTRA_CA_CERTS` file.
 *
 * @module
 */

import tls from "node:tls";
import { TelemetryError } from "../errors.ts";
import { CA_HINT } from "./connect_error.ts";

/** Reads an environment variable. */
export type GetEnv = (name: string) => string | undefined;

/** TLS options for `https.get`: empty when the client's defaults do. */
export interface TrustOptions {
  /** The full list of trusted CAs (PEM), replacing the defaults. */
  ca?: string[];
}

/**
 * The TLS options of a download request for this environment.
 *
 * @param getEnv Reads a variable. @default {Deno.env.get}
 * @param readTextFile Reads a PEM file. @default {Deno.readTextFileSync}
 * @returns `{}` without `DENO_CERT` (node:https applies `NODE_EXTRA_CA_CERTS`
 * itself); else `ca`: the public roots, the `NODE_EXTRA_CA_CERTS` file and
 * the `DENO_CERT` file.
 * @throws {TelemetryError} `fatal`/`tls` when a named file cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustOptions } from "./tls_trust.ts";
 * assert.deepEqual(trustOptions(() => undefined), {});
 * ```
 */
export function trustOptions(
  getEnv: GetEnv = (name) => Deno.env.get(name),
  readTextFile: (path: string) => string = Deno.readTextFileSync,
): TrustOptions {
  const denoCert = nonEmpty(getEnv("DENO_CERT"));
  if (denoCert === undefined) return {};
  const files = [nonEmpty(getEnv("NODE_EXTRA_CA_CERTS")), denoCert]
    .filter((path): path is string => path !== undefined);
  const ca = [...tls.rootCertificates];
  for (const path of files) {
    const name = path === denoCert ? "DENO_CERT" : "NODE_EXTRA_CA_CERTS";
    try {
      ca.push(readTextFile(path));
    } catch (err) {
      const reason = err instanceof Error ? err.message.replace(/,? ?\(os error \d+\)/, "") : "";
      throw new TelemetryError(
        "fatal",
        "tls",
        `${name}=${path} cannot be read: ${reason}; ${CA_HINT}`,
        { cause: err },
      );
    }
  }
  return { ca };
}

let cached: TrustOptions | undefined;

/**
 * {@linkcode trustOptions} of this process, read once.
 *
 * @returns The TLS options of every download request.
 * @throws {TelemetryError} As {@linkcode trustOptions}.
 */
export function processTrustOptions(): TrustOptions {
  cached ??= trustOptions();
  return cached;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
