import assert from "node:assert/strict";
import { ConfirmPipeline, type PipelineChannel } from "../../src/queue/confirm_pipeline.ts";
import type { PublishProperties } from "../../src/queue/publisher.ts";

/** A confirm-mode channel whose confirms the test hands out. */
class FakeChannel implements PipelineChannel {
  readonly connection: { blocked?: string | undefined } = {};
  readonly published: { queue: string; properties: PublishProperties; mandatory: boolean }[] = [];
  #pending: { resolve: () => void; reject: (err: Error) => void }[] = [];
  maxInFlight = 0;

  basicPublish(
    _exchange: string,
    queue: string,
    _body: Uint8Array | string,
    properties: PublishProperties = {},
    mandatory = false,
  ): Promise<unknown> {
    if (this.connection.blocked !== undefined) {
      return Promise.reject(new Error(`Connection blocked by server: ${this.connection.blocked}`));
    }
    this.published.push({ queue, properties, mandatory });
    this.maxInFlight = Math.max(this.maxInFlight, this.#pending.length + 1);
    return new Promise((resolve, reject) =>
      this.#pending.push({ resolve: () => resolve(1), reject })
    );
  }

  /** Confirms the oldest `n` publishes. */
  confirm(n = Infinity): void {
    for (const p of this.#pending.splice(0, n)) p.resolve();
  }

  /** Nacks the oldest publish. */
  nack(): void {
    this.#pending.shift()?.reject(new Error("Message rejected"));
  }

  get inFlight(): number {
    return this.#pending.length;
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("ConfirmPipeline keeps at most `window` publishes unconfirmed", async () => {
  const channel = new FakeChannel();
  const pipeline = new ConfirmPipeline(channel, {
    window: 3,
    timeoutMs: 5_000,
    returned: new Set(),
  });
  const confirmed: number[] = [];
  const sending = (async () => {
    for (let i = 0; i < 10; i++) {
      await pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => confirmed.push(i));
    }
  })();
  while (confirmed.length < 10) {
    await tick();
    channel.confirm(1);
  }
  await sending;
  await pipeline.drain();
  assert.deepEqual(confirmed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(channel.maxInFlight, 3);
  assert.equal(pipeline.failure, undefined);
});

Deno.test("ConfirmPipeline publishes mandatory and persistent, with a message id", async () => {
  const channel = new FakeChannel();
  const pipeline = new ConfirmPipeline(channel, { timeoutMs: 5_000, returned: new Set() });
  await pipeline.publish({
    queue: "q",
    body: "{}",
    properties: { messageId: "keep-me", deliveryMode: 1, headers: { "x-error": "e" } },
  }, () => {});
  await pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => {});
  channel.confirm();
  await pipeline.drain();
  const [first, second] = channel.published;
  assert.equal(first?.mandatory, true);
  assert.equal(first?.properties.deliveryMode, 2);
  assert.equal(first?.properties.messageId, "keep-me");
  assert.deepEqual(first?.properties.headers, { "x-error": "e" });
  assert.match(String(second?.properties.messageId), /^[0-9a-f-]{36}$/);
});

Deno.test("ConfirmPipeline stops confirming anything after a nack", async () => {
  const channel = new FakeChannel();
  const pipeline = new ConfirmPipeline(channel, { timeoutMs: 5_000, returned: new Set() });
  const confirmed: number[] = [];
  for (let i = 0; i < 4; i++) {
    await pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => confirmed.push(i));
  }
  channel.confirm(1);
  await tick();
  channel.nack();
  await tick();
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(confirmed, [0], "nothing after the nack counts as confirmed");
  assert.match(String(pipeline.failure), /not confirmed: Message rejected/);
  assert.equal(
    await pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => confirmed.push(9)),
    false,
  );
});

Deno.test("ConfirmPipeline treats a returned publish as a failure", async () => {
  const channel = new FakeChannel();
  const returned = new Set<string>();
  const pipeline = new ConfirmPipeline(channel, { timeoutMs: 5_000, returned });
  const confirmed: number[] = [];
  await pipeline.publish({ queue: "gone", body: "{}", properties: {} }, () => confirmed.push(0));
  returned.add(String(channel.published[0]?.properties.messageId));
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(confirmed, []);
  assert.match(String(pipeline.failure), /returned by the broker: no such queue/);
});

Deno.test("ConfirmPipeline fails when no confirm comes within the timeout", async () => {
  const channel = new FakeChannel();
  const pipeline = new ConfirmPipeline(channel, { timeoutMs: 50, returned: new Set() });
  const confirmed: number[] = [];
  await pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => confirmed.push(0));
  await pipeline.drain();
  assert.match(String(pipeline.failure), /no publisher confirm within 0.05 s/);
  channel.confirm();
  await tick();
  assert.deepEqual(confirmed, [], "a late confirm does not count");
});

Deno.test("ConfirmPipeline waits while the broker blocks publishing, and the wait does not time out", async () => {
  const channel = new FakeChannel();
  channel.connection.blocked = "low on memory";
  const pipeline = new ConfirmPipeline(channel, {
    timeoutMs: 50,
    returned: new Set(),
    blockedPollMs: 5,
  });
  const confirmed: number[] = [];
  const sending = pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => {
    confirmed.push(0);
  });
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(channel.published.length, 0, "nothing sent while blocked");
  channel.connection.blocked = undefined;
  assert.equal(await sending, true);
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(confirmed, [0]);
  assert.equal(pipeline.failure, undefined);
});

Deno.test("ConfirmPipeline stops waiting for room when its signal aborts, and still confirms what is in flight", async () => {
  const channel = new FakeChannel();
  const controller = new AbortController();
  const pipeline = new ConfirmPipeline(channel, {
    window: 1,
    timeoutMs: 5_000,
    returned: new Set(),
    signal: controller.signal,
  });
  const confirmed: number[] = [];
  assert.equal(
    await pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => confirmed.push(0)),
    true,
  );
  const waiting = pipeline.publish({ queue: "q", body: "{}", properties: {} }, () => {
    confirmed.push(1);
  });
  controller.abort();
  assert.equal(await waiting, false, "not published");
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(confirmed, [0]);
  assert.equal(pipeline.failure, undefined);
});

Deno.test("ConfirmPipeline rejects a window that is not a positive integer", () => {
  assert.throws(
    () => new ConfirmPipeline(new FakeChannel(), { window: 0, timeoutMs: 1, returned: new Set() }),
    RangeError,
  );
});
