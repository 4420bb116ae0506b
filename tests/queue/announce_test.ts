/**
 * `runAnnounce()` against the real test broker, including a broker that
 * stops in the middle of a run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { TelemetryError } from "../../src/core/errors.ts";
import { type AnnounceResult, runAnnounce } from "../../src/queue/announce.ts";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { auditFile } from "../../src/verify/audit_file.ts";
import { scanPaths } from "../../src/verify/scan.ts";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { nodeTest, testBrokerUrl } from "../support/test_broker.ts";
import { gzip, telemetryJson, writeMatch } from "../verify/fixtures.ts";
import { randomEnv, TestBroker, waitFor } from "./harness.ts";
import { takeJson, testBrokerSettings, withBroker } from "./operator_support.ts";

/** A store with two ok files and one of each kind of problem announce reports. */
async function mixedStore(dataDir: string): Promise<void> {
  await writeMatch(dataDir, "ok-1", gzip(telemetryJson("ok-1", 200)));
  await writeMatch(dataDir, "ok-2", gzip(telemetryJson("ok-2", 300)));
  await writeMatch(dataDir, "dbl", gzip(telemetryJson("dbl", 100), 2));
  const whole = gzip(telemetryJson("cut", 400));
  await writeMatch(dataDir, "cut", whole.subarray(0, Math.floor(whole.length / 2)));
  await writeMatch(dataDir, "other", gzip(telemetryJson("someone-else", 100)));
  await Deno.mkdir(join(dataDir, "matchID=gone"));
}

