import assert from "node:assert/strict";
import { topologyNames } from "../../src/queue/topology.ts";

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
