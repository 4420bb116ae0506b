/**
 * The dead-letter queue operations (`src/queue/dlq.ts`) against the real
 * broker: what they read, move and remove, and that the queue keeps its
 * order around what they leave.
 */

import assert from "node:assert/strict";
import { AMQPClient } from "amqp-client";
import {
  type DeadLetter,
  purgeDeadLetters,
  replayDeadLetters,
  scanDeadLetters,
} from "../../src/queue/dlq.ts";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import {
  alternating,
  type DeadLetterEnv,
  evens,
  increasing,
  letters,
  numberOf,
  odds,
  range,
  withDlq,
  withLetters,
} from "./dlq_harness.ts";
import { startWorker, TelemetryServer, waitFor } from "./harness.ts";

const HOUR = 3_600_000;

Deno.test("scanDeadLetters() reads every dead letter in order and leaves the queue as it was", async () => {
  await withDlq(async (dlq) => {
    // More than one chunk of 256, so the read moves across channels.
    await dlq.fill(letters(700, alternating));
    const seen: number[] = [];
    const summary = await scanDeadLetters({
      broker: dlq.broker,
      onDeadLetter: (letter) => {
        seen.push(numberOf(letter.message));
        assert.equal(letter.position, seen.length);
        assert.equal(letter.info.matchId, `dl-${seen.length - 1}`);
      },
    });
    assert.equal(summary.failure, undefined);
    assert.deepEqual(seen, range(0, 700));
    assert.deepEqual(
      { total: summary.total, matched: summary.matched, done: summary.done },
      { total: 700, matched: 700, done: 700 },
    );
    assert.deepEqual(summary.byKind, { transient: 350, permanent: 350 });
    assert.equal(await dlq.count(dlq.names.deadLetterQueue), 700, "all back right away");
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 700));
  });
});

Deno.test("scanDeadLetters() and replayDeadLetters() keep the order across many small chunks and a slow reader", async () => {
  await withLetters(300, async (dlq) => {
    const seen: number[] = [];
    const slowReader = async ({ message }: DeadLetter) => {
      seen.push(numberOf(message));
      if (seen.length % 50 === 0) await new Promise((r) => setTimeout(r, 50));
    };
    const scan = await scanDeadLetters({ broker: dlq.broker, chunk: 8, onDeadLetter: slowReader });
    assert.equal(scan.failure, undefined);
    assert.deepEqual(seen, range(0, 300));
    const replay = await replayDeadLetters({
      broker: dlq.broker,
      chunk: 8,
      window: 3,
      filter: { kinds: ["permanent"] },
    });
    assert.equal(replay.removed, 150);
    assert.deepEqual(await dlq.contents(), { queue: odds(300), deadLetters: evens(300) });
  });
});

Deno.test("scanDeadLetters() on an empty queue reads nothing and says so", async () => {
  await withDlq(async (dlq) => {
    const summary = await scanDeadLetters({ broker: dlq.broker });
    assert.equal(summary.failure, undefined);
    assert.equal(summary.total, 0);
    assert.deepEqual(summary.byKind, {});
  });
});

Deno.test("replayDeadLetters() moves the matching dead letters and keeps the rest in order", async () => {
  await withLetters(700, async (dlq) => {
    const transient = { kinds: ["transient"] };
    const summary = await replayDeadLetters({ broker: dlq.broker, filter: transient });
    assert.equal(summary.failure, undefined);
    assert.deepEqual(
      { total: summary.total, matched: summary.matched, done: summary.done },
      { total: 700, matched: 350, done: 350 },
    );
    assert.equal(summary.removed, 350);
    assert.deepEqual(await dlq.numbers(dlq.names.queue), evens(700), "replayed in DLQ order");
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), odds(700), "the rest in order");
  });
});

Deno.test("replayDeadLetters() republishes body, headers and properties unchanged", async () => {
  await withDlq(async (dlq) => {
    await dlq.fill([{ kind: "transient", error: "HTTP 503" }]);
    const [dead] = await scanCopy(dlq);
    await replayDeadLetters({ broker: dlq.broker });
    const [copy] = await dlq.drain(dlq.names.queue);
    assert.ok(dead && copy);
    assert.equal(copy.bodyString(), dead.bodyString());
    assert.deepEqual(copy.properties.headers, dead.properties.headers);
    assert.equal(copy.properties.headers?.["x-error"], "HTTP 503");
    assert.equal(copy.properties.contentType, "application/json");
    assert.equal(copy.properties.deliveryMode, 2);
    assert.equal(copy.redelivered, false, "a new message, not a redelivery");
    assert.equal(await dlq.count(dlq.names.deadLetterQueue), 0);
  });
});

