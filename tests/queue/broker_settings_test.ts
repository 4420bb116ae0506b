import assert from "node:assert/strict";
import { TelemetryError } from "../../src/core/errors.ts";
import {
  redactAmqpUrl,
  redactSecrets,
  resolveBrokerSettings,
} from "../../src/queue/broker_settings.ts";
import { runCli } from "../support/cli.ts";

const BASE = "amqp://guest:s3cret@127.0.0.1:5672/";

function resolveUrl(query: string) {
  return resolveBrokerSettings({ env: "prod", amqpUrl: `${BASE}?${query}` }, {});
}

function assertRefused(query: string, pattern: RegExp) {
  assert.throws(
    () => resolveUrl(query),
    (err) => {
      assert.ok(err instanceof TelemetryError, String(err));
      assert.equal(err.kind, "usage");
      assert.equal(err.code, "bad_option");
      assert.match(err.message, pattern);
      assert.doesNotMatch(err.message, /s3cret|\n/);
      return true;
    },
    query,
  );
}

Deno.test("resolveBrokerSettings() refuses a heartbeat that is not an integer from 0 to 65535", () => {
  const allowed = /from 0 to 65535 \(seconds; 0 turns heartbeats off\)/;
  assertRefused("heartbeat=abc", /^invalid --amqp-url \/ RABBITMQ_URL: heartbeat "abc" .*from 0/);
  for (const value of ["", "-1", "1.5", "10s", "65536", "1e3"]) {
    assertRefused(`heartbeat=${value}`, new RegExp(`heartbeat "${value}" .*${allowed.source}`));
  }
});

Deno.test("resolveBrokerSettings() refuses a frameMax below the client's 8192 or past 32 bits", () => {
  for (const value of ["100", "4096", "8191", "0", "big", "4294967296"]) {
    assertRefused(`frameMax=${value}`, new RegExp(`frameMax "${value}" .*from 8192 to 4294967295`));
  }
});

Deno.test("resolveBrokerSettings() refuses a channelMax that is not an integer from 0 to 65535", () => {
  assertRefused("channelMax=-1", /channelMax "-1" .*from 0 to 65535/);
  assertRefused("channelMax=65536", /channelMax "65536" .*from 0 to 65535/);
});

Deno.test("resolveBrokerSettings() keeps the query options it accepts, at their bounds", () => {
  assert.equal(
    resolveUrl("heartbeat=0&frameMax=8192&channelMax=0").amqpUrl,
    `${BASE}?heartbeat=0&frameMax=8192&channelMax=0`,
  );
  assert.equal(
    resolveUrl("heartbeat=65535&frameMax=4294967295&channelMax=65535").amqpUrl,
    `${BASE}?heartbeat=65535&frameMax=4294967295&channelMax=65535`,
  );
  assert.equal(
    resolveUrl("name=worker").amqpUrl,
    `${BASE}?name=worker&heartbeat=30&frameMax=131072`,
  );
});

Deno.test("resolveBrokerSettings() checks RABBITMQ_URL's query options too", () => {
  assert.throws(
    () => resolveBrokerSettings({ env: "prod" }, { RABBITMQ_URL: `${BASE}?frameMax=100` }),
    /RABBITMQ_URL: frameMax "100"/,
  );
});

Deno.test("resolveBrokerSettings() errors end every broker command with one line and exit 2", async () => {
  const commands = [
    ["consume"],
    ["status"],
    ["dlq", "list"],
    ["dlq", "export", "-o", "-"],
    ["enqueue", "https://telemetry-cdn.pubg.com/a/b-telemetry.json", "--match-id", "abc"],
    ["announce", "--match-id", "abc"],
  ];
  const cases: [string, RegExp][] = [
    ["heartbeat=abc", /heartbeat "abc" is not allowed: expected an integer from 0 to 65535/],
    ["frameMax=100", /frameMax "100" is not allowed: expected an integer from 8192/],
  ];
  for (const [query, pattern] of cases) {
    for (const args of commands) {
      const what = `${args.join(" ")} ?${query}`;
      const [stdout, stderr, code] = await runCli([
        ...args,
        "--env",
        "prod",
        "--amqp-url",
        `${BASE}?${query}`,
      ]);
      assert.equal(code, 2, `${what}: ${stderr}`);
      assert.equal(stdout, "", what);
      const first = stderr.split("\n")[0] ?? "";
      assert.match(first, /^error: invalid --amqp-url \/ RABBITMQ_URL: /, what);
      assert.match(first, pattern, what);
      assert.doesNotMatch(stderr, /s3cret/, what);
      assert.doesNotMatch(stderr, /RangeError|\n\s+at /, `${what}: no stack trace`);
    }
  }
});

const A = "amqp://spy:pw-alpha@10.0.0.1:5672/";
const B = "amqp://spy:pw-bravo@10.0.0.2:5672/";
const C = "amqp://spy:pw-charlie@10.0.0.3:5672/";
const DEFAULTS = "?heartbeat=30&frameMax=131072";

Deno.test("resolveBrokerSettings() keeps every --amqp-url given, in order, and splits comma lists", () => {
  const broker = resolveBrokerSettings({ env: "prod", amqpUrl: [A, `${B}, ${C}`] }, {});
  assert.deepEqual(broker.urls.map((u) => u.url), [A, B, C].map((u) => `${u}${DEFAULTS}`));
  assert.deepEqual(
    broker.urls.map((u) => u.redacted),
    [A, B, C].map((u) => `${u.replace(/:pw-\w+@/, ":***@")}${DEFAULTS}`),
  );
  // The first URL stays where the single-URL code reads it.
  assert.equal(broker.amqpUrl, `${A}${DEFAULTS}`);
  assert.equal(broker.redactedUrl, `amqp://spy:***@10.0.0.1:5672/${DEFAULTS}`);
  assert.equal(resolveBrokerSettings({ env: "prod", amqpUrl: `${A},${B}` }, {}).urls.length, 2);
});

