import assert from "node:assert/strict";
import { type PublishChannel, publishConfirmed, PublishError } from "../../src/queue/publisher.ts";

function channel(result: () => Promise<unknown>, seen: unknown[] = []): PublishChannel {
  return {
    basicPublish(exchange, routingKey, body, properties) {
      seen.push({ exchange, routingKey, body, properties });
      return result();
    },
  };
}

Deno.test("publishConfirmed() publishes persistent JSON through the default exchange", async () => {
  const seen: unknown[] = [];
  await publishConfirmed(channel(() => Promise.resolve(1), seen), {
    queue: "q",
    body: "{}",
    timeoutMs: 1000,
  });
  assert.deepEqual(seen, [{
    exchange: "",
    routingKey: "q",
    body: "{}",
    properties: { contentType: "application/json", deliveryMode: 2 },
  }]);
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
