/**
 * `broker.ts` against the real test broker: how a connect fails, a passive
 * declare, the end of a connection, the missing-queue line and the flow control.
 */

import assert from "node:assert/strict";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { Broker, BrokerError, connectionFlow, missingQueueLine } from "../../src/queue/broker.ts";
import { randomEnv } from "./harness.ts";
import { testBrokerSettings, withBroker } from "./operator_support.ts";
import { testBrokerUrl } from "../support/test_broker.ts";

Deno.test("Broker.connect() on a closed port fails as unreachable, in one line without the password", async () => {
  const broker = resolveBrokerSettings(
    { env: randomEnv(), amqpUrl: "amqp://ops:s3cret-pw@127.0.0.1:1/" },
    {},
  );
  await assert.rejects(
    Broker.connect(broker, { timeoutMs: 5_000 }),
    (err) =>
      err instanceof BrokerError && err.kind === "unreachable" &&
      /^cannot reach the broker at amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1\/\S*: /.test(err.message) &&
      !err.message.includes("s3cret") && !err.message.includes("\n"),
  );
});

Deno.test("Broker.connect() with a wrong password fails as refused", async () => {
  const url = new URL(await testBrokerUrl());
  url.password = "not-the-password";
  const broker = resolveBrokerSettings({ env: randomEnv(), amqpUrl: url.href }, {});
  await assert.rejects(
    Broker.connect(broker),
    (err) =>
      err instanceof BrokerError && err.kind === "refused" &&
      /^the broker at \S+ refused: /.test(err.message) &&
      !err.message.includes("not-the-password"),
  );
});

Deno.test("Broker.queueCounts() reads an existing queue's counts and says undefined for a missing one", async () => {
  await withBroker(async (broker, env) => {
    await broker.publish({ match_id: "m-1", telemetry_url: "https://telemetry-cdn.pubg.com/x" });
    const connection = await Broker.connect(await testBrokerSettings(env));
    try {
      assert.deepEqual(await connection.queueCounts(broker.names.queue), {
        messages: 1,
        consumers: 0,
      });
      assert.equal(await connection.queueCounts(`${broker.names.queue}.missing`), undefined);
      // The 404 closed only its own channel: the connection goes on.
      assert.equal((await connection.queueCounts(broker.names.retryQueue))?.messages, 0);
      assert.equal(connection.alive, true);
    } finally {
      await connection.close();
    }
  });
});

Deno.test("Broker.fail() ends the connection once: lost, signal and reason say why", async () => {
  await withBroker(async (_broker, env) => {
    const connection = await Broker.connect(await testBrokerSettings(env));
    try {
      connection.fail("confirm timeout");
      connection.fail("second reason");
      assert.equal(await connection.lost, "confirm timeout");
      assert.equal(connection.signal.aborted, true);
      assert.equal(connection.alive, false);
      assert.equal(connection.lostReason, "confirm timeout");
    } finally {
      await connection.close();
    }
  });
});

Deno.test("missingQueueLine() names the queue, the broker and how the queue comes to exist", () => {
  assert.equal(
    missingQueueLine("match.telemetry.prdo", {
      redactedUrl: "amqp://ops:***@rabbit:5672/",
      env: "prdo",
    }),
    "queue match.telemetry.prdo does not exist on amqp://ops:***@rabbit:5672/: check --env prdo; " +
      "'telemetry consume --env prdo' declares it when it starts",
  );
});

Deno.test("connectionFlow() follows the client's blocked state and tells its watchers", () => {
  const client: { blocked?: string; onblocked?: (r: string) => void; onunblocked?: () => void } =
    {};
  const flow = connectionFlow(client);
  const seen: (string | undefined)[] = [];
  const stop = flow.watch((blocked) => seen.push(blocked));
  assert.equal(flow.blocked, undefined);
  client.blocked = "";
  client.onblocked?.("");
  assert.equal(flow.blocked, "no reason given");
  delete client.blocked;
  client.onunblocked?.();
  stop();
  client.blocked = "low on memory";
  client.onblocked?.("low on memory");
  assert.deepEqual(seen, ["no reason given", undefined]);
  assert.equal(flow.blocked, "low on memory");
});
