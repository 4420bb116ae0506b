/**
 * End-to-end tests of `telemetry consume`: `main.ts` runs in a child process
 * with exactly the CLI's permissions, against the real broker. The load run
 * (thousands of jobs with 10% transient faults, a broker restart and a
 * `kill -9`) is `deno task soak`, outside the suite.
 */

import assert from "node:assert/strict";
import { randomEnv, TelemetryServer, TestBroker, waitFor } from "../queue/harness.ts";
import { brokerChildEnv } from "../queue/operator_support.ts";
import { Child, listTree, testArgs, withConsumer } from "./consume_child.ts";
import { USAGE_HINT } from "../../src/commands/program.ts";

Deno.test("telemetry consume exits 2 with one error line (and the hint) when --env is missing or invalid", async () => {
  for (const args of [[], ["--env", "Bad.Env"]]) {
    const child = new Child([...args, "--log-format", "json"], {
      TELEMETRY_ENV: "",
      ENVIRONMENT: "",
    });
    assert.equal(await child.exit(), 2);
    // Not a log record, even with --log-format json: a usage error reads the same for every command.
    assert.equal(child.raw.length, 2, child.raw.join("\n"));
    assert.match(child.raw[0]!, /^error: .*env/);
    assert.equal(child.raw[1], USAGE_HINT);
  }
});

