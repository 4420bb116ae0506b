/**
 * `telemetry status` against the real test broker: the verdict (exit code
 * and the problem lines), the screen, the JSON object, the store scan and
 * the worker's `/healthz`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../support/cli.ts";
import { withTempDir } from "../support/helpers.ts";
import {
  attachConsumer,
  closedPort,
  publishDeadLetters,
  runStatus,
  serveHealth,
  withConsumedEnv,
  withEnvQueues,
} from "../support/status_support.ts";
import { testBrokerUrl } from "../support/test_broker.ts";
import { smallFsTest } from "../support/small_fs.ts";
import { formatBytes, freeSpace } from "../../src/core/store/free_space.ts";
import { declareTopology, topologyNames } from "../../src/queue/topology.ts";
import { randomEnv, TestBroker, waitFor } from "../queue/harness.ts";
import { brokerChildEnv, withBroker } from "../queue/operator_support.ts";

/** The flags every in-process run gets: the env and the test broker. */
async function base(env: string): Promise<string[]> {
  return ["--env", env, "--amqp-url", await testBrokerUrl()];
}

Deno.test("status: a consumer on the input queue and no limit exceeded is healthy (exit 0)", async () => {
  await withBroker(async (broker, env) => {
    await broker.publish({ match_id: "m-1", telemetry_url: "https://telemetry-cdn.pubg.com/x" });
    const consumer = await attachConsumer(broker.names.queue);
    try {
      // Delivered to the consumer (unacked): no longer counted as ready.
      await waitFor(async () => await broker.count(broker.names.queue) === 0, { what: "delivery" });
      const { out, err, code } = await runStatus([...await base(env), "--no-store"]);
      assert.equal(code, 0, err.join("\n"));
      assert.deepEqual(err, []);
      const screen = out.join("\n");
      assert.match(screen, new RegExp(`input\\s+${escape(broker.names.queue)}\\s+0\\s+1`));
      assert.match(screen, new RegExp(`retry\\s+${escape(broker.names.retryQueue)}\\s+0\\s+0`));
      assert.match(screen, new RegExp(`dead letters\\s+${escape(broker.names.deadLetterQueue)}`));
      assert.match(screen, new RegExp(`processing\\s+${escape(broker.names.publishQueue)}`));
      assert.match(screen, /dead letters by kind: none/);
      assert.equal(out.at(-1), "status: healthy");
      assert.doesNotMatch(screen, /guest:guest/, "the password is never printed");
    } finally {
      await consumer.close();
    }
  });
});

Deno.test("status: nothing consuming the input queue is a problem (exit 1, one line)", async () => {
  await withBroker(async (broker, env) => {
    await broker.publish({ match_id: "m-1", telemetry_url: "https://telemetry-cdn.pubg.com/x" });
    const { out, err, code } = await runStatus([...await base(env), "--no-store"]);
    assert.equal(code, 1);
    assert.deepEqual(err, [`unhealthy: nothing consumes ${broker.names.queue} (1 job waiting)`]);
    assert.equal(out.at(-1), "status: unhealthy (1 problem)");
  });
});

Deno.test("status: dead letters beyond --max-dlq are a problem; they are counted by kind and left in place", async () => {
  await withBroker(async (broker, env) => {
    const letters = [
      { matchId: "d-1", kind: "permanent" },
      { matchId: "d-2", kind: "transient" },
      { matchId: "d-3", kind: "permanent" },
    ];
    await publishDeadLetters(broker.names.deadLetterQueue, letters);
    const consumer = await attachConsumer(broker.names.queue);
    try {
      const over = await runStatus([...await base(env), "--no-store", "--max-dlq", "2"]);
      assert.equal(over.code, 1);
      assert.deepEqual(over.err, [
        `unhealthy: 3 dead letters in ${broker.names.deadLetterQueue}, more than --max-dlq 2`,
      ]);
      assert.match(over.out.join("\n"), /dead letters by kind: permanent 2, transient 1/);
      const atLimit = await runStatus([...await base(env), "--no-store", "--max-dlq", "3"]);
      assert.equal(atLimit.code, 0, atLimit.err.join("\n"));
      const sample = await runStatus([
        ...await base(env),
        "--no-store",
        "--max-dlq-scan",
        "2",
        "--json",
      ]);
      const report = JSON.parse(sample.out.join(""));
      assert.deepEqual(report.dead_letters.by_kind, { permanent: 1, transient: 1 });
      assert.equal(report.dead_letters.scanned, 2);
      assert.equal(report.dead_letters.complete, false);
    } finally {
      await consumer.close();
    }
    // Read in place: the same dead letters, in the same order.
    assert.equal(await broker.count(broker.names.deadLetterQueue), 3);
    const left = await broker.take(broker.names.deadLetterQueue);
    assert.deepEqual(
      left.map((m) => JSON.parse(m.bodyString() ?? "{}").match_id),
      ["d-1", "d-2", "d-3"],
    );
  });
});

