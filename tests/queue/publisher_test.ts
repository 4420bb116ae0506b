import assert from "node:assert/strict";
import {
  type FlowControl,
  type PublishChannel,
  Publisher,
  PublishError,
  type PublishProperties,
} from "../../src/queue/publisher.ts";

/** One message through a fresh Publisher's awaitable send(). */
function sendOne(
  channel: PublishChannel,
  message: {
    queue: string;
    body: string;
    properties?: PublishProperties;
    timeoutMs: number;
    returned?: Set<string>;
    flow?: FlowControl;
  },
): Promise<void> {
  const { queue, body, properties, timeoutMs, returned, flow } = message;
  const publisher = new Publisher(channel, { timeoutMs, returned, flow });
  return publisher.send({ queue, body, ...(properties === undefined ? {} : { properties }) });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function channel(result: () => Promise<unknown>, seen: unknown[] = []): PublishChannel {
  return {
    basicPublish(exchange, routingKey, body, properties, mandatory) {
      seen.push({ exchange, routingKey, body, properties, mandatory });
      return result();
    },
  };
}

Deno.test("Publisher.send() publishes persistent JSON, mandatory, through the default exchange", async () => {
  const seen: unknown[] = [];
  await sendOne(channel(() => Promise.resolve(1), seen), {
    queue: "q",
    body: "{}",
    properties: { contentType: "application/json", messageId: "m-1" },
    timeoutMs: 1000,
  });
  assert.deepEqual(seen, [{
    exchange: "",
    routingKey: "q",
    body: "{}",
    properties: { contentType: "application/json", messageId: "m-1", deliveryMode: 2 },
    mandatory: true,
  }]);
});

Deno.test("Publisher.send() adds no content type the caller did not give (a dead letter's copy)", async () => {
  const seen: { properties: Record<string, unknown> }[] = [];
  await sendOne(channel(() => Promise.resolve(1), seen as unknown[]), {
    queue: "q",
    body: "not json",
    properties: { messageId: "m-1", headers: { "x-error": "bad" } },
    timeoutMs: 1000,
  });
  assert.equal("contentType" in seen[0]!.properties, false);
});

Deno.test("Publisher.send() fails with unroutable when the broker returned the message", async () => {
  const returned = new Set<string>();
  const seen: { properties: { messageId: string } }[] = [];
  const returning: PublishChannel = {
    basicPublish(_exchange, _routingKey, _body, properties) {
      seen.push({ properties: properties as { messageId: string } });
      returned.add(String(properties?.messageId)); // basic.return comes before the confirm
      return Promise.resolve(1);
    },
  };
  await assert.rejects(
    sendOne(returning, { queue: "gone", body: "{}", timeoutMs: 1000, returned }),
    (err) => err instanceof PublishError && err.reason === "unroutable",
  );
  assert.equal(returned.size, 0, "the id is consumed");
  assert.match(seen[0]!.properties.messageId, /^[0-9a-f-]{36}$/, "a fresh id when none is given");
});

Deno.test("Publisher.send() fails with timeout when no confirm comes", async () => {
  let settle: (v: unknown) => void = () => {};
  const pending = new Promise((resolve) => settle = resolve);
  await assert.rejects(
    sendOne(channel(() => pending), { queue: "q", body: "{}", timeoutMs: 20 }),
    (err) => err instanceof PublishError && err.reason === "timeout",
  );
  settle(undefined);
});

Deno.test("Publisher.send() fails with rejected on a nack or closed channel", async () => {
  await assert.rejects(
    sendOne(channel(() => Promise.reject(new Error("Message rejected"))), {
      queue: "q",
      body: "",
      timeoutMs: 1000,
    }),
    (err) =>
      err instanceof PublishError && err.reason === "rejected" &&
      /Message rejected/.test(err.message),
  );
});

Deno.test("Publisher.send() waits while the broker blocks publishing, and its deadline waits too", async () => {
  let blocked: string | undefined = "disk alarm";
  const listeners = new Set<(blocked: string | undefined) => void>();
  const flow: FlowControl = {
    get blocked() {
      return blocked;
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const set = (reason: string | undefined) => {
    blocked = reason;
    for (const listener of listeners) listener(reason);
  };
  let confirm: (v: unknown) => void = () => {};
  const seen: unknown[] = [];
  const publishing = sendOne(
    channel(() => new Promise((resolve) => confirm = resolve), seen),
    { queue: "q", body: "{}", timeoutMs: 30, flow },
  );
  await sleep(60);
  assert.equal(seen.length, 0, "nothing sent while blocked");
  set(undefined);
  await sleep(5);
  assert.equal(seen.length, 1);
  set("memory alarm"); // blocked after the send: no confirm can come, and no timeout either
  await sleep(60);
  set(undefined);
  confirm(1);
  await publishing;
  assert.equal(listeners.size, 1, "one watcher for the publisher's life, not one per publish");
});

Deno.test("Publisher.send() gives up on its signal while the broker blocks publishing, sending nothing", async () => {
  const flow: FlowControl = { blocked: "disk alarm", watch: () => () => {} };
  const seen: unknown[] = [];
  const publisher = new Publisher(channel(() => Promise.resolve(1), seen), {
    timeoutMs: 1000,
    flow,
  });
  const controller = new AbortController();
  const sending = publisher.send({ queue: "q", body: "{}" }, { signal: controller.signal });
  await sleep(20);
  controller.abort();
  await assert.rejects(
    sending,
    (err) =>
      err instanceof PublishError && err.reason === "rejected" && /given up/.test(err.message),
  );
  assert.equal(seen.length, 0);
  assert.equal(publisher.failure, undefined, "giving up fails nothing");
});

/** A confirm-mode channel whose confirms the test hands out. */
class FakeChannel implements PublishChannel {
  readonly sent: { queue: string; properties: PublishProperties; mandatory: boolean }[] = [];
  readonly pending: { resolve: () => void; reject: (err: Error) => void; id: string }[] = [];
  maxInFlight = 0;

  basicPublish(
    exchange: string,
    queue: string,
    _body: Uint8Array | string,
    properties: PublishProperties = {},
    mandatory = false,
  ): Promise<unknown> {
    assert.equal(exchange, "");
    this.sent.push({ queue, properties, mandatory });
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: () => resolve(1), reject, id: String(properties.messageId) });
      this.maxInFlight = Math.max(this.maxInFlight, this.pending.length);
    });
  }

  /** Confirms the oldest `n` publishes. */
  confirm(n = Infinity): void {
    for (const p of this.pending.splice(0, n)) p.resolve();
  }

  /** Nacks the oldest publish. */
  nack(message = "Message rejected"): void {
    this.pending.shift()?.reject(new Error(message));
  }
}

