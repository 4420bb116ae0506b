/**
 * `runEnqueue()` against the real test broker.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_ALLOWED_HOSTS } from "../../src/core/http/url_policy.ts";
import { TelemetryError } from "../../src/core/errors.ts";
import { resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import {
  type EnqueueInput,
  type EnqueueResult,
  runEnqueue,
  validateJob,
} from "../../src/queue/enqueue.ts";
import { parseJob } from "../../src/queue/messages.ts";
import { openPublishTarget } from "../../src/queue/publish_target.ts";
import { randomEnv, waitFor } from "./harness.ts";
import { cdnUrl, jobLine, takeJson, testBrokerSettings, withBroker } from "./operator_support.ts";

const policy = { allowHosts: DEFAULT_ALLOWED_HOSTS, allowHttp: false };

function inputs(lines: string[]): EnqueueInput[] {
  return lines.map((text, i) => ({ line: i + 1, text }));
}

Deno.test("validateJob() accepts what consume accepts and refuses what consume dead-letters", () => {
  const ok = validateJob(jobLine("abc"), policy);
  assert.equal(ok.job?.matchId, "abc");
  // The same parser as the worker: a body the worker reads is a body enqueue accepts.
  assert.deepEqual(ok.job, parseJob(new TextEncoder().encode(jobLine("abc"))));
  const cases: [string, string][] = [
    ["{nope", "bad_body"],
    ["[1,2]", "bad_body"],
    ['{"match_id":"a"}', "missing_field"],
    ['{"telemetry_url":"https://telemetry-cdn.pubg.com/x"}', "missing_field"],
    ['{"match_id":"","telemetry_url":"https://telemetry-cdn.pubg.com/x"}', "missing_field"],
    [JSON.stringify({ match_id: "../etc", telemetry_url: cdnUrl("x") }), "bad_match_id"],
    [JSON.stringify({ match_id: "a", telemetry_url: "https://example.com/x" }), "url_refused"],
    [
      JSON.stringify({ match_id: "a", telemetry_url: "http://telemetry-cdn.pubg.com/x" }),
      "url_refused",
    ],
  ];
  for (const [text, code] of cases) {
    const check = validateJob(text, policy);
    assert.equal(check.failure?.code, code, text);
    assert.doesNotMatch(check.failure?.message ?? "", /\n/);
  }
  const refusedUrl = validateJob(
    JSON.stringify({ match_id: "a", telemetry_url: "https://example.com/x" }),
    policy,
  );
  assert.ok(refusedUrl.failure !== undefined);
  assert.equal(refusedUrl.matchId, "a", "a refused URL keeps the match id for the report");
});

Deno.test("runEnqueue() queues each job persistent JSON through the default exchange, with environment and queue_target", async () => {
  await withBroker(async (broker, env) => {
    const lines = [
      jobLine("m-1", {
        map_name: "Baltic_Main",
        game_mode: "squad-fpp",
        match_datetime: "2024-11-28T12:34:56Z",
        summaries_processed: true,
      }),
      jobLine("m-2"),
      jobLine("m-3", { environment: "staging", queue_target: "elsewhere" }),
    ];
    const results: EnqueueResult[] = [];
    const summary = await runEnqueue(inputs(lines), {
      broker: await testBrokerSettings(env),
      policy,
    }, { onResult: (r) => results.push(r) });
    assert.equal(summary.queued, 3);
    assert.equal(summary.error, undefined);
    assert.equal(summary.consumers, 0);
    assert.deepEqual(results.map((r) => [r.line, r.outcome, r.matchId]).sort(), [
      [1, "queued", "m-1"],
      [2, "queued", "m-2"],
      [3, "queued", "m-3"],
    ]);
    const queue = broker.names.queue;
    const taken = await takeJson(broker, queue);
    assert.equal(taken.length, 3);
    const byId = new Map(taken.map((t) => [t.body.match_id, t]));
    assert.deepEqual(byId.get("m-1")?.body, {
      ...JSON.parse(lines[0]!),
      environment: env,
      queue_target: queue,
    });
    assert.deepEqual(byId.get("m-3")?.body, {
      match_id: "m-3",
      telemetry_url: cdnUrl("m-3"),
      environment: env,
      queue_target: queue,
    });
    for (const { message } of taken) {
      assert.equal(message.exchange, "");
      assert.equal(message.routingKey, queue);
      assert.equal(message.properties.deliveryMode, 2);
      assert.equal(message.properties.contentType, "application/json");
      assert.equal(message.properties.headers, undefined, "a fresh job carries no x-attempts");
    }
  });
});

Deno.test("runEnqueue() refuses bad lines with their line number and publishes only the good ones", async () => {
  await withBroker(async (broker, env) => {
    const lines = [
      jobLine("good-1"),
      "not json",
      '{"match_id":"no-url"}',
      JSON.stringify({ match_id: "bad id!", telemetry_url: cdnUrl("x") }),
      JSON.stringify({ match_id: "evil", telemetry_url: "https://evil.example/x.json" }),
      jobLine("good-2"),
    ];
    const results: EnqueueResult[] = [];
    const summary = await runEnqueue(inputs(lines), {
      broker: await testBrokerSettings(env),
      policy,
    }, { onResult: (r) => results.push(r) });
    assert.deepEqual([summary.queued, summary.refused], [2, 4]);
    const refused = results.filter((r) => r.outcome === "refused");
    assert.deepEqual(refused.map((r) => [r.line, r.code, r.matchId]), [
      [2, "bad_body", undefined],
      [3, "missing_field", undefined],
      [4, "bad_match_id", undefined],
      [5, "url_refused", "evil"],
    ]);
    for (const r of refused) assert.match(r.error ?? "", new RegExp(`^line ${r.line}: `));
    const ids = (await takeJson(broker, broker.names.queue)).map((t) => t.body.match_id).sort();
    assert.deepEqual(ids, ["good-1", "good-2"]);
  });
});

Deno.test("runEnqueue() with dryRun validates and counts, publishing nothing and needing no broker", async () => {
  const env = randomEnv();
  const broker = resolveBrokerSettings({ env, amqpUrl: "amqp://guest:guest@127.0.0.1:1/" }, {});
  const summary = await runEnqueue(inputs([jobLine("a"), "{", jobLine("b")]), {
    broker,
    policy,
    dryRun: true,
  }, { onResult: () => {} });
  assert.deepEqual(
    [summary.dryRun, summary.valid, summary.refused, summary.queued, summary.error],
    [true, 2, 1, 0, undefined],
  );
});

Deno.test("runEnqueue() refuses a line the reader refused, by its number, without parsing it", async () => {
  const broker = resolveBrokerSettings({
    env: randomEnv(),
    amqpUrl: "amqp://guest:guest@127.0.0.1:1/",
  }, {});
  const error = new TelemetryError("usage", "bad_job", "the line is longer than 10 bytes");
  const results: EnqueueResult[] = [];
  const summary = await runEnqueue(
    [{ line: 1, text: jobLine("a") }, { line: 2, text: "", error }, {
      line: 3,
      text: jobLine("c"),
    }],
    { broker, policy, dryRun: true },
    { onResult: (r) => results.push(r) },
  );
  assert.deepEqual([summary.valid, summary.refused], [2, 1]);
  assert.deepEqual(results[1], {
    line: 2,
    outcome: "refused",
    matchId: undefined,
    error: "line 2: the line is longer than 10 bytes",
    code: "bad_job",
  });
});

Deno.test("runEnqueue() with skipStoredIn leaves out matches whose raw.json.gz is stored", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dataDir, "matchID=stored"));
    await Deno.writeFile(join(dataDir, "matchID=stored", "raw.json.gz"), new Uint8Array([31, 139]));
    await Deno.mkdir(join(dataDir, "matchID=half"));
    await Deno.writeFile(join(dataDir, "matchID=half", ".raw.json.gz.abc.tmp"), new Uint8Array(1));
    await withBroker(async (broker, env) => {
      const results: EnqueueResult[] = [];
      const summary = await runEnqueue(
        inputs([jobLine("stored"), jobLine("half"), jobLine("new")]),
        { broker: await testBrokerSettings(env), policy, skipStoredIn: dataDir },
        { onResult: (r) => results.push(r) },
      );
      assert.deepEqual([summary.queued, summary.skipped], [2, 1]);
      const skipped = results.find((r) => r.outcome === "skipped");
      assert.equal(skipped?.matchId, "stored");
      assert.equal(skipped?.path, join(dataDir, "matchID=stored", "raw.json.gz"));
      const ids = (await takeJson(broker, broker.names.queue)).map((t) => t.body.match_id).sort();
      assert.deepEqual(ids, ["half", "new"], "a temp file is not a stored match");
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("runEnqueue() refuses to start when the queue does not exist, and declares nothing", async () => {
  const env = randomEnv(); // no topology declared: a mistyped --env
  await assert.rejects(
    runEnqueue(inputs([jobLine("a")]), { broker: await testBrokerSettings(env), policy }, {
      onResult: () => assert.fail("no result"),
    }),
    (err) =>
      err instanceof TelemetryError && err.kind === "permanent" &&
      err.message.includes(`queue match.telemetry.${env} does not exist`) &&
      err.message.includes(`--env ${env}`),
  );
  // The runner fails the run if the queue was declared behind our back.
});

Deno.test("runEnqueue() reports an unreachable broker in one line, without the password", async () => {
  const broker = resolveBrokerSettings(
    { env: randomEnv(), amqpUrl: "amqp://ops:s3cret-pw@127.0.0.1:1/" },
    {},
  );
  await assert.rejects(
    runEnqueue(inputs([jobLine("a")]), { broker, policy }, { onResult: () => {} }),
    (err) =>
      err instanceof TelemetryError && err.kind === "transient" &&
      /cannot reach the broker at amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1\//.test(err.message) &&
      !err.message.includes("s3cret") && !err.message.includes("\n"),
  );
});

Deno.test("a mandatory publish to a queue deleted behind the target's back fails as unroutable", async () => {
  await withBroker(async (broker, env) => {
    const settings = await testBrokerSettings(env);
    const target = await openPublishTarget(settings, {
      queue: settings.names.queue,
      confirmTimeoutMs: 5000,
    });
    let error: string | undefined = "pending";
    let failure: string | undefined;
    try {
      await broker.deleteQueue(settings.names.queue);
      assert.equal(await target.publish("{}", (e) => error = e?.reason), true);
    } finally {
      failure = await target.finish();
    }
    assert.equal(error, "unroutable");
    assert.match(failure ?? "", /returned: no such queue/);
  });
});

Deno.test("runEnqueue() stops at an unroutable publish and names the line to re-send from", async () => {
  await withBroker(async (broker, env) => {
    const results: EnqueueResult[] = [];
    async function* lines(): AsyncGenerator<EnqueueInput> {
      for (let i = 1; i <= 10; i++) yield { line: i, text: jobLine(`d-${i}`) };
      await waitFor(() => results.length === 10, { what: "ten jobs confirmed" });
      await broker.deleteQueue(broker.names.queue); // an operator deletes the queue mid-run
      for (let i = 11; i <= 40; i++) yield { line: i, text: jobLine(`d-${i}`) };
    }
    const summary = await runEnqueue(lines(), {
      broker: await testBrokerSettings(env),
      policy,
    }, { onResult: (r) => results.push(r) });
    assert.equal(summary.queued, 10);
    assert.match(summary.error ?? "", /returned: no such queue/);
    assert.equal(summary.resumeLine, 11);
    assert.ok(summary.unconfirmed >= 1);
    assert.ok(results.every((r) => r.outcome !== "queued" || r.line! <= 10));
  });
});

Deno.test("runEnqueue() pipelines: 3,000 jobs all confirmed, each exactly once", async () => {
  await withBroker(async (broker, env) => {
    const lines = Array.from({ length: 3000 }, (_, i) => jobLine(`p-${i}`));
    const summary = await runEnqueue(inputs(lines), {
      broker: await testBrokerSettings(env),
      policy,
    }, { onResult: () => {} });
    assert.equal(summary.queued, 3000);
    await waitFor(async () => await broker.count(broker.names.queue) === 3000, {
      what: "3000 messages in the queue",
    });
    const ids = new Set((await takeJson(broker, broker.names.queue)).map((t) => t.body.match_id));
    assert.equal(ids.size, 3000);
  });
});

Deno.test("runEnqueue() on an aborted signal stops reading, still confirms what it sent, and names the resume line", async () => {
  await withBroker(async (broker, env) => {
    const stop = new AbortController();
    const results: EnqueueResult[] = [];
    async function* lines(): AsyncGenerator<EnqueueInput> {
      for (let i = 1; i <= 100; i++) {
        if (i === 51) stop.abort();
        yield { line: i, text: jobLine(`s-${i}`) };
      }
    }
    const summary = await runEnqueue(lines(), {
      broker: await testBrokerSettings(env),
      policy,
    }, { onResult: (r) => results.push(r), signal: stop.signal });
    assert.equal(summary.error, "interrupted");
    assert.equal(summary.queued, 50);
    assert.equal(summary.resumeLine, 51);
    assert.equal(await broker.count(broker.names.queue), 50);
  });
});
