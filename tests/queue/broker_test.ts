/**
 * `broker.ts` against the real test broker: how a connect fails, a passive
 * declare, the end of a connection, the missing-queue line and the flow control.
 */

import assert from "node:assert/strict";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import {
  Broker,
  BrokerConnectError,
  BrokerError,
  connectionFlow,
  isQueueUnavailable,
  missingQueueLine,
  NodeCursor,
} from "../../src/queue/broker.ts";
import { errorLine } from "../../src/core/errors.ts";
import { randomEnv } from "./harness.ts";
import { testBrokerSettings, withBroker } from "./operator_support.ts";
import { withNodeUser } from "../support/second_node.ts";
import { nodeTest, testBrokerUrl } from "../support/test_broker.ts";

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

Deno.test("isQueueUnavailable() tells a queue whose home node is down from a missing queue (both 404)", () => {
  const down = "Channel 3 closed: NOT_FOUND - home node 'rabbit@node-3' of durable queue " +
    "'match.telemetry.prod' in vhost '/' is down or inaccessible (404)";
  assert.equal(isQueueUnavailable(down), true);
  assert.equal(isQueueUnavailable(new Error(down)), true);
  const missing =
    "Channel 3 closed: NOT_FOUND - no queue 'match.telemetry.prod' in vhost '/' (404)";
  assert.equal(isQueueUnavailable(missing), false);
  assert.equal(isQueueUnavailable(new Error(missing)), false);
  assert.equal(isQueueUnavailable("connection closed: socket closed"), false);
  assert.equal(isQueueUnavailable("ACCESS_REFUSED - it is down or inaccessible (403)"), false);
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

/** A TCP port that accepts connections and never answers (a node hung mid-handshake). */
function silentListener(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by the peer */ }
      }
    },
  };
}

function assertNoSecret(text: string, ...secrets: string[]): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `leaked ${secret}: ${text}`);
}

nodeTest(
  "Broker.connect() takes the first node that answers: a dead port, then the live node",
  async (node) => {
    await withNodeUser([node], async (user) => {
      const dead = `amqp://${user.user}:${user.password}@127.0.0.1:1/`;
      const broker = resolveBrokerSettings(
        { env: randomEnv(), amqpUrl: [dead, user.urlOf(node)] },
        {},
      );
      const cursor = new NodeCursor();
      const connection = await Broker.connect(broker, { timeoutMs: 10_000, cursor });
      try {
        assert.equal(connection.node, broker.urls[1]!.redacted);
        assert.match(
          connection.node,
          new RegExp(`^amqp://${user.user}:\\*\\*\\*@127\\.0\\.0\\.1:${node.port}/`),
        );
        assert.equal(connection.skipped.length, 1);
        assert.equal(connection.skipped[0]!.node, broker.urls[0]!.redacted);
        assert.equal(connection.skipped[0]!.kind, "unreachable");
        assert.equal(cursor.current, 1);
        assertNoSecret(JSON.stringify([connection.node, connection.skipped]), user.password);
      } finally {
        await connection.close();
      }
      // After a loss the cursor starts at the node after the one lost, and goes round.
      cursor.lost();
      const again = await Broker.connect(broker, { timeoutMs: 10_000, cursor });
      try {
        assert.equal(again.node, broker.urls[1]!.redacted, "the dead node first, then round");
        assert.equal(again.skipped[0]?.node, broker.urls[0]!.redacted);
      } finally {
        await again.close();
      }
    });
  },
);

nodeTest(
  "Broker.connect() gives a node that never answers its share of the deadline, then takes the next",
  async (node) => {
    await withNodeUser([node], async (user) => {
      const silent = silentListener();
      try {
        const broker = resolveBrokerSettings({
          env: randomEnv(),
          amqpUrl: [
            `amqp://${user.user}:${user.password}@127.0.0.1:${silent.port}/`,
            user.urlOf(node),
          ],
        }, {});
        const started = performance.now();
        const connection = await Broker.connect(broker, { timeoutMs: 6_000 });
        const seconds = (performance.now() - started) / 1000;
        await connection.close();
        assert.ok(seconds >= 2.9 && seconds < 5.5, `connected after ${seconds} s`);
        assert.equal(connection.node, broker.urls[1]!.redacted);
        assert.match(connection.skipped[0]!.reason, /no AMQP handshake within 3 s/);
      } finally {
        await silent.close();
      }
    });
  },
);

Deno.test("Broker.connect() with every node dead fails as unreachable in one masked line naming each", async () => {
  const broker = resolveBrokerSettings({
    env: randomEnv(),
    amqpUrl: "amqp://ops:s3cret-one@127.0.0.1:1/,amqp://ops:s3cret-two@127.0.0.1:2/",
  }, {});
  await assert.rejects(
    Broker.connect(broker, { timeoutMs: 5_000 }),
    (err) => {
      assert.ok(err instanceof BrokerConnectError, String(err));
      assert.equal(err.kind, "unreachable");
      assert.match(
        err.message,
        /^cannot reach any of the 2 broker nodes: amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1\/\S* unreachable: \S.*; amqp:\/\/ops:\*\*\*@127\.0\.0\.1:2\/\S* unreachable: \S/,
      );
      assert.deepEqual(err.failures.map((f) => f.kind), ["unreachable", "unreachable"]);
      assert.ok(!err.message.includes("\n"));
      assertNoSecret(`${err.message} ${errorLine(err.cause)}`, "s3cret");
      return true;
    },
  );
});

nodeTest(
  "Broker.connect() reports a refusal by one node and the others' reasons, every password masked",
  async (node) => {
    await withNodeUser([node], async (user) => {
      // The broker's own error repeats the vhost, which here carries the second URL and its password.
      const second = `amqp://${user.user}:${user.password}@127.0.0.1:1/`;
      const listed = `${user.urlOf(node).replace(/%2F$/, "")}${encodeURIComponent(`,${second}`)}`;
      const broker = resolveBrokerSettings({ env: randomEnv(), amqpUrl: [listed, second] }, {});
      assertNoSecret(JSON.stringify(broker.urls.map((u) => u.redacted)), user.password);
      await assert.rejects(
        Broker.connect(broker, { timeoutMs: 10_000 }),
        (err) => {
          assert.ok(err instanceof BrokerConnectError, String(err));
          assert.equal(err.kind, "refused");
          assert.match(err.message, /^no broker node accepted the connection \(2 tried\): /);
          assert.match(
            err.message,
            / refused: .*vhost ,amqp:\/\/spy-\w+:\*\*\*@127\.0\.0\.1:1\/ not found/,
          );
          assert.match(err.message, /; amqp:\/\/spy-\w+:\*\*\*@127\.0\.0\.1:1\/\S* unreachable: /);
          assertNoSecret(
            `${err.message} ${errorLine(err.cause)} ${JSON.stringify(err.failures)}`,
            user.password,
          );
          return true;
        },
      );
    });
  },
);
