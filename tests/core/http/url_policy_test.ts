import assert from "node:assert/strict";
import { TelemetryError } from "../../../src/core/errors.ts";
import { checkUrl, DEFAULT_ALLOWED_HOSTS, redactUrl } from "../../../src/core/http/url_policy.ts";

const policy = { allowHosts: DEFAULT_ALLOWED_HOSTS, allowHttp: false };

function refusedWith(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof TelemetryError);
    assert.equal(err.kind, "usage");
    assert.equal(err.code, "url_refused");
    assert.match(err.message, pattern);
    return true;
  };
}

Deno.test("checkUrl() accepts both PUBG CDN hosts over https", () => {
  const url =
    "https://telemetry-cdn.pubg.com/bluehole-pubg/steam/2024/11/28/12/34/x-telemetry.json";
  assert.equal(checkUrl(url, policy).host, "telemetry-cdn.pubg.com");
  assert.equal(
    checkUrl("https://TELEMETRY-CDN.playbattlegrounds.com/a", policy).hostname,
    "telemetry-cdn.playbattlegrounds.com",
  );
});

Deno.test("checkUrl() refuses plain http unless allowed", () => {
  assert.throws(
    () => checkUrl("http://telemetry-cdn.pubg.com/a", policy),
    refusedWith(/--allow-http/),
  );
  assert.ok(checkUrl("http://telemetry-cdn.pubg.com/a", { ...policy, allowHttp: true }));
});

Deno.test("checkUrl() refuses other schemes even with allowHttp", () => {
  for (const url of ["file:///etc/passwd", "ftp://telemetry-cdn.pubg.com/a", "data:,x"]) {
    assert.throws(() => checkUrl(url, { ...policy, allowHttp: true }), refusedWith(/scheme/));
  }
});

Deno.test("checkUrl() refuses hosts outside the allow-list, naming the way to extend it", () => {
  assert.throws(
    () => checkUrl("https://evil.example/a", policy),
    refusedWith(/evil\.example.*--allow-host/),
  );
  assert.throws(
    () => checkUrl("https://telemetry-cdn.pubg.com.evil.example/a", policy),
    refusedWith(/not in the allow-list/),
  );
  assert.ok(
    checkUrl("https://mirror.local/a", {
      ...policy,
      allowHosts: [...DEFAULT_ALLOWED_HOSTS, "mirror.local"],
    }),
  );
});

Deno.test("checkUrl() refuses credentials and garbage", () => {
  assert.throws(
    () => checkUrl("https://u:p@telemetry-cdn.pubg.com/a", policy),
    refusedWith(/credentials/),
  );
  assert.throws(() => checkUrl("not a url", policy), refusedWith(/not a valid URL/));
});

Deno.test("redactUrl() drops the query string and credentials", () => {
  assert.equal(redactUrl("https://h.example/p/x.json?sig=SECRET"), "https://h.example/p/x.json?…");
  assert.equal(redactUrl("https://u:pw@h.example/p"), "https://h.example/p");
  assert.equal(redactUrl("::"), "<invalid URL>");
});
