import assert from "node:assert/strict";
import type { PublishChannel, PublishError } from "../../src/queue/publisher.ts";
import { PublishWindow } from "../../src/queue/publish_window.ts";

/** A channel whose confirms the test releases by hand. */
class FakeChannel implements PublishChannel {
  readonly sent: { routingKey: string; properties: Record<string, unknown>; mandatory: boolean }[] =
    [];
  readonly pending: { resolve: () => void; reject: (err: Error) => void; id: string }[] = [];
  maxPending = 0;

  basicPublish(
    exchange: string,
    routingKey: string,
    _body: Uint8Array | string,
    properties: Record<string, unknown> = {},
    mandatory = false,
  ): Promise<unknown> {
    assert.equal(exchange, "");
    this.sent.push({ routingKey, properties, mandatory });
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ resolve, reject, id: String(properties.messageId) });
      this.maxPending = Math.max(this.maxPending, this.pending.length);
    });
  }

  /** Confirms the oldest `n` publishes. */
  confirm(n = this.pending.length): void {
    for (const p of this.pending.splice(0, n)) p.resolve();
  }
}

async function settleAll(channel: FakeChannel, window: PublishWindow): Promise<void> {
  while (window.inFlight > 0) {
    channel.confirm();
    await new Promise((r) => setTimeout(r, 0));
  }
}

Deno.test("PublishWindow sends persistent JSON, mandatory, and never more than `size` in flight", async () => {
  const channel = new FakeChannel();
  const window = new PublishWindow(channel, { size: 4, timeoutMs: 1000 });
  const confirmed: number[] = [];
  const sending = (async () => {
    for (let i = 0; i < 20; i++) {
      await window.send({ queue: "q", body: "{}" }, (err) => {
        assert.equal(err, undefined);
        confirmed.push(i);
      });
    }
  })();
  while (confirmed.length < 20) {
    await new Promise((r) => setTimeout(r, 1));
    channel.confirm(1);
  }
  await sending;
  await window.drain();
  assert.equal(channel.maxPending, 4);
  assert.deepEqual(confirmed, Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(channel.sent[0], {
    routingKey: "q",
    properties: {
      contentType: "application/json",
      messageId: channel.sent[0]!.properties.messageId,
      deliveryMode: 2,
    },
    mandatory: true,
  });
});

Deno.test("PublishWindow reports a returned publish as unroutable and sends nothing after it", async () => {
  const returned = new Set<string>();
  const channel = new FakeChannel();
  const window = new PublishWindow(channel, { size: 8, timeoutMs: 1000, returned });
  const results: (string | undefined)[] = [];
  for (let i = 0; i < 3; i++) {
    await window.send({ queue: "gone", body: "{}" }, (err) => results.push(err?.reason));
  }
  returned.add(channel.pending[1]!.id); // basic.return comes before the confirm
  channel.confirm();
  await window.drain();
  assert.deepEqual(results, [undefined, "unroutable", undefined]);
  assert.equal(window.failure?.reason, "unroutable");
  await assert.rejects(
    window.send({ queue: "gone", body: "{}" }, () => assert.fail("not sent")),
    (err: PublishError) => err.reason === "unroutable",
  );
  assert.equal(channel.sent.length, 3);
});

Deno.test("PublishWindow reports a nack or a closed channel as rejected", async () => {
  const channel = new FakeChannel();
  const window = new PublishWindow(channel, { timeoutMs: 1000 });
  const results: (string | undefined)[] = [];
  await window.send({ queue: "q", body: "{}" }, (err) => results.push(err?.message));
  channel.pending.shift()!.reject(new Error("Channel is closed"));
  await window.drain();
  assert.equal(window.failure?.reason, "rejected");
  assert.match(results[0] ?? "", /not confirmed: Channel is closed/);
});

Deno.test("PublishWindow fails a publish whose confirm does not come in time", async () => {
  const channel = new FakeChannel();
  const window = new PublishWindow(channel, { timeoutMs: 20 });
  let reason: string | undefined;
  await window.send({ queue: "q", body: "{}" }, (err) => reason = err?.reason);
  await window.drain();
  assert.equal(reason, "timeout");
  channel.confirm(); // a late confirm changes nothing
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(reason, "timeout");
});

Deno.test("PublishWindow waits while the broker blocks publishing, and its deadline waits too", async () => {
  const channel = new FakeChannel();
  let blocked: string | undefined = "low on memory";
  const window = new PublishWindow(channel, {
    timeoutMs: 30,
    blocked: () => blocked,
    blockedPollMs: 5,
  });
  let result: string | undefined = "pending";
  const sending = window.send({ queue: "q", body: "{}" }, (err) => result = err?.reason);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(channel.sent.length, 0, "nothing sent while blocked");
  blocked = undefined;
  await sending;
  blocked = "disk alarm"; // blocked after the send: no confirm can come, and no timeout either
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(result, "pending");
  blocked = undefined;
  channel.confirm();
  await window.drain();
  assert.equal(result, undefined);
});

Deno.test("PublishWindow gives up waiting for a blocked broker when its signal aborts", async () => {
  const channel = new FakeChannel();
  const stop = new AbortController();
  const window = new PublishWindow(channel, {
    timeoutMs: 1000,
    blocked: () => "disk alarm",
    blockedPollMs: 5,
    signal: stop.signal,
  });
  const sending = window.send({ queue: "q", body: "{}" }, () => assert.fail("not sent"));
  stop.abort();
  await assert.rejects(sending, /broker blocks publishing \(disk alarm\)/);
  assert.equal(channel.sent.length, 0);
});

Deno.test("PublishWindow settles every publish exactly once when many are confirmed at once", async () => {
  const channel = new FakeChannel();
  const window = new PublishWindow(channel, { size: 300, timeoutMs: 1000 });
  let settled = 0;
  for (let i = 0; i < 250; i++) await window.send({ queue: "q", body: "{}" }, () => settled++);
  await settleAll(channel, window);
  assert.equal(settled, 250);
});
