import assert from "node:assert/strict";
import { connectError } from "../../../src/core/http/connect_error.ts";
import { TelemetryError } from "../../../src/core/errors.ts";

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("connectError() makes a missing permission fatal, without Deno's advice to add a flag", () => {
  const err = connectError(
    "cdn.example:443",
    new Deno.errors.NotCapable('Requires sys access to "ca", run again with the --allow-sys flag'),
  );
  assert.equal(err.kind, "fatal");
  assert.equal(err.code, "permission");
  assert.match(
    err.message,
    /^cannot connect to cdn\.example:443: the program lacks a permission \(sys access to "ca"\)/,
  );
  assert.doesNotMatch(err.message, /run again with/);
});

for (
  const [message, code] of [
    ["self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"],
    ["unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
    ["certificate has expired", "CERT_HAS_EXPIRED"],
    [
      "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ",
      "ERR_TLS_CERT_ALTNAME_INVALID",
    ],
    ["self-signed certificate in certificate chain", "SELF_SIGNED_CERT_IN_CHAIN"],
  ]
) {
  Deno.test(`connectError() makes ${code} a fatal tls error naming the host and how to trust a CA`, () => {
    const err = connectError("127.0.0.1:8443", withCode(message!, code!));
    assert.equal(err.kind, "fatal");
    assert.equal(err.code, "tls");
    assert.ok(
      err.message.startsWith(
        `TLS certificate of 127.0.0.1:8443 is not trusted: ${message} (${code})`,
      ),
    );
    assert.match(err.message, /NODE_EXTRA_CA_CERTS .*DENO_CERT/);
    assert.doesNotMatch(err.message, /cannot reach/);
  });
}

Deno.test("connectError() keeps a refused or reset connection transient", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND"]) {
    const err = connectError("127.0.0.1:9", withCode(`connect ${code} 127.0.0.1:9`, code));
    assert.equal(err.kind, "transient", code);
    assert.equal(err.code, "network");
    assert.match(err.message, /^cannot reach 127\.0\.0\.1:9: /);
  }
});

Deno.test("connectError() passes a TelemetryError through unchanged", () => {
  const original = new TelemetryError("fatal", "tls", "DENO_CERT=/x cannot be read");
  assert.equal(connectError("h", original), original);
});