/** The messages of the DLQ, read by a scan (left in place). */
async function scanCopy(dlq: DeadLetterEnv) {
  const messages: { bodyString(): string | null; properties: Record<string, unknown> }[] = [];
  await scanDeadLetters({
    broker: dlq.broker,
    onDeadLetter: ({ message }) => {
      messages.push({
        bodyString: () => message.bodyString(),
        properties: { ...message.properties },
      });
    },
  });
  return messages;
}

Deno.test("replayDeadLetters() gives a job a fresh delivery count: the worker downloads it at attempt 1", async () => {
  await withDlq(async (dlq) => {
    const server = new TelemetryServer();
    let failing = true;
    server.behave = () => failing ? { type: "status", status: 503 } : { type: "ok" };
    const worker = await startWorker(dlq.env, { flags: { maxDeliveries: 2, retryDelay: 0.1 } });
    try {
      const channel = await dlq.channel();
      await channel.basicPublish(
        "",
        dlq.names.queue,
        JSON.stringify({ match_id: "fresh-1", telemetry_url: server.url("fresh-1") }),
        { deliveryMode: 2, contentType: "application/json" },
      );
      await waitFor(async () => await dlq.count(dlq.names.deadLetterQueue) === 1, {
        what: "the job dead-lettered after 2 deliveries",
      });
      // The job's log line comes after its ack, which the DLQ count can beat.
      await waitFor(() => worker.jobs().at(-1)?.outcome === "dead_lettered", {
        what: "the dead_lettered job line",
      });
      const before = worker.jobs().length;
      assert.equal(worker.jobs().at(-1)?.attempt, 2);
      failing = false;
      const summary = await replayDeadLetters({
        broker: dlq.broker,
        filter: { kinds: ["transient"] },
      });
      assert.equal(summary.removed, 1);
      await waitFor(() => worker.jobs().length === before + 1, { what: "the replayed job" });
      const job = worker.jobs().at(-1);
      assert.equal(job?.outcome, "downloaded");
      assert.equal(job?.attempt, 1, "a replayed job starts its count over");
      assert.equal(await dlq.count(dlq.names.deadLetterQueue), 0);
    } finally {
      await worker.stop();
      await server.close();
      await Deno.remove(worker.dataDir, { recursive: true });
    }
  });
});

Deno.test("replayDeadLetters() --match-id and --error-contains select the dead letters they name", async () => {
  await withDlq(async (dlq) => {
    await dlq.fill(letters(20, (i) => ({
      kind: "transient",
      error: i % 5 === 0 ? `HTTP 503 (${i})` : `HTTP 404 (${i})`,
    })));
    const byId = await replayDeadLetters({
      broker: dlq.broker,
      filter: { matchIds: ["dl-3", "dl-17", "dl-99"] },
    });
    assert.equal(byId.removed, 2);
    const byError = await replayDeadLetters({
      broker: dlq.broker,
      filter: { errorContains: "http 503" },
    });
    assert.equal(byError.removed, 4);
    assert.deepEqual(await dlq.numbers(dlq.names.queue), [3, 17, 0, 5, 10, 15]);
    assert.deepEqual(
      await dlq.numbers(dlq.names.deadLetterQueue),
      range(0, 20).filter((i) => i !== 3 && i !== 17 && i % 5 !== 0),
    );
  });
});

Deno.test("replayDeadLetters() --older-than and --newer-than compare x-failed-at with now", async () => {
  await withDlq(async (dlq) => {
    // Dead letter i failed i hours ago.
    await dlq.fill(letters(10, (i) => ({ kind: "transient", ageMs: i * HOUR + 60_000 })));
    const old = await replayDeadLetters({ broker: dlq.broker, filter: { olderThanMs: 7 * HOUR } });
    assert.equal(old.removed, 3); // 7, 8, 9
    const recent = await replayDeadLetters({
      broker: dlq.broker,
      filter: { newerThanMs: 2 * HOUR },
    });
    assert.equal(recent.removed, 2); // 0, 1
    const between = await replayDeadLetters({
      broker: dlq.broker,
      filter: { olderThanMs: 3 * HOUR, newerThanMs: 5 * HOUR },
    });
    assert.equal(between.removed, 2); // 3, 4
    assert.deepEqual(await dlq.numbers(dlq.names.queue), [7, 8, 9, 0, 1, 3, 4]);
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), [2, 5, 6]);
  });
});

