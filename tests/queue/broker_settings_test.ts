import assert from "node:assert/strict";
import { TelemetryError } from "../../src/core/errors.ts";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
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