Deno.test("status: a DLQ another client is reading is a warning, its kinds not counted", async () => {
  await withBroker(async (broker, env) => {
    await publishDeadLetters(broker.names.deadLetterQueue, [
      { matchId: "d-1", kind: "permanent" },
      { matchId: "d-2", kind: "permanent" },
    ]);
    const consumer = await attachConsumer(broker.names.queue);
    const reader = await attachConsumer(broker.names.deadLetterQueue, { exclusive: true });
    try {
      const { out, err, code } = await runStatus([...await base(env), "--no-store", "--json"]);
      assert.equal(code, 0, err.join("\n"));
      const report = JSON.parse(out[0]!);
      assert.equal(report.dead_letters.by_kind && report.dead_letters.scanned, 0);
      assert.match(report.dead_letters.error, /being read by another client/);
      assert.match(report.warnings[0], /^dead letters not counted by kind: /);
    } finally {
      await reader.close();
      await consumer.close();
    }
    assert.equal(await broker.count(broker.names.deadLetterQueue), 2);
  });
});

Deno.test("status: missing queues are reported missing and never created", async () => {
  const env = randomEnv(); // nothing declared
  const broker = await TestBroker.open(randomEnv()); // only for its connection
  try {
    const { out, err, code } = await runStatus([...await base(env), "--no-store", "--json"]);
    assert.equal(code, 1);
    const report = JSON.parse(out.join(""));
    assert.equal(report.queues.input.exists, false);
    assert.equal(report.queues.input.messages, null);
    assert.equal(report.queues.dead_letter.exists, false);
    assert.match(err[0] ?? "", /^unhealthy: queue match\.telemetry\.t-\S+ does not exist/);
    assert.equal(err.length, 1);
    assert.equal(report.warnings.length, 3, JSON.stringify(report.warnings));
    await assert.rejects(broker.count(`match.telemetry.${env}`), /NOT_FOUND|404/);
  } finally {
    await broker.cleanup();
  }
});

Deno.test("status: --json prints one object with the same data", async () => {
  await withBroker(async (broker, env) => {
    await publishDeadLetters(broker.names.deadLetterQueue, [{ matchId: "d-1", kind: "usage" }]);
    await withTempDir(async (dir) => {
      await Deno.mkdir(join(dir, "matchID=a"));
      await Deno.writeFile(join(dir, "matchID=a", "raw.json.gz"), new Uint8Array(100));
      const { out, err, code } = await runStatus([
        ...await base(env),
        "--data-dir",
        dir,
        "--json",
      ]);
      assert.equal(code, 1, "nothing consumes the input queue");
      assert.equal(out.length, 1, "one JSON object");
      const report = JSON.parse(out[0]!);
      assert.deepEqual(Object.keys(report).sort(), [
        "at",
        "broker",
        "dead_letters",
        "env",
        "healthy",
        "problems",
        "queues",
        "store",
        "warnings",
        "worker",
      ]);
      assert.equal(report.env, env);
      assert.equal(report.healthy, false);
      assert.deepEqual(report.problems, [err[0]!.replace(/^unhealthy: /, "")]);
      assert.equal(report.broker.reachable, true);
      assert.match(report.broker.url, /:\*\*\*@/);
      assert.deepEqual(Object.keys(report.queues), ["input", "retry", "dead_letter", "processing"]);
      assert.deepEqual(report.queues.input, {
        name: broker.names.queue,
        exists: true,
        messages: 0,
        consumers: 0,
        type: "classic",
        unavailable: null,
      });
      assert.deepEqual(report.dead_letters, {
        queue: broker.names.deadLetterQueue,
        messages: 1,
        max: null,
        by_kind: { usage: 1 },
        scanned: 1,
        complete: true,
        error: null,
      });
      assert.equal(report.store.matches, 1);
      assert.equal(report.store.bytes, 100);
      const space = await freeSpace(dir);
      assert.equal(report.store.total_bytes, space.total);
      assert.ok(
        report.store.free_bytes > 0 && report.store.free_bytes <= space.total,
        String(report.store.free_bytes),
      );
      assert.equal(report.worker, null);
    });
  });
});