Deno.test("replayDeadLetters() --limit replays the first N that match, in order", async () => {
  await withLetters(30, async (dlq) => {
    const summary = await replayDeadLetters({
      broker: dlq.broker,
      filter: { kinds: ["permanent"] },
      limit: 4,
    });
    assert.equal(summary.removed, 4);
    assert.deepEqual(summary.byKind, { permanent: 4 });
    assert.deepEqual(await dlq.numbers(dlq.names.queue), [1, 3, 5, 7]);
    assert.deepEqual(
      await dlq.numbers(dlq.names.deadLetterQueue),
      range(0, 30).filter((i) => ![1, 3, 5, 7].includes(i)),
    );
  });
});

Deno.test("purgeDeadLetters() removes only the matching dead letters; the rest keep their order", async () => {
  await withLetters(700, async (dlq) => {
    const permanent = { kinds: ["permanent"] };
    const summary = await purgeDeadLetters({ broker: dlq.broker, filter: permanent });
    assert.equal(summary.failure, undefined);
    assert.equal(summary.removed, 350);
    assert.equal(await dlq.count(dlq.names.queue), 0, "purge publishes nothing");
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), evens(700));
  });
});

Deno.test("replayDeadLetters() stopped by its signal finishes what is in flight and loses nothing", async () => {
  await withLetters(3000, async (dlq) => {
    const controller = new AbortController();
    const summary = await replayDeadLetters({
      broker: dlq.broker,
      filter: { kinds: ["transient"] },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.scanned === 600) controller.abort();
      },
    });
    assert.equal(summary.failure?.kind, "interrupted");
    assert.ok(summary.scanned < 3000, `stopped early (${summary.scanned})`);
    assert.equal(summary.done, summary.removed, "every confirmed copy was acked");
    const replayed = await dlq.numbers(dlq.names.queue);
    const left = await dlq.numbers(dlq.names.deadLetterQueue);
    assert.equal(replayed.length, summary.removed);
    assert.ok(increasing(replayed) && increasing(left));
    assert.deepEqual([...replayed, ...left].sort((a, b) => a - b), range(0, 3000));
  });
});

Deno.test("DLQ operations report a missing queue, a busy queue and an unreachable broker", async () => {
  await withDlq(async (dlq) => {
    const missing = await scanDeadLetters({
      broker: resolveBrokerSettings({ env: `${dlq.env}-none`, amqpUrl: dlq.url }, {}),
    });
    assert.equal(missing.failure?.kind, "no_queue");
    assert.match(String(missing.failure?.message), /dlq\.telemetry\.t-.*-none does not exist/);

    await dlq.fill(letters(3, alternating));
    await dlq.deleteQueue(dlq.names.queue);
    const noTarget = await replayDeadLetters({ broker: dlq.broker });
    assert.equal(noTarget.failure?.kind, "no_queue");
    assert.match(String(noTarget.failure?.message), /match\.telemetry\./);

    const client = new AMQPClient(dlq.broker.amqpUrl);
    await client.connect();
    try {
      const channel = await client.channel();
      await channel.prefetch(1); // it holds one; two stay ready for the scan to find
      await channel.basicConsume(dlq.names.deadLetterQueue, { noAck: false }, () => {});
      const busy = await scanDeadLetters({ broker: dlq.broker });
      assert.equal(busy.failure?.kind, "busy");
      assert.match(String(busy.failure?.message), /being read by another client/);
    } finally {
      await client.close();
    }

    const port = (() => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      listener.close();
      return listener.addr.port;
    })();
    const unreachable = await scanDeadLetters({
      broker: resolveBrokerSettings(
        { env: dlq.env, amqpUrl: `amqp://guest:s3cret@127.0.0.1:${port}/` },
        {},
      ),
    });
    assert.equal(unreachable.failure?.kind, "unreachable");
    assert.doesNotMatch(String(unreachable.failure?.message), /s3cret/);
    assert.equal(
      await dlq.settled(dlq.names.deadLetterQueue),
      3,
      "nothing taken by any of them",
    );
  });
});
