/**
 * `snapshotQueue()` against the real broker: it takes what the queue held
 * when it started, in order, and its close puts everything back in place.
 */

import assert from "node:assert/strict";
import { AMQPClient } from "amqp-client";
import { snapshotQueue } from "../../src/queue/queue_snapshot.ts";
import { DeadLetterEnv, letters, numberOf, range } from "./dlq_harness.ts";

async function withQueue(
  fn: (dlq: DeadLetterEnv, client: AMQPClient) => Promise<void>,
): Promise<void> {
  const dlq = await DeadLetterEnv.open();
  const client = new AMQPClient(dlq.broker.amqpUrl);
  await client.connect();
  try {
    await fn(dlq, client);
  } finally {
    await client.close();
    await dlq.cleanup();
  }
}

Deno.test("snapshotQueue() takes only what was there at the start; later arrivals go back in place", async () => {
  await withQueue(async (dlq, client) => {
    const queue = dlq.names.deadLetterQueue;
    await dlq.fill(letters(5, { kind: "permanent" }));
    const snapshot = await snapshotQueue(client, queue, { chunk: 2 });
    await dlq.fill(letters(3, { kind: "permanent" }), 5);
    const taken: number[] = [];
    for await (const message of snapshot) taken.push(numberOf(message));
    await snapshot.close();
    assert.equal(snapshot.expected, 5);
    assert.deepEqual(taken, range(0, 5));
    assert.equal(snapshot.short, false);
    assert.deepEqual(await dlq.numbers(queue), range(0, 8));
  });
});

Deno.test("snapshotQueue() keeps acked messages out and the rest in order across channels", async () => {
  await withQueue(async (dlq, client) => {
    const queue = dlq.names.deadLetterQueue;
    await dlq.fill(letters(50, { kind: "permanent" }));
    const snapshot = await snapshotQueue(client, queue, { chunk: 4 });
    for await (const message of snapshot) {
      if (numberOf(message) % 3 === 0) await message.ack();
    }
    await snapshot.close();
    assert.deepEqual(await dlq.numbers(queue), range(0, 50).filter((i) => i % 3 !== 0));
  });
});

Deno.test("snapshotQueue() ends short when another client removes messages meanwhile", async () => {
  await withQueue(async (dlq, client) => {
    const queue = dlq.names.deadLetterQueue;
    await dlq.fill(letters(20, { kind: "permanent" }));
    const snapshot = await snapshotQueue(client, queue, { chunk: 1, idleMs: 200 });
    await (await dlq.channel()).queuePurge(queue);
    let taken = 0;
    for await (const _ of snapshot) taken++;
    await snapshot.close();
    assert.equal(snapshot.short, true);
    assert.ok(taken < 20, `took ${taken}`);
    assert.equal(await dlq.settled(queue), taken, "what it took is back");
  });
});

Deno.test("snapshotQueue() of an empty queue yields nothing and consumes nothing", async () => {
  await withQueue(async (dlq, client) => {
    const snapshot = await snapshotQueue(client, dlq.names.deadLetterQueue);
    let taken = 0;
    for await (const _ of snapshot) taken++;
    await snapshot.close();
    assert.equal(taken, 0);
    assert.equal(snapshot.expected, 0);
  });
});