Deno.test("resolveBrokerSettings() splits a comma-separated RABBITMQ_URL, and a flag overrides it", () => {
  const vars = { RABBITMQ_URL: `${A},${B}` };
  const fromEnv = resolveBrokerSettings({ env: "prod" }, vars);
  assert.deepEqual(fromEnv.urls.map((u) => u.url), [`${A}${DEFAULTS}`, `${B}${DEFAULTS}`]);
  const fromFlag = resolveBrokerSettings({ env: "prod", amqpUrl: [C] }, vars);
  assert.deepEqual(fromFlag.urls.map((u) => u.url), [`${C}${DEFAULTS}`]);
  // An empty flag list (commander's when the flag is absent) falls back like undefined.
  assert.equal(resolveBrokerSettings({ env: "prod", amqpUrl: [] }, vars).urls.length, 2);
});

Deno.test("resolveBrokerSettings() drops blank entries and repeats, and adds the defaults to each URL", () => {
  const broker = resolveBrokerSettings(
    { env: "prod", amqpUrl: [`${A},`, ` ${A}`, `${B}?heartbeat=5`] },
    {},
  );
  assert.deepEqual(broker.urls.map((u) => u.url), [
    `${A}${DEFAULTS}`,
    `${B}?heartbeat=5&frameMax=131072`,
  ]);
  // Only blanks: the URL built from the RABBITMQ_* parts, as with no flag.
  assert.deepEqual(
    resolveBrokerSettings({ env: "prod", amqpUrl: [" , "] }, { RABBITMQ_HOST: "mq" }).urls
      .map((u) => u.url),
    [`amqp://guest:guest@mq:5672/%2F${DEFAULTS}`],
  );
});

Deno.test("resolveBrokerSettings() names the bad URL of a list by position, never by its text", () => {
  for (
    const [given, pattern] of [
      [[A, "amqp://spy:pw-bravo@h/?frameMax=100"], /frameMax "100" .* \(URL 2 of 2\)$/],
      [`${A},http://spy:pw-bravo@h/`, /scheme http: is not amqp: or amqps: \(URL 2 of 2\)$/],
      [[`${A},${B}`, "pw-bravo"], /not a URL .*\(URL 3 of 3\)$/],
    ] as const
  ) {
    assert.throws(
      () => resolveBrokerSettings({ env: "prod", amqpUrl: given as string | string[] }, {}),
      (err) => {
        assert.ok(err instanceof TelemetryError, String(err));
        assert.equal(err.kind, "usage");
        assert.match(err.message, /^invalid --amqp-url \/ RABBITMQ_URL: /);
        assert.match(err.message, pattern);
        assert.doesNotMatch(err.message, /pw-alpha|pw-bravo/);
        return true;
      },
    );
  }
});

Deno.test("redactSecrets() masks the password of any URL in a text and every listed password", () => {
  const urls = resolveBrokerSettings({ env: "prod", amqpUrl: [A, B] }, {}).urls;
  // What RabbitMQ answered when a list was taken for one URL (its vhost repeats the second).
  assert.equal(
    redactSecrets("vhost ,amqp://spy:pw-bravo@127.0.0.1:25673/ not found (530)", urls),
    "vhost ,amqp://spy:***@127.0.0.1:25673/ not found (530)",
  );
  assert.equal(
    redactSecrets("auth failed for pw-alpha, then amqps://u:p%40ss@h/ and x://:y@z", urls),
    "auth failed for ***, then amqps://u:***@h/ and x://:***@z",
  );
  // A URL without a password, and ports, stay readable.
  assert.equal(
    redactSecrets("amqp://h:5672/x at 127.0.0.1:5672"),
    "amqp://h:5672/x at 127.0.0.1:5672",
  );
  // guest:guest: the user name is not masked for being the password too.
  assert.equal(
    redactSecrets("user guest at amqp://guest:guest@h/", ["amqp://guest:guest@h/"]),
    "user guest at amqp://guest:***@h/",
  );
  // A percent-encoded password is masked in both forms.
  assert.equal(
    redactSecrets("p@ss-word and p%40ss-word", ["amqp://u:p%40ss-word@h/"]),
    "*** and ***",
  );
});

Deno.test("redactAmqpUrl() masks a second URL carried inside the first", () => {
  assert.equal(
    redactAmqpUrl("amqp://spy:pw-alpha@h1/,amqp://spy:pw-bravo@h2/"),
    "amqp://spy:***@h1/,amqp://spy:***@h2/",
  );
});

Deno.test("--amqp-url is repeatable and comma-separated for every broker command: both nodes named, no password", async () => {
  const dead = ["amqp://spy:pw-alpha@127.0.0.1:1/", "amqp://spy:pw-bravo@127.0.0.1:2/"];
  for (
    const urlArgs of [
      ["--amqp-url", dead[0]!, "--amqp-url", dead[1]!],
      ["--amqp-url", dead.join(",")],
    ]
  ) {
    const [stdout, stderr, code] = await runCli(
      ["status", "--env", "prod", "--no-store", "--timeout", "5", ...urlArgs],
      { env: { RABBITMQ_URL: undefined } },
    );
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /^unhealthy: cannot reach any of the 2 broker nodes: amqp:\/\/spy:\*\*\*@127\.0\.0\.1:1\/\S* unreachable: .*; amqp:\/\/spy:\*\*\*@127\.0\.0\.1:2\/\S* unreachable: /m,
    );
    assert.doesNotMatch(stdout + stderr, /pw-alpha|pw-bravo/);
  }
});
