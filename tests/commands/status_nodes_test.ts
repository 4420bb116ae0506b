/**
 * `telemetry status` given several broker nodes: it reads the queues through
 * the first node that answers and names that node, on the screen and in the
 * JSON object, without a password.
 */

import assert from "node:assert/strict";
import { runStatus } from "../support/status_support.ts";
import { withNodeUser } from "../support/second_node.ts";
import { nodeTest } from "../support/test_broker.ts";
import { withBroker } from "../queue/operator_support.ts";

nodeTest(
  "status: with a dead node listed first, reads through the live one and names it",
  async (node) => {
    await withBroker(async (broker, env) => {
      await withNodeUser([node], async (user) => {
        const dead = `amqp://${user.user}:${user.password}@127.0.0.1:1/`;
        const live = user.urlOf(node);
        const masked = (url: string) => url.replace(`:${user.password}@`, ":***@");
        const args = ["--env", env, "--no-store", "--amqp-url", dead, "--amqp-url", live];
        const screen = await runStatus(args);
        // Nothing consumes the queue: unhealthy, but the queues were read.
        assert.equal(screen.code, 1, screen.err.join("\n"));
        const header = screen.out[0] ?? "";
        assert.ok(header.includes(`broker ${masked(live)}`), header);
        assert.match(header, / \(node 2 of 2\) /);
        assert.match(screen.out.join("\n"), new RegExp(`input\\s+${broker.names.queue}\\s+0\\s+0`));

        const json = await runStatus([...args, "--json"]);
        const report = JSON.parse(json.out[0]!);
        assert.ok(String(report.broker.node).startsWith(masked(live)), report.broker.node);
        assert.equal(report.broker.url, report.broker.node);
        assert.deepEqual(
          report.broker.nodes.map((url: string) => url.split("?")[0]),
          [masked(dead), masked(live)],
        );
        assert.equal(report.broker.reachable, true);
        const all = [...screen.out, ...screen.err, ...json.out, ...json.err].join("\n");
        assert.ok(!all.includes(user.password), "the password never shows");
      });
    });
  },
);

Deno.test("status: when no listed node answers, names each node and its reason, masked", async () => {
  const urls = [1, 2].map((port) => `amqp://ops:s3cret-${port}@127.0.0.1:${port}/`);
  const { out, err, code } = await runStatus(
    ["--env", "prod", "--no-store", "--json", "--amqp-url", urls.join(",")],
  );
  assert.equal(code, 1);
  const report = JSON.parse(out[0]!);
  assert.equal(report.broker.reachable, false);
  assert.equal(report.broker.node, null);
  assert.equal(report.broker.nodes.length, 2);
  assert.equal(err.length, 1);
  assert.match(err[0]!, /^unhealthy: cannot reach any of the 2 broker nodes: .*:1\/.*; .*:2\//);
  assert.doesNotMatch([...out, ...err].join("\n"), /s3cret/);
});
