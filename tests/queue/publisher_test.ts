import assert from "node:assert/strict";
import {
  type FlowControl,
  type PublishChannel,
  publishConfirmed,
  PublishError,
} from "../../src/queue/publisher.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function channel(result: () => Promise<unknown>, seen: unknown[] = []): PublishChannel {
  return {
    basicPublish(exchange, routingKey, body, properties, mandatory) {
      seen.push({ exchange, routingKey, body, properties, mandatory });
      return result();
    },
  };
}

Deno.test("publishConfirmed() publishes persistent JSON, mandatory, through the default exchange", async () => {
  const seen: unknown[] = [];
  await publishConfirmed(channel(() => Promise.resolve(1), seen), {
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

Deno.test("publishConfirmed() adds no content type the caller did not give (a dead letter's copy)", async () => {
  const seen: { properties: Record<string, unknown> }[] = [];
  await publishConfirmed(channel(() => Promise.resolve(1), seen as unknown[]), {
    queue: "q",
    body: "not json",
    properties: { messageId: "m-1", headers: { "x-error": "bad" } },
    timeoutMs: 1000,
  });
  assert.equal("contentType" in seen[0]!.properties, false);
});

Deno.test("publishConfirmed() fails with unroutable when the broker returned the message", async () => {
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
    publishConfirmed(returning, { queue: "gone", body: "{}", timeoutMs: 1000, returned }),
    (err) => err instanceof PublishError && err.reason === "unroutable",
  );
  assert.equal(returned.size, 0, "the id is consumed");
  assert.match(seen[0]!.properties.messageId, /^[0-9a-f-]{36}$/, "a fresh id when none is given");
});

Deno.test("publishConfirmed() fails with timeout when no confirm comes", async () => {
  let settle: (v: unknown) => void = () => {};
  const pending = new Promise((resolve) => settle = resolve);
  await assert.rejects(
    publishConfirmed(channel(() => pending), { queue: "q", body: "{}", timeoutMs: 20 }),
    (err) => err instanceof PublishError && err.reason === "timeout",
  );
  settle(undefined);
});

Deno.test("publishConfirmed() fails with rejected on a nack or closed channel", async () => {
  await assert.rejects(
    publishConfirmed(channel(() => Promise.reject(new Error("Message rejected"))), {
      queue: "q",
      body: "",
      timeoutMs: 1000,
    }),
    (err) =>
      err instanceof PublishError && err.reason === "rejected" &&
      /Message rejected/.test(err.message),
  );
});

Deno.test("publishConfirmed() waits while the broker blocks publishing, and its deadline waits too", async () => {
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
  const publishing = publishConfirmed(
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
  assert.equal(listeners.size, 0, "stops watching when done");
});
