import assert from "node:assert/strict";
import tls from "node:tls";
import { trustOptions } from "../../../src/core/http/tls_trust.ts";
import { TelemetryError } from "../../../src/core/errors.ts";

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

Deno.test("trustOptions() leaves the client's defaults alone without DENO_CERT", () => {
  assert.deepEqual(trustOptions(envOf({})), {});
  // NODE_EXTRA_CA_CERTS alone: node:https applies it itself.
  assert.deepEqual(trustOptions(envOf({ NODE_EXTRA_CA_CERTS: "/ca.pem" })), {});
  assert.deepEqual(trustOptions(envOf({ DENO_CERT: " " })), {});
});

Deno.test("trustOptions() with DENO_CERT trusts the public roots, NODE_EXTRA_CA_CERTS and DENO_CERT", () => {
  const files: Record<string, string> = { "/extra.pem": "EXTRA", "/deno.pem": "DENO" };
  const options = trustOptions(
    envOf({ NODE_EXTRA_CA_CERTS: "/extra.pem", DENO_CERT: "/deno.pem" }),
    (path) => files[path]!,
  );
  assert.deepEqual(options.ca?.slice(-2), ["EXTRA", "DENO"]);
  assert.equal(options.ca?.length, tls.rootCertificates.length + 2);
});

Deno.test("trustOptions() says which variable names a file it cannot read", () => {
  assert.throws(
    () =>
      trustOptions(envOf({ DENO_CERT: "/missing.pem" }), () => {
        throw new Deno.errors.NotFound("No such file or directory (os error 2)");
      }),
    (err: unknown) => {
      assert.ok(err instanceof TelemetryError);
      assert.equal(err.kind, "fatal");
      assert.equal(err.code, "tls");
      assert.equal(
        err.message.split(";")[0],
        "DENO_CERT=/missing.pem cannot be read: No such file or directory",
      );
      return true;
    },
  );
});