Deno.test("status: the store scan counts matches, bytes and temp files by names and sizes", async () => {
  await withConsumedEnv(async (_broker, env) => {
    await withTempDir(async (dir) => {
      for (const [id, size] of [["a", 1000], ["b", 2000]] as const) {
        await Deno.mkdir(join(dir, `matchID=${id}`));
        // Not gzip at all: the scan never reads content.
        await Deno.writeFile(join(dir, `matchID=${id}`, "raw.json.gz"), new Uint8Array(size));
      }
      await Deno.mkdir(join(dir, "matchID=c")); // a download in progress
      const temp = join(dir, "matchID=c", ".raw.json.gz.0a1b2c.tmp");
      await Deno.writeFile(temp, new Uint8Array(50));
      const old = join(dir, ".raw.json.gz.ffee00.tmp");
      await Deno.writeFile(old, new Uint8Array(7));
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      await Deno.utime(old, twoHoursAgo, twoHoursAgo);
      const { out, err, code } = await runStatus([...await base(env), "--data-dir", dir]);
      assert.equal(code, 0, err.join("\n"));
      const screen = out.join("\n");
      assert.match(
        screen,
        /store: \S+: 2 matches, 2\.9 KiB; 2 temp files \(57 B, 1 older than 1 h\); 1 match dir without raw\.json\.gz/,
      );
      assert.match(
        screen,
        /warning: 1 temp file older than 1 h in .*\('telemetry verify --fix' removes it\)/,
      );
      const json = JSON.parse(
        (await runStatus([...await base(env), "--data-dir", dir, "--json"]))
          .out[0]!,
      );
      assert.deepEqual(
        {
          matches: json.store.matches,
          bytes: json.store.bytes,
          without_file: json.store.without_file,
          temp_files: json.store.temp_files,
          temp_bytes: json.store.temp_bytes,
          stale_temp_files: json.store.stale_temp_files,
        },
        {
          matches: 2,
          bytes: 3000,
          without_file: 1,
          temp_files: 2,
          temp_bytes: 57,
          stale_temp_files: 1,
        },
      );
    });
    const missing = await runStatus([...await base(env), "--data-dir", "/nonexistent/telemetry"]);
    assert.equal(missing.code, 0, "a store that is not here is a warning, not a failure");
    assert.match(
      missing.out.join("\n"),
      /warning: cannot read data dir \/nonexistent\/telemetry: no such file or directory/,
    );
  });
});

Deno.test("status --metrics-url: the worker's /healthz, 200 healthy, 503 or no answer a problem", async () => {
  await withConsumedEnv(async (_broker, env) => {
    const ok = serveHealth(200, "ok: consuming\n");
    const sick = serveHealth(503, "unhealthy: not connected to the broker\n");
    try {
      const good = await runStatus([...await base(env), "--no-store", "--metrics-url", ok.url]);
      assert.equal(good.code, 0, good.err.join("\n"));
      assert.match(
        good.out.join("\n"),
        new RegExp(`worker: ${escape(ok.url)}/healthz: 200 ok: consuming`),
      );
      assert.deepEqual(ok.paths, ["/healthz"]);
      const viaMetrics = await runStatus([
        ...await base(env),
        "--no-store",
        "--metrics-url",
        `${ok.url}/metrics`,
      ]);
      assert.equal(viaMetrics.code, 0);
      assert.deepEqual(ok.paths, ["/healthz", "/healthz"], "/metrics becomes /healthz");

      const bad = await runStatus([
        ...await base(env),
        "--no-store",
        "--metrics-url",
        sick.url,
        "--json",
      ]);
      assert.equal(bad.code, 1);
      assert.deepEqual(bad.err, [
        `unhealthy: the worker's ${sick.url}/healthz answered 503: unhealthy: not connected to the broker`,
      ]);
      const report = JSON.parse(bad.out[0]!);
      assert.deepEqual(report.worker, {
        url: `${sick.url}/healthz`,
        reachable: true,
        status: 503,
        body: "unhealthy: not connected to the broker",
        error: null,
        paused: false,
        pause_reason: null,
      });

      const gone = `http://127.0.0.1:${closedPort()}`;
      const none = await runStatus([...await base(env), "--no-store", "--metrics-url", gone]);
      assert.equal(none.code, 1);
      assert.equal(none.err.length, 1);
      assert.match(
        none.err[0]!,
        new RegExp(`^unhealthy: the worker's ${escape(gone)}/healthz did not answer: `),
      );
    } finally {
      await ok.close();
      await sick.close();
    }
  });
});

