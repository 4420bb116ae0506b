/**
 * End-to-end tests of `telemetry announce`: `main.ts` runs in a child
 * process with exactly the CLI's permissions, against the real test broker.
 * (A broker that stops mid-run: `tests/queue/announce_test.ts`.)
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../support/cli.ts";
import { gzip, telemetryJson, writeMatch } from "../verify/fixtures.ts";
import { randomEnv, type TestBroker } from "../queue/harness.ts";
import { brokerChildEnv, jsonLines, takeJson, withBroker } from "../queue/operator_support.ts";

/** A store with two ok matches, a double gzip and a truncated file; runs `fn`; cleans up. */
async function withStore(
  fn: (context: { env: string; broker: TestBroker; dataDir: string }) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir();
  try {
    await withBroker(async (broker, env) => {
      await writeMatch(dataDir, "ok-1", gzip(telemetryJson("ok-1", 200)));
      await writeMatch(dataDir, "ok-2", gzip(telemetryJson("ok-2", 200)));
      await writeMatch(dataDir, "dbl", gzip(telemetryJson("dbl", 200), 2));
      const whole = gzip(telemetryJson("cut", 400));
      await writeMatch(dataDir, "cut", whole.subarray(0, whole.length - 100));
      await fn({ env, broker, dataDir });
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("telemetry announce DATA_DIR announces the ok files, lists the others and exits 1", async () => {
  await withStore(async ({ env, broker, dataDir }) => {
    const [stdout, stderr, code] = await runCli(
      ["announce", "--env", env, dataDir, "--worker-id", "ops"],
      { env: await brokerChildEnv() },
    );
    assert.equal(code, 1, stderr);
    assert.equal(stderr, "");
    const lines = stdout.trim().split("\n");
    assert.deepEqual(
      lines.slice(0, 2).sort(),
      [
        `double_gzip   ${
          join(dataDir, "matchID=dbl", "raw.json.gz")
        }: gzip inside gzip: 2 gzip layers (201 events)`,
        expect(lines, /^truncated {5}/),
      ].sort(),
    );
    assert.match(
      lines[2]!,
      new RegExp(
        `^announced 2 to match\\.processing\\.telemetry\\.${env}; not announced 2 \\(.*double_gzip 1.*\\) \\(`,
      ),
    );
    const taken = await takeJson(broker, broker.names.publishQueue);
    assert.deepEqual(taken.map((t) => t.body.match_id).sort(), ["ok-1", "ok-2"]);
    assert.equal(taken[0]?.body.worker_id, "ops");
    assert.equal(taken[0]?.body.environment, env);
  });
});

/** The line matching `pattern` (fails when there is none). */
function expect(lines: string[], pattern: RegExp): string {
  const line = lines.find((l) => pattern.test(l));
  assert.ok(line !== undefined, `no line matches ${pattern}: ${lines.join("\n")}`);
  return line;
}

Deno.test("telemetry announce --match-id --json announces just those matches and exits 0", async () => {
  await withStore(async ({ env, broker, dataDir }) => {
    const [stdout, stderr, code] = await runCli(
      ["announce", "--env", env, "--data-dir", dataDir, "--match-id", "ok-1,ok-2", "--json"],
      { env: await brokerChildEnv() },
    );
    assert.equal(code, 0, stderr);
    const lines = jsonLines(stdout);
    const summary = lines.pop()?.summary as Record<string, unknown>;
    assert.deepEqual([summary.announced, summary.not_announced, summary.error], [2, 0, null]);
    assert.deepEqual(lines.map((l) => [l.match_id, l.outcome, l.status]).sort(), [
      ["ok-1", "announced", "ok"],
      ["ok-2", "announced", "ok"],
    ]);
    assert.equal(await broker.count(broker.names.publishQueue), 2);
  });
});

Deno.test("telemetry announce --dry-run audits and counts, and publishes nothing", async () => {
  await withStore(async ({ env, broker, dataDir }) => {
    const [stdout, stderr, code] = await runCli(
      ["announce", "--env", env, dataDir, "--dry-run", "--match-id", "ok-1,missing-one"],
      { env: await brokerChildEnv() },
    );
    assert.equal(code, 1, stderr);
    assert.match(stdout, /^missing {7}.*matchID=missing-one: no directory matchID=missing-one/m);
    assert.match(
      stdout,
      /^dry run: 1 ok file would be announced to .*; not announced 1 \(missing 1\)/m,
    );
    assert.equal(await broker.count(broker.names.publishQueue), 0);
  });
});

Deno.test("telemetry announce exits 2 with one line on bad usage", async () => {
  const childEnv = await brokerChildEnv();
  const cases: [string[], RegExp][] = [
    [["announce", "--env", "x"], /nothing to announce: name a PATH/],
    [["announce", "--match-id", "a"], /missing environment/],
    [["announce", "--env", "x", "--match-id", "../up"], /invalid match id/],
    [["announce", "--env", "x", "/nonexistent/store"], /no such file or directory/],
    [["announce", "--env", "x", "--match-id", "a", "--concurrency", "0"], /concurrency/],
  ];
  for (const [args, pattern] of cases) {
    const [stdout, stderr, code] = await runCli(args, { env: childEnv });
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "");
    assert.match(stderr, pattern);
  }
});

Deno.test("telemetry announce exits 1 with one line when the broker is unreachable or lacks the queue", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    await writeMatch(dataDir, "ok-1", gzip(telemetryJson("ok-1", 50)));
    const [, unreachable, code] = await runCli(["announce", "--env", "x", dataDir], {
      env: { RABBITMQ_URL: "amqp://ops:hunter2-secret@127.0.0.1:1/" },
    });
    assert.equal(code, 1);
    assert.equal(unreachable.trim().split("\n").length, 1, unreachable);
    assert.match(
      unreachable,
      /^error: cannot reach the broker at amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1\//,
    );
    assert.doesNotMatch(unreachable, /hunter2/);

    const env = randomEnv(); // nothing declared
    const [stdout, missing, missingCode] = await runCli(["announce", "--env", env, dataDir], {
      env: await brokerChildEnv(),
    });
    assert.equal(missingCode, 1);
    assert.equal(stdout, "");
    assert.match(
      missing,
      new RegExp(`^error: queue match\\.processing\\.telemetry\\.${env} does not exist`),
    );
    assert.match(
      missing,
      new RegExp(`'telemetry consume --env ${env}' declares it when it starts`),
    );

    const [, other, otherCode] = await runCli(
      ["announce", "--env", env, dataDir, "--publish-queue", `analytics.inbox.${env}`],
      { env: await brokerChildEnv() },
    );
    assert.equal(otherCode, 1);
    assert.equal(other.trim().split("\n").length, 1, other);
    assert.match(
      other.trim(),
      new RegExp(
        `^error: queue analytics\\.inbox\\.${env} does not exist on amqp://\\S+: it is not the ` +
          `processing queue of --env ${env} \\(match\\.processing\\.telemetry\\.${env}\\); ` +
          `whoever owns analytics\\.inbox\\.${env} must declare it \\(or pass the right --publish-queue\\)$`,
      ),
    );
    assert.doesNotMatch(other, /telemetry consume/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("telemetry announce --help shows examples and exit codes", async () => {
  const [stdout, , code] = await runCli(["announce", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /Examples:\n {2}telemetry announce --env prod --match-id /);
  assert.match(stdout, /Exit codes: 0 /);
});