async function withStore(fn: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir();
  try {
    await fn(dataDir);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("runAnnounce() announces only ok files, with the fields consume sends, and reports the rest", async () => {
  await withStore(async (dataDir) => {
    await mixedStore(dataDir);
    await withBroker(async (broker, env) => {
      const mtime = new Date("2024-11-28T12:34:56.000Z");
      await Deno.utime(join(dataDir, "matchID=ok-1", "raw.json.gz"), mtime, mtime);
      const scan = await scanPaths([dataDir], { dataDir });
      const results: AnnounceResult[] = [];
      const summary = await runAnnounce(scan, {
        broker: await testBrokerSettings(env),
        workerId: "ops-test",
        concurrency: 2,
      }, { onResult: (r) => results.push(r) });
      assert.equal(summary.announced, 2);
      assert.equal(summary.notAnnounced, 4);
      assert.deepEqual(summary.reasons, {
        double_gzip: 1,
        truncated: 1,
        wrong_match: 1,
        missing: 1,
      });
      assert.equal(summary.error, undefined);
      const queue = broker.names.publishQueue;
      const taken = await takeJson(broker, queue);
      assert.deepEqual(taken.map((t) => t.body.match_id).sort(), ["ok-1", "ok-2"]);
      const path = join(dataDir, "matchID=ok-1", "raw.json.gz");
      const size = (await Deno.stat(path)).size;
      const ok1 = taken.find((t) => t.body.match_id === "ok-1")!;
      assert.deepEqual(ok1.body, {
        match_id: "ok-1",
        file_path: path,
        file_size_mb: Math.round(size / 1024 / 1024 * 10_000) / 10_000,
        map_name: null,
        game_mode: null,
        match_datetime: null,
        downloaded_at: mtime.toISOString(),
        worker_id: "ops-test",
        environment: env,
        queue_target: queue,
      });
      assert.equal(ok1.message.properties.deliveryMode, 2);
      assert.equal(ok1.message.properties.contentType, "application/json");
      assert.equal(ok1.message.routingKey, queue);
      const notAnnounced = results.filter((r) => r.outcome === "not_announced");
      assert.deepEqual(
        notAnnounced.map((r) => [r.matchId, r.status]).sort(),
        [["cut", "truncated"], ["dbl", "double_gzip"], ["gone", "missing"], [
          "other",
          "wrong_match",
        ]],
      );
      for (const r of notAnnounced) assert.ok(r.detail !== "" && !r.detail.includes("\n"));
    });
  });
});

Deno.test("runAnnounce() with match ids announces just those, and a match with no directory is missing", async () => {
  await withStore(async (dataDir) => {
    await mixedStore(dataDir);
    await withBroker(async (broker, env) => {
      const scan = await scanPaths([], { dataDir, matchIds: ["ok-2", "never-stored"] });
      const results: AnnounceResult[] = [];
      const summary = await runAnnounce(scan, {
        broker: await testBrokerSettings(env),
        workerId: "w",
      }, { onResult: (r) => results.push(r) });
      assert.deepEqual([summary.announced, summary.notAnnounced], [1, 1]);
      assert.deepEqual(results.map((r) => [r.matchId, r.outcome, r.status]).sort(), [
        ["never-stored", "not_announced", "missing"],
        ["ok-2", "announced", "ok"],
      ]);
      const taken = await takeJson(broker, broker.names.publishQueue);
      assert.deepEqual(taken.map((t) => t.body.match_id), ["ok-2"]);
    });
  });
});

Deno.test("runAnnounce() with dryRun audits and counts, publishing nothing and needing no broker", async () => {
  await withStore(async (dataDir) => {
    await mixedStore(dataDir);
    const scan = await scanPaths([dataDir], { dataDir });
    const broker = resolveBrokerSettings(
      { env: randomEnv(), amqpUrl: "amqp://guest:guest@127.0.0.1:1/" },
      {},
    );
    const summary = await runAnnounce(scan, { broker, workerId: "w", dryRun: true }, {
      onResult: () => {},
    });
    assert.deepEqual([summary.wouldAnnounce, summary.announced, summary.notAnnounced], [2, 0, 4]);
  });
});

Deno.test("runAnnounce() does not announce a file outside a matchID= directory", async () => {
  await withStore(async (dataDir) => {
    const loose = join(dataDir, "raw.json.gz");
    await Deno.writeFile(loose, gzip(telemetryJson("loose", 50)));
    const scan = await scanPaths([loose], { dataDir });
    const results: AnnounceResult[] = [];
    const broker = resolveBrokerSettings({ env: randomEnv(), amqpUrl: "amqp://h:1/" }, {});
    const summary = await runAnnounce(scan, { broker, workerId: "w", dryRun: true }, {
      onResult: (r) => results.push(r),
    });
    assert.deepEqual(summary.reasons, { no_match_id: 1 });
    assert.match(results[0]?.detail ?? "", /not inside a matchID=<id> directory/);
  });
});

Deno.test("runAnnounce() refuses to start when the processing queue does not exist", async () => {
  await withStore(async (dataDir) => {
    await writeMatch(dataDir, "ok-1", gzip(telemetryJson("ok-1", 50)));
    const env = randomEnv(); // nothing declared
    const scan = await scanPaths([dataDir], { dataDir });
    await assert.rejects(
      runAnnounce(scan, { broker: await testBrokerSettings(env), workerId: "w" }, {
        onResult: () => assert.fail("nothing audited before the broker is usable"),
      }),
      (err) =>
        err instanceof TelemetryError &&
        err.message.includes(`queue match.processing.telemetry.${env} does not exist`) &&
        err.message.endsWith(`'telemetry consume --env ${env}' declares it when it starts`),
    );
  });
});

Deno.test("runAnnounce() says a missing --publish-queue of another name is its owner's to declare", async () => {
  await withStore(async (dataDir) => {
    await writeMatch(dataDir, "ok-1", gzip(telemetryJson("ok-1", 50)));
    const env = randomEnv();
    const queue = `analytics.inbox.${env}`;
    const broker = resolveBrokerSettings({
      env,
      amqpUrl: await testBrokerUrl(),
      publishQueue: queue,
    }, {});
    const scan = await scanPaths([dataDir], { dataDir });
    await assert.rejects(
      runAnnounce(scan, { broker, workerId: "w" }, {
        onResult: () => assert.fail("nothing audited before the broker is usable"),
      }),
      (err) => {
        assert.ok(err instanceof TelemetryError);
        assert.equal(err.kind, "permanent");
        assert.equal(
          err.message,
          `queue ${queue} does not exist on ${broker.redactedUrl}: it is not the processing ` +
            `queue of --env ${env} (match.processing.telemetry.${env}); whoever owns ${queue} ` +
            `must declare it (or pass the right --publish-queue)`,
        );
        return true;
      },
    );
  });
});

nodeTest(
  "runAnnounce() when the broker stops mid-run: one error line, and every file reported announced is in the queue",
  async (node) => {
    await withStore(async (dataDir) => {
      // Files are audited in path order, one at a time: the audit of b-hold
      // waits until the broker is down, after every a-* file was announced.
      for (const prefix of ["a", "b-hold", "c"]) {
        for (let i = 0; i < (prefix === "b-hold" ? 1 : 30); i++) {
          const id = prefix === "b-hold" ? prefix : `${prefix}-${String(i).padStart(3, "0")}`;
          await writeMatch(dataDir, id, gzip(telemetryJson(id, 20)));
        }
      }
      let release: () => void = () => {};
      const brokerDown = new Promise<void>((resolve) => release = resolve);
      const audit: typeof auditFile = async (path, options) => {
        if (options?.expectedMatchId === "b-hold") await brokerDown;
        return await auditFile(path, options);
      };
      const env = randomEnv();
      const broker = await TestBroker.open(env);
      let appStopped = false;
      try {
        const scan = await scanPaths([dataDir], { dataDir });
        const results: AnnounceResult[] = [];
        const run = runAnnounce(scan, {
          broker: await testBrokerSettings(env),
          workerId: "w",
          concurrency: 1,
          confirmTimeoutMs: 5000,
        }, { onResult: (r) => results.push(r), audit });
        await waitFor(() => results.filter((r) => r.outcome === "announced").length === 30, {
          what: "the a-* files announced",
        });
        appStopped = true;
        await rabbitmqctl(node.name, "stop_app");
        release();
        const summary = await run;
        await rabbitmqctl(node.name, "start_app");
        appStopped = false;
        assert.match(summary.error ?? "", /^broker connection lost: /);
        assert.doesNotMatch(summary.error ?? "", /\n/);
        assert.equal(summary.announced, 30);
        // b-hold and the c-* files: not announced (sent into the dead channel, or never sent).
        assert.equal(summary.notSent + summary.unconfirmed, 31, JSON.stringify(summary));
        const announced = results.filter((r) => r.outcome === "announced").map((r) => r.matchId);
        await waitFor(async () => await broker.count(broker.names.publishQueue) >= 30, {
          what: "the confirmed messages back after the restart",
          timeoutMs: 30_000,
        });
        const inQueue = new Set(
          (await takeJson(broker, broker.names.publishQueue)).map((t) => t.body.match_id),
        );
        for (const id of announced) assert.ok(inQueue.has(id), `${id} reported announced`);
      } finally {
        if (appStopped) await rabbitmqctl(node.name, "start_app");
        await broker.cleanup();
      }
    });
  },
);
