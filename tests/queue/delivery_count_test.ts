/**
 * The delivery count counts starts, not the broker's redelivered flag: a
 * broker crash or restart flags a whole backlog that nobody started, and
 * must cost those jobs nothing. Real broker (the suite's private node, killed
 * with `kill -9` or stopped gracefully), real files, real HTTP.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { crashRabbitNode, rabbitmqctl, type RabbitNode } from "../support/rabbitmq_node.ts";
import { nodeTest } from "../support/test_broker.ts";
import { createBackoff } from "../../src/core/backoff.ts";
import { isStartMarkName, markStart } from "../../src/core/store/start_marks.ts";
import {
  randomEnv,
  type RunningWorker,
  startWorker,
  TelemetryServer,
  TestBroker,
  waitFor,
} from "./harness.ts";
import { endWorkerTest } from "./scenario.ts";

/** Every file below a directory, relative to it. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      for (const name of await files(join(dir, entry.name))) out.push(`${entry.name}/${name}`);
    } else out.push(entry.name);
  }
  return out.sort();
}

/** A worker that reconnects within a second, so the test does not wait out the production backoff. */
function quickWorker(env: string, flags: { concurrency: number; maxDeliveries: number }) {
  return startWorker(env, {
    flags,
    worker: { backoff: createBackoff({ initialMs: 200, maxMs: 1000 }) },
  });
}

/**
 * A backlog of `jobs` behind a slow server, with `--max-deliveries 2`; the
 * broker is restarted three times by `restart` while the worker runs. Then
 * every job must be stored once and announced, none dead-lettered, and no
 * job line may count a second delivery.
 */
async function backlogThroughRestarts(restart: () => Promise<void>): Promise<void> {
  const env = randomEnv();
  const jobs = 120;
  const server = new TelemetryServer();
  server.behave = () => ({ type: "ok", delayMs: 300 });
  const broker = await TestBroker.open(env);
  let worker: RunningWorker | undefined;
  try {
    for (let i = 0; i < jobs; i++) {
      await broker.publish({ match_id: `backlog-${i}`, telemetry_url: server.url(`backlog-${i}`) });
    }
    worker = await quickWorker(env, { concurrency: 4, maxDeliveries: 2 });
    const running = worker;
    for (let round = 1; round <= 3; round++) {
      const connects = running.logs.filter((l) => l.event === "broker_connected").length;
      await waitFor(() => server.active > 0, { what: `downloads in flight (round ${round})` });
      await restart();
      await waitFor(
        () => running.logs.filter((l) => l.event === "broker_connected").length > connects,
        { what: `reconnected (round ${round})`, timeoutMs: 60_000 },
      );
    }
    const announced = new Map<string, string[]>();
    await waitFor(async () => {
      for (const message of await broker.take(broker.names.publishQueue)) {
        const body = JSON.parse(message.bodyString() ?? "{}");
        const id = String(body.match_id);
        announced.set(id, [...(announced.get(id) ?? []), String(body.outcome ?? "")]);
      }
      return announced.size === jobs;
    }, { what: "every job announced", timeoutMs: 120_000 });
    await waitFor(async () => await broker.count(broker.names.queue) === 0, {
      what: "queue empty",
    });
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0, "nothing dead-lettered");
    assert.equal(await broker.count(broker.names.retryQueue), 0, "nothing retried");
    const lines = running.jobs();
    for (let i = 0; i < jobs; i++) {
      // A download cut off from the broker goes on into the store: its redelivery finds the file.
      assert.equal(server.requests.get(`backlog-${i}`), 1, `backlog-${i} downloaded once`);
    }
    // The broker flagged the whole backlog redelivered; no delivery was counted for it.
    const counted = lines.filter((l) => l.attempt !== 1);
    assert.deepEqual(counted, [], "every job line is delivery 1");
    assert.ok(
      lines.every((l) => ["downloaded", "already_exists", "unacked"].includes(String(l.outcome))),
    );
    assert.ok(lines.some((l) => l.outcome === "unacked"), "some jobs were cut off by a restart");
    const left = await files(running.dataDir);
    assert.deepEqual(
      left.filter((f) => !f.endsWith("/raw.json.gz")),
      [],
      "no start mark or temp file left",
    );
    assert.equal(left.length, jobs);
  } catch (err) {
    const lines = worker?.logs.filter((l) => l.event !== "job" || l.outcome !== "downloaded") ?? [];
    console.error(lines.slice(-40).map((l) => JSON.stringify(l)).join("\n"));
    throw err;
  } finally {
    await endWorkerTest({ worker, broker, server });
  }
}

