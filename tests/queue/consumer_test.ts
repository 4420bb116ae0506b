import assert from "node:assert/strict";
import type { AMQPMessage } from "amqp-client";
import { gzipBytes } from "../support/telemetry_fixture.ts";
import { waitFor } from "./harness.ts";
import { scenario } from "./scenario.ts";

const decoder = new TextDecoder();

function json(message: AMQPMessage): Record<string, unknown> {
  return JSON.parse(message.bodyString() ?? "null");
}

Deno.test("Consumer stores the file, announces it with every field, and acks", async () => {
  await scenario(async ({ server, broker, worker }) => {
    const job = {
      match_id: "happy-1",
      telemetry_url: server.url("happy-1"),
      map_name: "Baltic_Main",
      game_mode: "squad-fpp",
      match_datetime: "2024-11-28T12:00:00Z",
      summaries_processed: true,
    };
    await broker.publish(job);
    await waitFor(() => worker.jobs().length === 1, { what: "job done" });
    const [out, ...rest] = await broker.take(broker.names.publishQueue);
    assert.equal(rest.length, 0);
    assert.ok(out);
    const body = json(out);
    const path = `${worker.dataDir}/matchID=happy-1/raw.json.gz`;
    assert.deepEqual(Object.keys(body).sort(), [
      "downloaded_at",
      "environment",
      "file_path",
      "file_size_mb",
      "game_mode",
      "map_name",
      "match_datetime",
      "match_id",
      "queue_target",
      "worker_id",
    ]);
    assert.equal(body.match_id, "happy-1");
    assert.equal(body.file_path, path);
    assert.equal(body.map_name, "Baltic_Main");
    assert.equal(body.game_mode, "squad-fpp");
    assert.equal(body.match_datetime, "2024-11-28T12:00:00Z");
    assert.equal(body.worker_id, "test-worker");
    assert.equal(body.environment, broker.names.queue.split(".").at(-1));
    assert.equal(body.queue_target, broker.names.publishQueue);
    assert.match(String(body.downloaded_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const size = (await Deno.stat(path)).size;
    assert.equal(body.file_size_mb, Math.round(size / 1024 / 1024 * 10_000) / 10_000);
    assert.equal(out.properties.deliveryMode, 2);
    assert.equal(out.properties.contentType, "application/json");
    assert.deepEqual(await Deno.readFile(path), await server.gzip("happy-1"));
    // Acked: nothing left in the job queue, nothing unacked (the worker is still connected).
    assert.equal(await broker.count(broker.names.queue), 0);
    const line = worker.jobs()[0];
    assert.equal(line?.outcome, "downloaded");
    assert.equal(line?.attempt, 1);
    assert.equal(line?.bytes, size);
    assert.equal(typeof line?.seconds, "number");
  });
});

Deno.test("Consumer announces an already stored file without downloading it", async () => {
  await scenario(async ({ server, broker, worker }) => {
    await Deno.mkdir(`${worker.dataDir}/matchID=there-1`, { recursive: true });
    await Deno.writeFile(`${worker.dataDir}/matchID=there-1/raw.json.gz`, await server.gzip("x"));
    await broker.publish({ match_id: "there-1", telemetry_url: server.url("there-1") });
    await waitFor(() => worker.jobs().length === 1, { what: "job done" });
    assert.equal(worker.jobs()[0]?.outcome, "already_exists");
    assert.equal(server.requests.get("there-1"), undefined);
    const out = await broker.take(broker.names.publishQueue);
    assert.equal(out.length, 1);
    assert.equal(json(out[0]!).match_id, "there-1");
    assert.equal(await broker.count(broker.names.queue), 0);
  });
});

Deno.test("Consumer dead-letters every permanent failure with x-error headers and publishes nothing else", async () => {
  await scenario(async ({ server, broker, worker }) => {
    const other = await gzipBytes(new TextEncoder().encode("[1,2"));
    server.behave = (matchId) => {
      if (matchId === "gone-1") return { type: "status", status: 404 };
      if (matchId === "forbidden-1") return { type: "status", status: 403 };
      if (matchId === "cut-1") return { type: "body", bytes: other };
      return { type: "ok" };
    };
    const wrongMatchUrl = server.url("someone-else");
    const cases: [string, string, string][] = [
      ["not json", "{nope", "bad_body"],
      ["array body", "[1]", "bad_body"],
      ["missing url", JSON.stringify({ match_id: "m" }), "missing_field"],
      [
        "bad match id",
        JSON.stringify({ match_id: "../x", telemetry_url: server.url("a") }),
        "bad_match_id",
      ],
      [
        "host refused",
        JSON.stringify({ match_id: "host-1", telemetry_url: "https://evil.example/x.json" }),
        "url_refused",
      ],
      [
        "404",
        JSON.stringify({ match_id: "gone-1", telemetry_url: server.url("gone-1") }),
        "http_status",
      ],
      [
        "403",
        JSON.stringify({ match_id: "forbidden-1", telemetry_url: server.url("forbidden-1") }),
        "http_status",
      ],
      [
        "invalid content",
        JSON.stringify({ match_id: "cut-1", telemetry_url: server.url("cut-1") }),
        "",
      ],
      [
        "wrong match",
        JSON.stringify({ match_id: "mine-1", telemetry_url: wrongMatchUrl }),
        "wrong_match",
      ],
    ];
    for (const [, body] of cases) await broker.publish(body, { "x-trace": "keep-me" });
    await waitFor(() => worker.jobs().length === cases.length, { what: "all jobs settled" });
    const dead = await broker.take(broker.names.deadLetterQueue);
    assert.equal(dead.length, cases.length);
    assert.equal((await broker.take(broker.names.publishQueue)).length, 0);
    assert.equal(await broker.count(broker.names.retryQueue), 0);
    assert.equal(await broker.count(broker.names.queue), 0);
    const bodies = dead.map((m) => decoder.decode(m.body ?? new Uint8Array()));
    for (const [name, body, code] of cases) {
      const message = dead[bodies.indexOf(body)];
      assert.ok(message, `${name}: original body in the DLQ`);
      const headers = message.properties.headers ?? {};
      assert.equal(typeof headers["x-error"], "string", name);
      assert.doesNotMatch(String(headers["x-error"]), /\n/, name);
      assert.ok(["permanent", "usage"].includes(String(headers["x-error-kind"])), name);
      if (code !== "") assert.equal(headers["x-error-code"], code, name);
      assert.equal(Number(headers["x-attempts"]), 1, name);
      assert.equal(headers["x-original-queue"], broker.names.queue, name);
      assert.match(String(headers["x-failed-at"]), /^\d{4}-.*Z$/, name);
      assert.equal(headers["x-worker-id"], "test-worker", name);
      assert.equal(headers["x-trace"], "keep-me", name);
    }
    for (const entry of await Array.fromAsync(Deno.readDir(worker.dataDir))) {
      assert.fail(`nothing may be stored, found ${entry.name}`);
    }
  });
});

Deno.test("Consumer sends a transient failure through the retry queue, then succeeds", async () => {
  await scenario(async ({ server, broker, worker }) => {
    server.behave = (_id, request) =>
      request <= 2 ? { type: "status", status: 503 } : { type: "ok" };
    await broker.publish({ match_id: "flaky-1", telemetry_url: server.url("flaky-1") });
    await waitFor(() => worker.jobs().some((j) => j.outcome === "downloaded"), {
      what: "download after retries",
    });
    assert.deepEqual(worker.jobs().map((j) => [j.outcome, j.attempt]), [
      ["retry", 1],
      ["retry", 2],
      ["downloaded", 3],
    ]);
    const out = await broker.take(broker.names.publishQueue);
    assert.equal(out.length, 1);
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
  });
});

Deno.test("Consumer does not ack a job whose announcement is unroutable: it redeclares and announces it", async () => {
  await scenario(async ({ server, broker, worker }) => {
    const { publishQueue, deadLetterQueue } = broker.names;
    // An operator deletes the processing queue while the worker runs.
    await broker.deleteQueue(publishQueue);
    await broker.publish({ match_id: "unroutable-1", telemetry_url: server.url("unroutable-1") });
    await waitFor(async () => {
      try {
        return await broker.count(publishQueue) === 1;
      } catch {
        return false; // not declared again yet
      }
    }, { what: "the announcement in the re-created queue" });
    const [announced] = await broker.take(publishQueue);
    assert.equal(JSON.parse(announced?.bodyString() ?? "{}").match_id, "unroutable-1");
    assert.equal(await broker.count(deadLetterQueue), 0);
    const outcomes = worker.jobs().map((j) => j.outcome);
    assert.equal(outcomes[0], "unacked", "the first try was not acked");
    assert.ok(
      worker.logs.filter((l) => l.event === "broker_connected").length >= 2,
      "the session was renewed",
    );
  });
});

Deno.test("Consumer dead-letters a job with 20 KiB of headers (beyond the client's default 8 KiB frame)", async () => {
  await scenario(async ({ server, broker, worker }) => {
    server.behave = () => ({ type: "status", status: 404 });
    const headers: Record<string, string> = {};
    for (let i = 0; i < 20; i++) headers[`x-trace-${i}`] = "t".repeat(1024);
    await broker.publish(
      { match_id: "big-headers-1", telemetry_url: server.url("big-headers-1") },
      headers,
    );
    await waitFor(async () => await broker.count(broker.names.deadLetterQueue) === 1, {
      what: "dead letter",
    });
    const [dead] = await broker.take(broker.names.deadLetterQueue);
    const got = dead?.properties.headers ?? {};
    assert.equal(got["x-error-kind"], "permanent");
    assert.equal(got["x-trace-19"], "t".repeat(1024), "every inbound header fits the budget");
    await waitFor(() => worker.jobs().length === 1, { what: "the job line" });
    assert.equal(worker.jobs()[0]?.outcome, "dead_lettered");
    assert.ok(worker.worker.healthy, "the session survived the publish");
  });
});

Deno.test("Consumer dead-letters a transient failure after --max-deliveries", async () => {
  await scenario(async ({ server, broker, worker }) => {
    server.behave = () => ({ type: "status", status: 503 });
    await broker.publish({ match_id: "down-1", telemetry_url: server.url("down-1") });
    await waitFor(() => worker.jobs().some((j) => j.outcome === "dead_lettered"), {
      what: "dead-lettered",
    });
    assert.deepEqual(worker.jobs().map((j) => j.outcome), ["retry", "retry", "dead_lettered"]);
    // --attempts 2 in-process attempts per delivery, 3 deliveries.
    assert.equal(server.requests.get("down-1"), 6);
    const [dead] = await broker.take(broker.names.deadLetterQueue);
    assert.ok(dead);
    const headers = dead.properties.headers ?? {};
    assert.equal(headers["x-error-kind"], "transient");
    assert.equal(Number(headers["x-attempts"]), 3);
    assert.match(String(headers["x-error"]), /^gave up after 3 deliveries: /);
    assert.equal((await broker.take(broker.names.publishQueue)).length, 0);
  }, { flags: { maxDeliveries: 3 }, attempts: 2 });
});

Deno.test("Consumer gives a message replayed from the DLQ a fresh delivery count", async () => {
  await scenario(async ({ server, broker, worker }) => {
    await broker.publish(
      { match_id: "replay-1", telemetry_url: server.url("replay-1") },
      { "x-error": "old failure", "x-attempts": 5, "x-error-kind": "transient" },
    );
    await waitFor(() => worker.jobs().length === 1, { what: "job done" });
    assert.equal(worker.jobs()[0]?.attempt, 1);
    assert.equal(worker.jobs()[0]?.outcome, "downloaded");
  });
});

Deno.test("Consumer runs --concurrency downloads at once, never more", async () => {
  await scenario(async ({ server, broker, worker }) => {
    server.behave = () => ({ type: "ok", delayMs: 300 });
    for (let i = 0; i < 9; i++) {
      await broker.publish({ match_id: `slow-${i}`, telemetry_url: server.url(`slow-${i}`) });
    }
    await waitFor(() => worker.jobs().length === 9, { what: "9 jobs", timeoutMs: 15_000 });
    assert.equal(server.maxActive, 3);
    assert.equal((await broker.take(broker.names.publishQueue)).length, 9);
  }, { flags: { concurrency: 3 } });
});
