import assert from "node:assert/strict";
import { topologyNames } from "../../src/queue/topology.ts";
import {
  declareTopology,
  QueueTypeError,
  QUORUM_DELIVERY_LIMIT,
  quorumArguments,
  type SideChannel,
  type TopologyChannel,
} from "../../src/queue/topology.ts";

Deno.test("topologyNames() follows the {type}.{step}.{env} naming of the other services", () => {
  assert.deepEqual(topologyNames("prod"), {
    queue: "match.telemetry.prod",
    exchange: "match.exchange.prod",
    routingKey: "match.telemetry",
    retryQueue: "match.telemetry.retry.prod",
    deadLetterQueue: "dlq.telemetry.prod",
    publishQueue: "match.processing.telemetry.prod",
  });
});

Deno.test("topologyNames() takes another processing queue", () => {
  assert.equal(topologyNames("dev", "match.processing.dev").publishQueue, "match.processing.dev");
});

/** A channel that records the calls, and refuses the declarations `refuse` names. */
function recordingChannel(refuse: (queue: string) => string | undefined = () => undefined) {
  const calls: unknown[][] = [];
  const channel: TopologyChannel = {
    queueDeclare(...args: unknown[]) {
      calls.push(["queueDeclare", ...args]);
      const error = refuse(String(args[0]));
      return error === undefined ? Promise.resolve() : Promise.reject(new Error(error));
    },
    exchangeDeclare(...args: unknown[]) {
      calls.push(["exchangeDeclare", ...args]);
      return Promise.resolve();
    },
    queueBind(...args: unknown[]) {
      calls.push(["queueBind", ...args]);
      return Promise.resolve();
    },
  };
  return { channel, calls };
}

Deno.test("declareTopology() without a queue type declares the classic topology of the other services, call for call", async () => {
  const { channel, calls } = recordingChannel();
  await declareTopology(channel, { names: topologyNames("prod") });
  assert.deepEqual(calls, [
    ["queueDeclare", "match.telemetry.prod", { durable: true }],
    ["exchangeDeclare", "match.exchange.prod", "topic", { durable: true }],
    ["queueBind", "match.telemetry.prod", "match.exchange.prod", "match.telemetry"],
    ["queueDeclare", "match.telemetry.retry.prod", { durable: true }, {
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "match.telemetry.prod",
    }],
    ["queueDeclare", "dlq.telemetry.prod", { durable: true }],
    ["queueDeclare", "match.processing.telemetry.prod", { durable: true }],
  ]);
});

Deno.test("declareTopology() turns the broker's refusal of a queue's type into one line naming the queue, its type and the flag", async () => {
  const refusal = (received: string, current: string) => (queue: string) =>
    `channel 1 closed: PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '${queue}' ` +
    `in vhost '/': received ${received} but current is ${current} (406)`;
  const cases = [
    // As RabbitMQ 3.10 words it: an existing quorum queue, declared classic (no argument)...
    [refusal("none", "the value 'quorum' of type 'longstr'"), "classic", "quorum"],
    // ...an existing classic queue, declared quorum...
    [refusal("the value 'quorum' of type 'longstr'", "none"), "quorum", "classic"],
    // ...and both given.
    [refusal("'classic'", "'quorum'"), "classic", "quorum"],
  ] as const;
  for (const [refuse, declared, existing] of cases) {
    const { channel } = recordingChannel(refuse);
    const names = { ...topologyNames("e"), queueType: declared };
    await assert.rejects(
      declareTopology(
        // Quorum declarations go to side channels of the same connection.
        { ...channel, connection: { channel: () => Promise.resolve(sideChannel(channel)) } },
        { names },
      ),
      (err: Error) => {
        assert.ok(err instanceof QueueTypeError);
        assert.equal(
          err.message,
          `(406 PRECONDITION_FAILED) queue match.telemetry.e is a ${existing} queue, not ` +
            `${declared}: pass --queue-type ${existing}, or let it drain and delete it ` +
            `('rabbitmqctl delete_queue match.telemetry.e --if-empty') to have it declared ${declared}`,
        );
        return true;
      },
    );
  }
});

function sideChannel(channel: TopologyChannel): SideChannel {
  return {
    queueDeclare: (...args) => channel.queueDeclare(...args),
    onerror: () => {},
    closed: false,
    close: () => Promise.resolve(),
  };
}

Deno.test("quorumArguments() gives the job queue and the DLQ the delivery limit, the retry queue its dead-lettering", () => {
  const names = topologyNames("prod");
  const args = quorumArguments(names);
  assert.deepEqual(args[names.queue], {
    "x-queue-type": "quorum",
    "x-delivery-limit": QUORUM_DELIVERY_LIMIT,
  });
  assert.deepEqual(args[names.deadLetterQueue], args[names.queue]);
  assert.deepEqual(args[names.publishQueue], { "x-queue-type": "quorum" });
  assert.equal(args[names.retryQueue]?.["x-overflow"], "reject-publish");
  assert.equal(args[names.retryQueue]?.["x-dead-letter-strategy"], "at-least-once");
  assert.equal(args[names.retryQueue]?.["x-dead-letter-routing-key"], names.queue);
});
