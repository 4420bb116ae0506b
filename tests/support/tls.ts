/**
 * The test CA and certificates of the loopback HTTPS servers
 * (`tests/fixtures/tls/`), and the environments a CLI child gets to trust
 * them, or not.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL("../fixtures/tls/", import.meta.url));

/** The test CA's certificate (PEM file path). */
export const TEST_CA_PATH: string = `${DIR}ca.pem`;

/** What `Deno.serve` takes to serve HTTPS. */
export interface ServeTls {
  /** The certificate chain (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
}

/**
 * A certificate signed by the test CA.
 *
 * @param name `leaf` (valid for 127.0.0.1 and localhost) or `wrong_name`
 * (valid only for wrong.example).
 * @returns Certificate and key for `Deno.serve`.
 */
export function serveTls(name: "leaf" | "wrong_name" = "leaf"): ServeTls {
  return {
    cert: Deno.readTextFileSync(`${DIR}${name}.pem`),
    key: Deno.readTextFileSync(`${DIR}${name}.key`),
  };
}

/**
 * The machine's CA bundle, which these machines name in `NODE_EXTRA_CA_CERTS`
 * (a CI and a developer machine alike): it does not hold the test CA.
 */
export const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * CA environments of a CLI child: each names how the test CA is trusted (or
 * not), with both CA variables set or removed (`undefined`), so the tests do
 * not depend on what the machine sets.
 */
export const CA_ENVS = {
  /** The operator's way for node:https: the test CA in NODE_EXTRA_CA_CERTS. */
  nodeExtra: { NODE_EXTRA_CA_CERTS: TEST_CA_PATH, DENO_CERT: undefined },
  /** Deno's way: DENO_CERT, with NODE_EXTRA_CA_CERTS unset. */
  denoCert: { NODE_EXTRA_CA_CERTS: undefined, DENO_CERT: TEST_CA_PATH },
  /** As on these machines (the system bundle in NODE_EXTRA_CA_CERTS), plus the test CA in DENO_CERT. */
  machinePlusDenoCert: { NODE_EXTRA_CA_CERTS: SYSTEM_BUNDLE, DENO_CERT: TEST_CA_PATH },
  /** As on these machines, the test CA not trusted. */
  machineUntrusted: { NODE_EXTRA_CA_CERTS: SYSTEM_BUNDLE, DENO_CERT: undefined },
  /** No CA variable at all, the test CA not trusted. */
  noneUntrusted: { NODE_EXTRA_CA_CERTS: undefined, DENO_CERT: undefined },
} as const satisfies Record<string, Record<string, string | undefined>>;