/** The broker's blocked state, set by the test. */
class FakeFlow implements FlowControl {
  blocked: string | undefined;
  #listeners = new Set<(blocked: string | undefined) => void>();

  set(blocked: string | undefined): void {
    this.blocked = blocked;
    for (const listener of [...this.#listeners]) listener(blocked);
  }

  watch(listener: (blocked: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("Publisher keeps at most `window` publishes unconfirmed, and reports each once, in order", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { window: 3, timeoutMs: 5_000 });
  const confirmed: number[] = [];
  const sending = (async () => {
    for (let i = 0; i < 10; i++) {
      await pipeline.publish({ queue: "q", body: "{}" }, (err) => {
        assert.equal(err, undefined);
        confirmed.push(i);
      });
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

Deno.test("Publisher publishes mandatory and persistent, properties as given, with a message id", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { timeoutMs: 5_000 });
  await pipeline.publish({
    queue: "q",
    body: "{}",
    properties: { messageId: "keep-me", deliveryMode: 1, headers: { "x-error": "e" } },
  }, () => {});
  await pipeline.publish({ queue: "q", body: "{}" }, () => {});
  channel.confirm();
  await pipeline.drain();
  const [first, second] = channel.sent;
  assert.deepEqual(first, {
    queue: "q",
    properties: { messageId: "keep-me", deliveryMode: 2, headers: { "x-error": "e" } },
    mandatory: true,
  });
  assert.deepEqual(Object.keys(second?.properties ?? {}).sort(), ["deliveryMode", "messageId"]);
  assert.match(String(second?.properties.messageId), /^[0-9a-f-]{36}$/);
});

Deno.test("Publisher reports a nack as rejected, still reports later confirms, and sends nothing more", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { timeoutMs: 5_000 });
  const results: (string | undefined)[] = [];
  const failureSeen: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    await pipeline.publish({ queue: "q", body: "{}" }, (err) => {
      results.push(err?.message);
      failureSeen.push(pipeline.failure !== undefined);
    });
  }
  channel.confirm(1);
  await tick();
  channel.nack();
  await tick();
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(results, [
    undefined,
    "publish to q not confirmed: Message rejected",
    undefined,
    undefined,
  ]);
  // What `dlq replay` relies on: the failure is set before the failed publish's callback and stays set.
  assert.deepEqual(failureSeen, [false, true, true, true]);
  assert.equal(pipeline.failure?.reason, "rejected");
  assert.equal(
    await pipeline.publish({ queue: "q", body: "{}" }, () => assert.fail("not sent")),
    false,
  );
  assert.equal(channel.sent.length, 4);
});

Deno.test("Publisher reports a returned publish as unroutable, the others by their own ids", async () => {
  const returned = new Set<string>();
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { window: 8, timeoutMs: 5_000, returned });
  const results: (string | undefined)[] = [];
  for (let i = 0; i < 3; i++) {
    await pipeline.publish({ queue: "gone", body: "{}" }, (err) => results.push(err?.reason));
  }
  returned.add(channel.pending[1]!.id); // basic.return comes before the confirm
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(results, [undefined, "unroutable", undefined]);
  assert.match(pipeline.failure?.message ?? "", /publish to gone returned: no such queue/);
  assert.equal(returned.size, 0, "the id is consumed");
});

Deno.test("Publisher reports a closed channel as rejected", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { timeoutMs: 5_000 });
  let error: PublishError | undefined;
  await pipeline.publish({ queue: "q", body: "{}" }, (err) => error = err);
  channel.nack("Channel is closed");
  await pipeline.drain();
  assert.equal(error?.reason, "rejected");
  assert.match(error?.message ?? "", /not confirmed: Channel is closed/);
});

