/**
 * `telemetry consume` given several broker nodes (`--amqp-url A --amqp-url
 * B`): two private nodes, not clustered (each holds its own queues; the
 * worker declares them on each connect), a user with a password of its own
 * on both, and the worker in a child process with the CLI's permissions.
 */

import assert from "node:assert/strict";
import { randomEnv, TelemetryServer, TestBroker, waitFor } from "../queue/harness.ts";
import { readLines, spawnCli } from "../support/cli.ts";
import { rabbitmqctl, stopRabbitNode } from "../support/rabbitmq_node.ts";
import { withNodeUser, withSecondNode } from "../support/second_node.ts";
import { nodeTest } from "../support/test_broker.ts";
import { Child, testArgs } from "./consume_child.ts";

nodeTest(
  "telemetry consume --amqp-url A --amqp-url B tries the other node after a loss, logs each node, never the password",
  async (nodeB) => {
    await withSecondNode(async (nodeA) => {
      await withNodeUser([nodeA, nodeB], async (user) => {
        const env = randomEnv();
        const dataDir = await Deno.makeTempDir();
        const server = new TelemetryServer({ events: 20 });
        const [a, b] = [user.urlOf(nodeA), user.urlOf(nodeB)];
        const masked = (url: string) => url.replace(`:${user.password}@`, ":***@");
        const child = spawnCli(
          ["consume", ...testArgs(env, dataDir, ["--amqp-url", a, "--amqp-url", b])],
          {
            env: { RABBITMQ_URL: undefined, TELEMETRY_ENV: undefined, ENVIRONMENT: undefined },
            stdout: "piped",
            stderr: "piped",
          },
        );
        const raw: string[] = [];
        const lines: Record<string, unknown>[] = [];
        const reading = Promise.all([
          readLines(child.stdout, (line) => raw.push(line)),
          readLines(child.stderr, (line) => {
            raw.push(line);
            try {
              lines.push(JSON.parse(line));
            } catch {
              lines.push({ event: "raw", line });
            }
          }),
        ]);
        const connected = () =>
          lines.filter((l) => l.event === "broker_connected").map((l) => String(l.url));
        const onNode = async (n: number, url: string, what: string) => {
          await waitFor(() => connected().length >= n, { timeoutMs: 30_000, what });
          assert.ok(connected()[n - 1]!.startsWith(masked(url)), `${what}: ${connected()}`);
        };
        let broker: TestBroker | undefined;
        try {
          await onNode(1, a, "connected to A, the first listed");
          // A drops the connection but stays up: the worker goes to B, not back to A.
          await rabbitmqctl(nodeA.name, "close_all_connections", "test: failover");
          await onNode(2, b, "moved to B");
          broker = await TestBroker.open(env); // on B, the run's node
          await broker.publish({ match_id: "failover-1", telemetry_url: server.url("failover-1") });
          const downloaded = () =>
            lines.filter((l) => l.event === "job" && l.outcome === "downloaded").length;
          await waitFor(() => downloaded() === 1, { timeoutMs: 30_000, what: "job done on B" });
          // B drops it: round to A again.
          await rabbitmqctl(nodeB.name, "close_all_connections", "test: failover");
          await onNode(3, a, "back to A");
          // A goes away for good: the worker carries on on B.
          await stopRabbitNode(nodeA);
          await onNode(4, b, "on B after A stopped");
          await broker.publish({ match_id: "failover-2", telemetry_url: server.url("failover-2") });
          await waitFor(() => downloaded() === 2, {
            timeoutMs: 30_000,
            what: "job done after A stopped",
          });
          child.kill("SIGTERM");
          assert.equal((await child.status).code, 0);
          await reading;
          const lost = lines.filter((l) => l.event === "broker_connection_lost").map((l) => l.url);
          assert.deepEqual(lost.map((url) => String(url).split("?")[0]), [
            masked(a),
            masked(b),
            masked(a),
          ]);
          const text = raw.join("\n");
          assert.ok(!text.includes(user.password), "the password never shows");
          assert.match(text, new RegExp(`${user.user}:\\*\\*\\*@127\\.0\\.0\\.1:${nodeA.port}/`));
        } finally {
          try {
            child.kill("SIGKILL");
          } catch { /* exited */ }
          await child.status;
          await reading;
          await broker?.cleanup();
          await server.close();
          await Deno.remove(dataDir, { recursive: true });
        }
      });
    });
  },
);

nodeTest(
  "telemetry consume exits 1 when one listed node refuses the login and the other is down, naming each, masked",
  async (node) => {
    const dataDir = await Deno.makeTempDir();
    try {
      const refusing = `amqp://nobody:wrong-pw-1x@127.0.0.1:${node.port}/`;
      const dead = "amqp://nobody:other-pw-2y@127.0.0.1:1/";
      const child = new Child(
        testArgs(randomEnv(), dataDir, ["--amqp-url", `${refusing},${dead}`]),
        { RABBITMQ_URL: undefined, TELEMETRY_ENV: undefined, ENVIRONMENT: undefined },
      );
      assert.equal(await child.exit(), 1);
      const errors = child.lines.filter((l) => l.level === "error");
      assert.equal(errors.length, 1, child.raw.join("\n"));
      assert.equal(errors[0]?.event, "broker_refused");
      const line = String(errors[0]?.error);
      assert.match(
        line,
        new RegExp(`nobody:\\*\\*\\*@127\\.0\\.0\\.1:${node.port}/\\S* refused: `),
      );
      assert.match(line, /nobody:\*\*\*@127\.0\.0\.1:1\/\S* unreachable: /);
      assert.doesNotMatch(child.raw.join("\n"), /wrong-pw|other-pw/);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);