Deno.test("status --metrics-url: a stopped worker is 'connection refused', and the URL's password is never shown", async () => {
  await withConsumedEnv(async (_broker, env) => {
    const ok = serveHealth(200, "ok: consuming\n");
    try {
      const port = closedPort();
      const stopped = `http://admin:s3cret-pw@127.0.0.1:${port}`;
      const shown = `http://127.0.0.1:${port}/healthz`;
      const { screen, json, report } = await screenAndJson([
        ...await base(env),
        "--no-store",
        "--metrics-url",
        stopped,
      ]);
      assert.equal(screen.code, 1);
      assert.deepEqual(screen.err, [
        `unhealthy: the worker's ${shown} did not answer: connection refused`,
      ]);
      assert.ok(
        screen.out.includes(`worker: ${shown}: no answer: connection refused`),
        screen.out.join("\n"),
      );
      assert.equal(report.worker.url, shown);
      assert.equal(report.worker.error, "connection refused");

      const live = ok.url.replace("http://", "http://admin:s3cret-pw@");
      const healthy = await runStatus([...await base(env), "--no-store", "--metrics-url", live]);
      assert.equal(healthy.code, 0, healthy.err.join("\n"));
      assert.ok(healthy.out.includes(`worker: ${ok.url}/healthz: 200 ok: consuming`));
      for (const run of [screen, json, healthy]) {
        assert.doesNotMatch([...run.out, ...run.err].join("\n"), /s3cret|admin/);
      }
    } finally {
      await ok.close();
    }
  });
});

Deno.test("status: each queue's type on the screen and in --json, classic or quorum", async () => {
  await withConsumedEnv(async (broker, env) => {
    const { out, err, code } = await runStatus([...await base(env), "--no-store"]);
    assert.equal(code, 0, err.join("\n"));
    assert.match(out.join("\n"), /queue\s+name\s+messages\s+consumers\s+type\n/);
    assert.match(
      out.join("\n"),
      new RegExp(`retry\\s+${escape(broker.names.retryQueue)}\\s+0\\s+0\\s+classic\n`),
    );
  });
  const env = randomEnv();
  await withEnvQueues(env, async (client) => {
    const names = { ...topologyNames(env), queueType: "quorum" as const };
    await declareTopology(await client.channel(), { names });
    const { out } = await runStatus([...await base(env), "--no-store", "--json"]);
    const report = JSON.parse(out[0]!);
    assert.deepEqual(
      Object.values(report.queues).map((q) => (q as { type: string }).type),
      ["quorum", "quorum", "quorum", "quorum"],
    );
    const screen = await runStatus([...await base(env), "--no-store"]);
    assert.match(
      screen.out.join("\n"),
      new RegExp(`input\\s+${escape(names.queue)}\\s+0\\s+0\\s+quorum\n`),
    );
  });
});

Deno.test("status: the store's free space on the screen and in --json; --no-store skips it", async () => {
  await withConsumedEnv(async (_broker, env) => {
    await withTempDir(async (dir) => {
      const { out, code } = await runStatus([...await base(env), "--data-dir", dir]);
      assert.equal(code, 0);
      const { total } = await freeSpace(dir);
      const line = out.find((l) => l.startsWith("store free space: ")) ?? "";
      assert.match(
        line,
        /^store free space: \d+(\.\d)? [KMGTP]?i?B free of \d+(\.\d)? [KMGTP]?i?B \(\d+%\)$/,
      );
      assert.ok(line.includes(`free of ${formatBytes(total)}`), line);
      const skipped = await runStatus([...await base(env), "--no-store", "--json"]);
      assert.equal(JSON.parse(skipped.out[0]!).store, null);
    });
    const missing = await runStatus(
      [...await base(env), "--data-dir", "/nonexistent/telemetry", "--json"],
    );
    const report = JSON.parse(missing.out[0]!);
    assert.deepEqual([report.store.free_bytes, report.store.total_bytes], [null, null]);
    assert.equal(report.warnings.length, 1, "one warning for the missing data dir, not two");
  });
});