Deno.test("Publisher fails a publish whose confirm does not come in time; a late confirm changes nothing", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { timeoutMs: 50 });
  const results: (string | undefined)[] = [];
  await pipeline.publish({ queue: "q", body: "{}" }, (err) => results.push(err?.reason));
  await pipeline.drain();
  assert.match(pipeline.failure?.message ?? "", /no publisher confirm for q within 0.05 s/);
  channel.confirm();
  await tick();
  assert.deepEqual(results, ["timeout"]);
});

Deno.test("Publisher gives each publish its own deadline", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { timeoutMs: 300 });
  const results: Record<string, string> = {};
  await pipeline.publish({ queue: "q", body: "a" }, (err) => results.a = err?.reason ?? "ok");
  await sleep(200);
  await pipeline.publish({ queue: "q", body: "b" }, (err) => results.b = err?.reason ?? "ok");
  await sleep(150);
  assert.deepEqual(results, { a: "timeout" }, "a's deadline passed, b's has not");
  channel.pending[1]!.resolve();
  await pipeline.drain();
  assert.deepEqual(results, { a: "timeout", b: "ok" });
});

Deno.test("Publisher waits while the broker blocks publishing, and its deadlines wait too", async () => {
  const channel = new FakeChannel();
  const flow = new FakeFlow();
  flow.set("low on memory");
  const pipeline = new Publisher(channel, { timeoutMs: 30, flow });
  let result: string | undefined = "pending";
  const sending = pipeline.publish({ queue: "q", body: "{}" }, (err) => result = err?.reason);
  await sleep(60);
  assert.equal(channel.sent.length, 0, "nothing sent while blocked");
  flow.set(undefined);
  assert.equal(await sending, true);
  flow.set("disk alarm"); // blocked after the send: no confirm can come, and no timeout either
  await sleep(80);
  assert.equal(result, "pending");
  flow.set(undefined);
  channel.confirm();
  await pipeline.drain();
  assert.equal(result, undefined);
  assert.equal(pipeline.failure, undefined);
});

Deno.test("Publisher stops waiting for a blocked broker when its signal aborts, and fails nothing", async () => {
  const channel = new FakeChannel();
  const flow = new FakeFlow();
  const stop = new AbortController();
  const pipeline = new Publisher(channel, {
    timeoutMs: 30,
    flow,
    signal: stop.signal,
  });
  let result: string | undefined = "pending";
  await pipeline.publish({ queue: "q", body: "{}" }, (err) => result = err?.reason);
  flow.set("disk alarm");
  const waiting = pipeline.publish({ queue: "q", body: "{}" }, () => assert.fail("not sent"));
  await sleep(50);
  assert.equal(result, "pending", "the deadline waits while blocked");
  stop.abort();
  assert.equal(await waiting, false, "not sent");
  // After the abort the deadline runs again, blocked or not: drain ends.
  await pipeline.drain();
  assert.equal(result, "timeout");
  assert.equal(channel.sent.length, 1);
});

Deno.test("Publisher stops waiting for room when its signal aborts, and still reports what is in flight", async () => {
  const channel = new FakeChannel();
  const stop = new AbortController();
  const pipeline = new Publisher(channel, {
    window: 1,
    timeoutMs: 5_000,
    signal: stop.signal,
  });
  const confirmed: number[] = [];
  assert.equal(await pipeline.publish({ queue: "q", body: "{}" }, () => confirmed.push(0)), true);
  const waiting = pipeline.publish({ queue: "q", body: "{}" }, () => confirmed.push(1));
  stop.abort();
  assert.equal(await waiting, false, "not published");
  channel.confirm();
  await pipeline.drain();
  assert.deepEqual(confirmed, [0]);
  assert.equal(pipeline.failure, undefined);
});

Deno.test("Publisher settles every publish exactly once when many are confirmed at once", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { window: 300, timeoutMs: 1_000 });
  let settled = 0;
  for (let i = 0; i < 250; i++) await pipeline.publish({ queue: "q", body: "{}" }, () => settled++);
  channel.confirm();
  await pipeline.drain();
  assert.equal(settled, 250);
  assert.equal(pipeline.inFlight, 0);
});

Deno.test("Publisher fails when a callback throws", async () => {
  const channel = new FakeChannel();
  const pipeline = new Publisher(channel, { timeoutMs: 1_000 });
  await pipeline.publish({ queue: "q", body: "{}" }, () => {
    throw new Error("disk full");
  });
  channel.confirm();
  await pipeline.drain();
  assert.match(pipeline.failure?.message ?? "", /after the confirm of a publish to q: disk full/);
});

Deno.test("Publisher rejects a window that is not a positive integer", () => {
  assert.throws(
    () => new Publisher(new FakeChannel(), { window: 0, timeoutMs: 1 }),
    RangeError,
  );
});