nodeTest(
  "kill -9 of the broker three times under a backlog of 120 jobs (--max-deliveries 2): none dead-lettered, none counted, each stored once",
  async (node: RabbitNode) => {
    await backlogThroughRestarts(() => crashRabbitNode(node));
  },
);

nodeTest(
  "stop_app/start_app of the broker three times under a backlog of 120 jobs: none dead-lettered, none counted, each stored once",
  async (node: RabbitNode) => {
    await backlogThroughRestarts(async () => {
      await rabbitmqctl(node.name, "stop_app");
      await rabbitmqctl(node.name, "start_app");
    });
  },
);

Deno.test("a job the broker flags redelivered but nobody started is delivery 1", async () => {
  const env = randomEnv();
  const server = new TelemetryServer();
  const broker = await TestBroker.open(env);
  let worker: RunningWorker | undefined;
  try {
    await broker.publish({ match_id: "flagged-1", telemetry_url: server.url("flagged-1") });
    await broker.takeBack(broker.names.queue); // delivered to nobody's job: back, flagged
    worker = await quickWorker(env, { concurrency: 1, maxDeliveries: 1 });
    const running = worker;
    await waitFor(() => running.jobs().length === 1, { what: "the job settled" });
    assert.deepEqual(
      running.jobs().map((l) => [l.outcome, l.attempt]),
      [["downloaded", 1]],
    );
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
  } finally {
    await endWorkerTest({ worker, broker, server });
  }
});

Deno.test("starts that never finished count: below --max-deliveries the job runs as the next delivery, at it the job is dead-lettered and the marks go", async () => {
  const env = randomEnv();
  const server = new TelemetryServer();
  const broker = await TestBroker.open(env);
  const dataDir = await Deno.makeTempDir();
  let worker: RunningWorker | undefined;
  try {
    const died = { worker: "dead-worker", startedAt: "2026-12-01T00:00:00.000Z" };
    await markStart(dataDir, "once-1", died); // one worker died during it
    await markStart(dataDir, "twice-1", died); // two workers died during it
    await markStart(dataDir, "twice-1", died);
    await broker.publish({ match_id: "once-1", telemetry_url: server.url("once-1") });
    await broker.publish({ match_id: "twice-1", telemetry_url: server.url("twice-1") });
    worker = await startWorker(env, { dataDir, flags: { concurrency: 1, maxDeliveries: 2 } });
    const running = worker;
    await waitFor(() => running.jobs().length === 2, { what: "both jobs settled" });
    const byId = Object.fromEntries(running.jobs().map((l) => [l.match_id, l]));
    assert.equal(byId["once-1"]?.outcome, "downloaded");
    assert.equal(byId["once-1"]?.attempt, 2, "the unfinished start counted");
    assert.equal(byId["twice-1"]?.outcome, "dead_lettered");
    assert.equal(server.requests.get("twice-1"), undefined, "not started a third time");
    const [dead] = await broker.take(broker.names.deadLetterQueue);
    const headers = dead?.properties.headers ?? {};
    assert.equal(headers["x-error-kind"], "redelivered");
    assert.equal(headers["x-attempts"], 2);
    assert.match(
      String(headers["x-error"]),
      /^started 2 times and never finished: each time the worker died during the job/,
    );
    const marks = (await files(dataDir)).filter((f) => isStartMarkName(f.split("/").pop()!));
    assert.deepEqual(marks, [], "the marks went with the settled deliveries");
    assert.deepEqual(await files(dataDir), ["matchID=once-1/raw.json.gz"]);
  } finally {
    await worker?.stop();
    await broker.cleanup();
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
