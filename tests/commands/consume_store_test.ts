/**
 * `telemetry consume` on a store that fills up (issue 21): a real tmpfs as
 * the data dir, a real broker, the real CLI. A store fault pauses the
 * worker; nothing is dead-lettered or acked; it resumes by itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import { randomEnv, TelemetryServer, TestBroker, waitFor } from "../queue/harness.ts";
import { brokerChildEnv } from "../queue/operator_support.ts";
import { smallFsTest } from "../support/small_fs.ts";
import { Child, listTree, testArgs } from "./consume_child.ts";

const JOBS = 20;

/** The body of `/healthz` and `/metrics` of a child's metrics port. */
async function get(port: unknown, path: string): Promise<[number, string]> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return [response.status, await response.text()];
}

function gauge(metrics: string, name: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

function requests(server: TelemetryServer): number {
  return [...server.requests.values()].reduce((a, b) => a + b, 0);
}

smallFsTest(
  "telemetry consume pauses on a full store without dead-lettering, and resumes when space is freed",
  async (fs) => {
    const env = randomEnv();
    const server = new TelemetryServer({ events: 30 });
    const broker = await TestBroker.open(env);
    await fs.fill();
    const args = ["--metrics-port", "0", "--min-free-space", "0", "--max-deliveries", "2"];
    const child = new Child(testArgs(env, fs.dir, args), await brokerChildEnv());
    try {
      await waitFor(() => child.events("broker_connected").length === 1, { what: "connected" });
      const port = child.events("consume_started")[0]?.metrics_port;
      const ids = Array.from({ length: JOBS }, (_, i) => `full-${String(i).padStart(2, "0")}`);
      for (const id of ids) await broker.publish({ match_id: id, telemetry_url: server.url(id) });

      await waitFor(() => child.events("store_paused").length === 1, { what: "store_paused" });
      // Every job given back: all 20 ready in the job queue again, none acked.
      await waitFor(async () => await broker.count(broker.names.queue) === JOBS, {
        what: "all jobs back in the queue",
      });
      const [paused] = child.events("store_paused");
      assert.equal(paused?.reason, "full");
      assert.equal(paused?.code, "store_full");
      assert.equal(paused?.errno, "ENOSPC");
      assert.equal(typeof paused?.free_bytes, "number");
      const [status, body] = await get(port, "/healthz");
      assert.equal(status, 503);
      assert.match(body, /^unhealthy: store paused: .*no space left on device \(ENOSPC\)/);
      assert.equal(gauge((await get(port, "/metrics"))[1], "telemetry_consume_store_paused"), 1);
      const whileFull = requests(server);
      assert.ok(whileFull <= 1, `${whileFull} downloads started while full`);
      assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
      assert.equal(await broker.count(broker.names.retryQueue), 0);
      assert.equal(await broker.count(broker.names.publishQueue), 0);
      for (const line of child.events("job")) assert.equal(line.outcome, "requeued");
      // Still paused a probe later: the queue is left alone.
      await new Promise((r) => setTimeout(r, 6_000));
      assert.equal(child.events("store_resumed").length, 0);
      assert.equal(await broker.count(broker.names.queue), JOBS);

      const freed = performance.now();
      await fs.free();
      await waitFor(() => child.events("store_resumed").length === 1, {
        what: "store_resumed",
        timeoutMs: 15_000,
      });
      await waitFor(async () => await broker.count(broker.names.publishQueue) === JOBS, {
        what: "all jobs announced",
        timeoutMs: 20_000,
      });
      // A job line follows the broker's confirm of its announcement.
      await waitFor(
        () => child.events("job").filter((l) => l.outcome === "downloaded").length >= JOBS,
        {
          what: "a job line for each stored job",
        },
      );
      const seconds = (performance.now() - freed) / 1000;
      const [resumed] = child.events("store_resumed");
      console.log(
        `${whileFull} downloads started while full; resumed and stored ${JOBS} jobs ` +
          `${seconds.toFixed(1)} s after the space was freed (paused ${resumed?.paused_s} s)`,
      );
      assert.ok(Number(resumed?.paused_s) > 5, `paused_s ${resumed?.paused_s}`);
      const stored = child.events("job").filter((l) => l.outcome === "downloaded");
      assert.equal(stored.length, JOBS, "each stored once");
      assert.deepEqual(new Set(stored.map((l) => l.match_id)), new Set(ids));
      for (const line of stored) assert.equal(line.attempt, 1, "no delivery counted");
      assert.deepEqual(
        await listTree(fs.dir),
        ids.map((id) => `matchID=${id}/raw.json.gz`).sort(),
        "no temp file or start mark left",
      );
      const [okStatus, okBody] = await get(port, "/healthz");
      assert.equal(okStatus, 200, okBody);
      assert.equal(gauge((await get(port, "/metrics"))[1], "telemetry_consume_store_paused"), 0);
      assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
      assert.equal(await broker.count(broker.names.queue), 0);
    } finally {
      await child.kill();
      await broker.cleanup();
      await server.close();
    }
  },
);

smallFsTest("telemetry consume starts no download below --min-free-space", async (fs) => {
  const env = randomEnv();
  const server = new TelemetryServer({ events: 30 });
  const broker = await TestBroker.open(env);
  const args = ["--metrics-port", "0", "--min-free-space", "16MiB"];
  const child = new Child(testArgs(env, fs.dir, args), await brokerChildEnv());
  try {
    await waitFor(() => child.events("broker_connected").length === 1, { what: "connected" });
    const port = child.events("consume_started")[0]?.metrics_port;
    for (const id of ["floor-1", "floor-2", "floor-3"]) {
      await broker.publish({ match_id: id, telemetry_url: server.url(id) });
    }
    await waitFor(() => child.events("store_paused").length === 1, { what: "store_paused" });
    await waitFor(async () => await broker.count(broker.names.queue) === 3, {
      what: "the jobs back in the queue",
    });
    const [paused] = child.events("store_paused");
    assert.equal(paused?.code, "store_full");
    assert.match(
      String(paused?.error),
      /is below the floor: .* floor 16\.0 MiB \(--min-free-space\)/,
    );
    const [status, body] = await get(port, "/healthz");
    assert.equal(status, 503);
    assert.match(body, /^unhealthy: store paused: free space of .* is below the floor/);
    assert.equal(requests(server), 0, "no download started");
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
    assert.deepEqual(await listTree(fs.dir), [], "no start mark, no directory");
  } finally {
    await child.kill();
    await broker.cleanup();
    await server.close();
  }
});

smallFsTest(
  "telemetry consume pauses when a download cannot fit, after one request, and stores it once there is room",
  async (fs) => {
    const env = randomEnv();
    const server = new TelemetryServer({ events: 20_000 });
    const broker = await TestBroker.open(env);
    // 64 KiB left: a start mark fits, the telemetry (a few hundred KiB) does not.
    const spare = `${fs.dir}/spare.bin`;
    await Deno.writeFile(spare, new Uint8Array(64 * 1024));
    await fs.fill();
    await Deno.remove(spare);
    const args = ["--metrics-port", "0", "--min-free-space", "0", "--concurrency", "1"];
    const child = new Child(testArgs(env, fs.dir, args), await brokerChildEnv());
    try {
      await waitFor(() => child.events("broker_connected").length === 1, { what: "connected" });
      const ids = ["big-1", "big-2", "big-3"];
      for (const id of ids) await broker.publish({ match_id: id, telemetry_url: server.url(id) });
      await waitFor(() => child.events("store_paused").length === 1, { what: "store_paused" });
      await waitFor(async () => await broker.count(broker.names.queue) === ids.length, {
        what: "the jobs back in the queue",
      });
      const [paused] = child.events("store_paused");
      assert.equal(paused?.code, "store_full");
      assert.equal(requests(server), 1, "one download started, not retried");
      // The start mark (and its directory) go right after the job is given back.
      let left: string[] = [];
      await waitFor(async () => {
        left = await listTree(fs.dir).catch(() => ["(a directory went while listing)"]);
        return left.length === 1 && left[0] === "fill.bin";
      }, { what: "the start mark removed" });
      assert.deepEqual(left, ["fill.bin"], "no temp file, mark or directory");
      await fs.free();
      await waitFor(async () => await broker.count(broker.names.publishQueue) === ids.length, {
        what: "all stored and announced",
        timeoutMs: 20_000,
      });
      assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
      // A job line follows the broker's confirm of its announcement (and the end of its mark).
      const stored = () => child.events("job").filter((l) => l.outcome === "downloaded");
      await waitFor(() => stored().length === ids.length, { what: "a job line for each" });
      assert.deepEqual(stored().map((l) => l.attempt), [1, 1, 1]);
      assert.deepEqual(await listTree(fs.dir), ids.map((id) => `matchID=${id}/raw.json.gz`));
    } finally {
      await child.kill();
      await broker.cleanup();
      await server.close();
    }
  },
);