smallFsTest(
  "status: a store below consume's default --min-free-space is a warning (exit 0)",
  async (fs) => {
    await withConsumedEnv(async (_broker, env) => {
      await fs.fill();
      const { out, err, code } = await runStatus([...await base(env), "--data-dir", fs.dir]);
      assert.equal(code, 0, err.join("\n"));
      assert.ok(out.includes("store free space: 0 B free of 8.0 MiB (0%)"), out.join("\n"));
      assert.ok(
        out.includes(
          `warning: 0 B free of 8.0 MiB (0%) on the file system of ${fs.dir}: below consume's ` +
            "default --min-free-space 1.0 GiB, where a worker pauses",
        ),
        out.join("\n"),
      );
    });
  },
);

Deno.test("status --metrics-url: a worker paused on the store is a problem (exit 1) that says so, with its reason", async () => {
  await withConsumedEnv(async (_broker, env) => {
    const reason = "cannot write /data/matchID=a: no space left on device (ENOSPC); " +
      "0 B free of 8.0 MiB";
    const paused = serveHealth(503, `unhealthy: store paused: ${reason}\n`);
    try {
      const { screen, report } = await screenAndJson([
        ...await base(env),
        "--no-store",
        "--metrics-url",
        paused.url,
      ]);
      assert.equal(screen.code, 1);
      assert.deepEqual(screen.err, [
        `unhealthy: the worker's ${paused.url}/healthz reports it is paused on the store: ` +
        `${reason} (it takes no jobs until the store takes writes again)`,
      ]);
      assert.ok(
        screen.out.includes(`worker: ${paused.url}/healthz: 503 paused on the store: ${reason}`),
        screen.out.join("\n"),
      );
      assert.equal(report.healthy, false);
      assert.deepEqual(
        [report.worker.status, report.worker.paused, report.worker.pause_reason],
        [503, true, reason],
      );
    } finally {
      await paused.close();
    }
  });
});

Deno.test("telemetry status: an unreachable broker is one line and exit 1", async () => {
  const [stdout, stderr, code] = await runCli(
    ["status", "--env", "prod", "--no-store", "--timeout", "5"],
    {
      env: {
        ...await brokerChildEnv(),
        RABBITMQ_HOST: "127.0.0.1",
        RABBITMQ_PORT: String(closedPort()),
        RABBITMQ_PASSWORD: "s3cret",
      },
    },
  );
  assert.equal(code, 1);
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(
    lines[0]!,
    /^unhealthy: cannot reach the broker at amqp:\/\/\S+:\*\*\*@127\.0\.0\.1:\d+/,
  );
  assert.doesNotMatch(stderr + stdout, /s3cret|\n\s+at /);
  assert.match(stdout, /broker: unreachable/);
  assert.match(stdout, /status: unhealthy \(1 problem\)/);
});

Deno.test("telemetry status: usage errors exit 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [["status", "--no-store"], /missing environment/],
    [
      ["status", "--env", "prod", "--metrics-url", "localhost:9092"],
      /^error: --metrics-url localhost:9092 is not a URL: expected http:\/\/HOST:PORT \(e\.g\. http:\/\/127\.0\.0\.1:9092\)$/m,
    ],
    [["status", "--env", "prod", "--max-dlq", "-1"], /--max-dlq/],
    [["status", "--env", "Prod!"], /invalid --env/],
  ];
  for (const [args, message] of cases) {
    const [, stderr, code] = await runCli(args, {
      env: { TELEMETRY_ENV: "", ENVIRONMENT: "", RABBITMQ_URL: "" },
    });
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message);
    assert.doesNotMatch(stderr, /\n\s+at /);
  }
});

/** Runs `status` twice with `args`: for the screen, then with `--json` (parsed). */
async function screenAndJson(args: string[]) {
  const screen = await runStatus(args);
  const json = await runStatus([...args, "--json"]);
  return { screen, json, report: JSON.parse(json.out[0]!) };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