Deno.test("telemetry consume exits 1 with one line when the broker refuses the password, never logging it", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const child = new Child(testArgs(randomEnv(), dataDir), {
      ...await brokerChildEnv(),
      RABBITMQ_PASSWORD: "hunter2-secret",
    });
    assert.equal(await child.exit(), 1);
    const errors = child.lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.event, "broker_refused");
    assert.doesNotMatch(child.raw.join("\n"), /hunter2/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("telemetry consume exits 1 when the data dir is not writable", async () => {
  const file = await Deno.makeTempFile();
  try {
    const child = new Child(testArgs(randomEnv(), `${file}/data`), await brokerChildEnv());
    assert.equal(await child.exit(), 1);
    assert.equal(child.raw.length, 1);
    assert.equal(child.lines[0]?.event, "data_dir_not_writable");
  } finally {
    await Deno.remove(file);
  }
});

const stall: TelemetryServer["behave"] = () => ({ type: "stall" });

Deno.test("telemetry consume on SIGTERM mid-download exits 0 in time, leaves no partial file, and the job is redelivered", async () => {
  const args = ["--shutdown-timeout", "1", "--metrics-port", "0"];
  await withConsumer({ events: 5000, behave: stall, args }, async (run) => {
    const { broker, server, child, dataDir } = run;
    const port = child.events("consume_started")[0]?.metrics_port;
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    await broker.publish({ match_id: "stall-1", telemetry_url: server.url("stall-1") });
    await waitFor(() => server.active === 0 && server.requests.get("stall-1") === 1, {
      what: "download started",
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    child.process.kill("SIGTERM");
    assert.equal(await child.exit(), 0);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 4, `exited after ${seconds} s`);
    assert.ok(child.events("shutdown_aborting").length === 1);
    assert.equal(child.events("job")[0]?.outcome, "unacked");
    assert.equal(child.events("shutdown_done")[0]?.left_unacked, 1, "the unacked job is counted");
    assert.deepEqual(await listTree(dataDir), []);
    await waitFor(async () => await broker.count(broker.names.queue) === 1, { what: "requeued" });
    assert.equal(await broker.count(broker.names.publishQueue), 0);
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
  });
});

Deno.test("a job stopped by SIGTERM mid-download is not counted: the next worker runs it as delivery 1", async () => {
  const args = ["--shutdown-timeout", "0", "--max-deliveries", "1"];
  await withConsumer({ events: 5000, behave: stall, args }, async (run) => {
    const { env, broker, server, child, dataDir } = run;
    await broker.publish({ match_id: "stop-1", telemetry_url: server.url("stop-1") });
    await waitFor(() => server.requests.get("stop-1") === 1, { what: "download started" });
    child.process.kill("SIGTERM");
    assert.equal(await child.exit(), 0);
    assert.deepEqual(await listTree(dataDir), [], "no start mark left by a graceful stop");
    server.behave = () => ({ type: "ok" });
    // --max-deliveries 1: had the stop counted, this delivery would be dead-lettered.
    const next = new Child(testArgs(env, dataDir, args), await brokerChildEnv());
    try {
      await waitFor(() => next.events("job").length === 1, { what: "the job settled" });
      const [line] = next.events("job");
      assert.equal(line?.outcome, "downloaded");
      assert.equal(line?.attempt, 1);
      assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
      assert.deepEqual(await listTree(dataDir), ["matchID=stop-1/raw.json.gz"]);
    } finally {
      await next.kill();
    }
  });
});

Deno.test("telemetry consume exits at once on a second signal, without partial files", async () => {
  const args = ["--shutdown-timeout", "60"];
  await withConsumer({ events: 5000, behave: stall, args }, async (run) => {
    const { broker, server, child, dataDir } = run;
    await broker.publish({ match_id: "stall-2", telemetry_url: server.url("stall-2") });
    await waitFor(() => server.requests.get("stall-2") === 1, { what: "download started" });
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    child.process.kill("SIGTERM");
    await waitFor(() => child.events("shutdown_started").length === 1);
    child.process.kill("SIGINT");
    assert.equal(await child.exit(), 0);
    assert.ok(performance.now() - started < 3000);
    assert.deepEqual(await listTree(dataDir), []);
    await waitFor(async () => await broker.count(broker.names.queue) === 1, { what: "requeued" });
  });
});

Deno.test("telemetry consume dead-letters a job that kills the worker --max-deliveries times; the next worker is healthy", async () => {
  const env = randomEnv();
  const dataDir = await Deno.makeTempDir();
  const server = new TelemetryServer({ events: 5000 });
  server.behave = () => ({ type: "stall" });
  const broker = await TestBroker.open(env);
  const maxDeliveries = 2;
  const args = testArgs(env, dataDir, ["--max-deliveries", String(maxDeliveries)]);
  const children: Child[] = [];
  try {
    await broker.publish({ match_id: "killer-1", telemetry_url: server.url("killer-1") });
    // Each worker takes the job, starts the download, and dies mid-transfer.
    for (let kill = 1; kill <= maxDeliveries; kill++) {
      const child = new Child(args, await brokerChildEnv());
      children.push(child);
      await waitFor(() => server.requests.get("killer-1") === kill, {
        what: `download ${kill} started`,
        timeoutMs: 20_000,
      });
      await child.kill();
    }
    const next = new Child(args, await brokerChildEnv());
    children.push(next);
    await waitFor(async () => await broker.count(broker.names.deadLetterQueue) === 1, {
      what: "the job dead-lettered",
      timeoutMs: 20_000,
    });
    const [dead] = await broker.take(broker.names.deadLetterQueue);
    const headers = dead?.properties.headers ?? {};
    assert.equal(headers["x-error-kind"], "redelivered");
    assert.match(
      String(headers["x-error"]),
      /^started 2 times and never finished: each time the worker died/,
    );
    assert.equal(server.requests.get("killer-1"), maxDeliveries, "no third download");
    // The job line follows the ack, which the DLQ count may beat.
    await waitFor(() => next.events("job").length >= 1, { what: "the job line" });
    assert.deepEqual(next.events("job").map((j) => j.outcome), ["dead_lettered"]);
    // The next worker goes on with other jobs.
    server.behave = () => ({ type: "ok" });
    await broker.publish({ match_id: "after-1", telemetry_url: server.url("after-1") });
    await waitFor(() => next.events("job").some((j) => j.outcome === "downloaded"), {
      what: "the next job downloaded",
    });
    // kill -9 cannot clean up: the killed workers' temp files stay (verify --fix removes
    // them); their start marks went with the dead letter.
    const stored = (await listTree(dataDir)).filter((p) => !p.endsWith(".tmp"));
    assert.deepEqual(stored, ["matchID=after-1/raw.json.gz"]);
  } finally {
    for (const child of children) await child.kill();
    await broker.cleanup();
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
