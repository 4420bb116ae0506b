import assert from "node:assert/strict";
import { TelemetryError } from "../../../src/core/errors.ts";
import {
  checkUrl,
  DEFAULT_ALLOWED_HOSTS,
  parseAllowedHost,
  redactUrl,
} from "../../../src/core/http/url_policy.ts";

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

Deno.test("checkUrl() lets a bare host in only on the scheme's default port", () => {
  const mirror = { allowHosts: [...DEFAULT_ALLOWED_HOSTS, "mirror.local"], allowHttp: true };
  assert.ok(checkUrl("https://mirror.local/a", mirror));
  assert.ok(checkUrl("https://mirror.local:443/a", mirror));
  assert.ok(checkUrl("http://mirror.local/a", mirror));
  for (const url of ["https://mirror.local:8443/a", "http://mirror.local:8080/a"]) {
    assert.throws(
      () => checkUrl(url, mirror),
      refusedWith(/port \d+ of host mirror\.local is not allowed.*--allow-host mirror\.local:\d+/),
    );
  }
  assert.throws(
    () => checkUrl("https://telemetry-cdn.pubg.com:8443/a", policy),
    refusedWith(/port 8443/),
  );
});

Deno.test("checkUrl() lets host:port in on that port only", () => {
  const local = {
    allowHosts: ["127.0.0.1:8765", "[::1]:9000", "cdn.example:443"],
    allowHttp: true,
  };
  assert.ok(checkUrl("http://127.0.0.1:8765/a", local));
  assert.ok(checkUrl("http://[::1]:9000/a", local));
  assert.ok(checkUrl("https://cdn.example/a", local), "host:443 is the https default");
  for (const url of ["http://127.0.0.1/a", "http://127.0.0.1:8766/a", "https://127.0.0.1/a"]) {
    assert.throws(() => checkUrl(url, local), refusedWith(/port \d+ of host 127\.0\.0\.1/));
  }
  assert.throws(() => checkUrl("http://cdn.example/a", local), refusedWith(/port 80/));
});

Deno.test("parseAllowedHost() takes host or host:port and normalizes it", () => {
  assert.equal(parseAllowedHost("Mirror.Example"), "mirror.example");
  assert.equal(parseAllowedHost(" 127.0.0.1:8080 "), "127.0.0.1:8080");
  assert.equal(parseAllowedHost("[::1]:9000"), "[::1]:9000");
  assert.equal(parseAllowedHost("[::1]"), "[::1]");
  assert.equal(parseAllowedHost("cdn.example:0443"), "cdn.example:443");
});

Deno.test("parseAllowedHost() refuses a scheme, a path, credentials, an empty value or a bad port", () => {
  const cases: [string, RegExp][] = [
    ["http://127.0.0.1", /has a scheme/],
    ["127.0.0.1/telemetry", /has a path/],
    ["", /is empty/],
    ["  ", /is empty/],
    ["user@host", /has credentials/],
    ["host:0", /port/],
    ["host:65536", /port/],
    ["host:", /not a host or host:port/],
    [":8080", /not a host or host:port/],
    ["a b", /not a host or host:port/],
  ];
  for (const [value, reason] of cases) {
    assert.throws(() => parseAllowedHost(value), (err: unknown) => {
      assert.ok(err instanceof TelemetryError, String(err));
      assert.equal(err.kind, "usage");
      assert.equal(err.code, "bad_option");
      assert.match(err.message, reason, value);
      assert.match(
        err.message,
        /expected host or host:port, such as cdn\.example\.com or 127\.0\.0\.1:8080/,
      );
      return true;
    }, value);
  }
});
