/**
 * End-to-end tests of `telemetry enqueue`: `main.ts` runs in a child process
 * with exactly the CLI's permissions, against the real test broker.
 */

import assert from "node:assert/strict";
import { USAGE_HINT } from "../../src/commands/program.ts";
import { join } from "node:path";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { readLines, runCli, spawnCli } from "../support/cli.ts";
import { nodeTest, testBrokerUrl } from "../support/test_broker.ts";
import { randomEnv, TestBroker, waitFor } from "../queue/harness.ts";
import {
  brokerChildEnv,
  cdnUrl,
  jobLine,
  jsonLines,
  takeJson,
  withBroker,
  writeLines,
} from "../queue/operator_support.ts";

/** Kills the child if it still runs, then waits for it and for the readers of its output. */
async function reap(child: Deno.ChildProcess, ...readers: Promise<unknown>[]): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* exited */ }
  await child.status;
  await Promise.all(readers.map((reader) => reader.catch(() => {})));
}

/** stderr lines other than the "nothing consumes" warning. */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l !== "" && !l.startsWith("warning: nothing consumes"));
}

Deno.test("telemetry enqueue --jobs FILE queues every job and prints the summary", async () => {
  await withBroker(async (broker, env) => {
    const file = await writeLines([
      jobLine("f-1"),
      "",
      jobLine("f-2", { map_name: "Desert_Main" }),
    ]);
    try {
      const [stdout, stderr, code] = await runCli(["enqueue", "--env", env, "--jobs", file], {
        env: await brokerChildEnv(),
      });
      assert.equal(code, 0, stderr);
      assert.match(
        stdout,
        new RegExp(`^queued 2 to match\\.telemetry\\.${env}; refused 0, skipped 0 \\(`),
      );
      assert.match(stderr, /warning: nothing consumes match\.telemetry\./);
      const taken = await takeJson(broker, broker.names.queue);
      assert.deepEqual(taken.map((t) => t.body.match_id).sort(), ["f-1", "f-2"]);
      assert.equal(taken.find((t) => t.body.match_id === "f-2")?.body.map_name, "Desert_Main");
    } finally {
      await Deno.remove(file);
    }
  });
});

Deno.test("telemetry enqueue --jobs - --json reports each job, refuses bad lines by number, exits 1", async () => {
  await withBroker(async (broker, env) => {
    const stdin = [
      jobLine("s-1"),
      "{oops",
      JSON.stringify({ match_id: "s-3", telemetry_url: "ftp://telemetry-cdn.pubg.com/x" }),
      jobLine("s-4"),
    ].join("\n");
    const [stdout, stderr, code] = await runCli(
      ["enqueue", "--env", env, "--jobs", "-", "--json"],
      { env: await brokerChildEnv(), stdin },
    );
    assert.equal(code, 1, stderr);
    const lines = jsonLines(stdout);
    const summary = lines.pop()?.summary as Record<string, unknown>;
    assert.deepEqual(
      [summary.queued, summary.refused, summary.skipped, summary.error],
      [2, 2, 0, null],
    );
    assert.deepEqual(
      lines.map((l) => [l.line, l.outcome, l.match_id, l.error_code ?? null]).sort(),
      [
        [1, "queued", "s-1", null],
        [2, "refused", null, "bad_body"],
        [3, "refused", "s-3", "url_refused"],
        [4, "queued", "s-4", null],
      ],
    );
    assert.deepEqual(errorLines(stderr), []);
    assert.equal(await broker.count(broker.names.queue), 2);
  });
});

Deno.test("telemetry enqueue <url> --match-id queues one job; without --match-id it is a usage error", async () => {
  await withBroker(async (broker, env) => {
    const childEnv = await brokerChildEnv();
    const url = cdnUrl("one");
    const [stdout, stderr, code] = await runCli(
      ["enqueue", "--env", env, url, "--match-id", "one"],
      { env: childEnv },
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^queued 1 to /);
    const [taken] = await takeJson(broker, broker.names.queue);
    assert.deepEqual(taken?.body, {
      match_id: "one",
      telemetry_url: url,
      environment: env,
      queue_target: broker.names.queue,
    });

    const [, missing, missingCode] = await runCli(["enqueue", "--env", env, url], {
      env: childEnv,
    });
    assert.equal(missingCode, 2);
    assert.deepEqual(errorLines(missing).slice(1), [USAGE_HINT], missing);
    assert.match(missing, /^error: missing --match-id: a telemetry URL names the asset/);

    const [, refused, refusedCode] = await runCli(
      ["enqueue", "--env", env, "https://example.com/x.json", "--match-id", "two"],
      { env: childEnv },
    );
    assert.equal(refusedCode, 2);
    assert.match(refused, /^error: URL refused: host example\.com is not in the allow-list/m);
    assert.equal(await broker.count(broker.names.queue), 0);
  });
});

Deno.test("telemetry enqueue --dry-run validates and counts, and publishes nothing", async () => {
  await withBroker(async (broker, env) => {
    const file = await writeLines([jobLine("d-1"), jobLine("d-2"), '{"match_id":"d-3"}']);
    try {
      const [stdout, stderr, code] = await runCli(
        ["enqueue", "--env", env, "--jobs", file, "--dry-run"],
        { env: await brokerChildEnv() },
      );
      assert.equal(code, 1, stderr);
      assert.match(stdout, /^refused {2}line 3: the job has no "telemetry_url"$/m);
      assert.match(stdout, /^dry run: 2 valid jobs would be queued to .*; refused 1, skipped 0/m);
      assert.equal(await broker.count(broker.names.queue), 0);
    } finally {
      await Deno.remove(file);
    }
  });
});

Deno.test("telemetry enqueue --skip-stored leaves out matches already in --data-dir", async () => {
  await withBroker(async (broker, env) => {
    const dataDir = await Deno.makeTempDir();
    const file = await writeLines([jobLine("k-1"), jobLine("k-2"), jobLine("k-3")]);
    try {
      for (const id of ["k-1", "k-3"]) {
        await Deno.mkdir(join(dataDir, `matchID=${id}`));
        await Deno.writeFile(join(dataDir, `matchID=${id}`, "raw.json.gz"), new Uint8Array(10));
      }
      const [stdout, stderr, code] = await runCli(
        ["enqueue", "--env", env, "--jobs", file, "--skip-stored", "--data-dir", dataDir],
        { env: await brokerChildEnv() },
      );
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^queued 1 to .*; refused 0, skipped 2/);
      const taken = await takeJson(broker, broker.names.queue);
      assert.deepEqual(taken.map((t) => t.body.match_id), ["k-2"]);
    } finally {
      await Deno.remove(file);
      await Deno.remove(dataDir, { recursive: true });
    }
  });
});

Deno.test("telemetry enqueue exits 2 with one line on bad usage", async () => {
  const childEnv = await brokerChildEnv();
  const cases: [string[], RegExp][] = [
    [["enqueue", "--jobs", "-"], /missing environment/],
    [["enqueue", "--env", "Bad.Env", "--jobs", "-"], /invalid --env/],
    [["enqueue", "--env", "x"], /nothing to queue/],
    [["enqueue", "--env", "x", "--jobs", "-", cdnUrl("a")], /not both/],
    [["enqueue", "--env", "x", "--jobs", "/nonexistent/jobs.ndjson"], /cannot read --jobs/],
    [["enqueue", "--env", "x", "--jobs", "-", "--confirm-timeout", "soon"], /confirm-timeout/],
  ];
  for (const [args, pattern] of cases) {
    const [stdout, stderr, code] = await runCli(args, { env: childEnv });
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "");
    assert.match(stderr, pattern);
    assert.doesNotMatch(stderr, /\n {4}at /, "no stack trace");
  }
});

Deno.test("telemetry enqueue --jobs DIR exits 2 with one line and no resume hint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [stdout, stderr, code] = await runCli(["enqueue", "--env", "x", "--jobs", dir], {
      env: await brokerChildEnv(),
    });
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.equal(errorLines(stderr)[0], `error: --jobs ${dir} is a directory, not a file of jobs`);
    assert.doesNotMatch(stderr, /re-send|queued|os error/);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("telemetry enqueue --skip-stored with a --data-dir that does not exist exits 2 naming it", async () => {
  const file = await writeLines([jobLine("s-1")]);
  try {
    for (const extra of [[], ["--dry-run"]]) {
      const [stdout, stderr, code] = await runCli(
        ["enqueue", "--env", "x", "--jobs", file, "--skip-stored", "--data-dir", "/typo", ...extra],
        { env: await brokerChildEnv() },
      );
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assert.equal(
        errorLines(stderr)[0],
        "error: --data-dir /typo does not exist: --skip-stored looks there for stored files",
      );
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("telemetry enqueue reads a BOM at the start of the file and of a line as download --jobs does", async () => {
  const bom = "\uFEFF";
  const file = await writeLines([`${bom}${jobLine("b-1")}`, `${bom}${jobLine("b-2")}`]);
  const one = await writeLines([jobLine("b-3")]);
  try {
    const [stdout, stderr, code] = await runCli(
      ["enqueue", "--env", "x", "--jobs", file, "--dry-run", "--json"],
      { env: await brokerChildEnv() },
    );
    assert.equal(code, 0, stderr);
    const results = jsonLines(stdout);
    assert.deepEqual(results.slice(0, 2).map((r) => [r.line, r.outcome, r.match_id]), [
      [1, "valid", "b-1"],
      [2, "valid", "b-2"],
    ]);
    const [single] = await runCli(["enqueue", "--env", "x", "--jobs", one, "--dry-run"], {
      env: await brokerChildEnv(),
    });
    assert.match(single, /^dry run: 1 valid job would be queued to match\.telemetry\.x;/);
  } finally {
    await Deno.remove(file);
    await Deno.remove(one);
  }
});

Deno.test("telemetry enqueue refuses a giant line with its number and the limit, and reads on", async () => {
  const giant = `{"match_id":"${"g".repeat(2 * 1024 * 1024)}"}`;
  const file = await writeLines([jobLine("g-1"), giant, jobLine("g-3")]);
  try {
    const [stdout, stderr, code] = await runCli(
      ["enqueue", "--env", "x", "--jobs", file, "--dry-run"],
      { env: await brokerChildEnv() },
    );
    assert.equal(code, 1, stderr);
    assert.match(stdout, /^refused {2}line 2: the line is longer than 1048576 bytes, the limit/m);
    assert.match(stdout, /^dry run: 2 valid jobs would be queued to .*; refused 1, skipped 0/m);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("telemetry enqueue exits 1 with one line when the queue does not exist", async () => {
  const env = randomEnv(); // nothing declared: as if --env were mistyped
  const file = await writeLines([jobLine("q-1")]);
  try {
    const [stdout, stderr, code] = await runCli(["enqueue", "--env", env, "--jobs", file], {
      env: await brokerChildEnv(),
    });
    assert.equal(code, 1);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `^error: queue match\\.telemetry\\.${env} does not exist on amqp://[^@]*@\\S+: ` +
          `check --env ${env}; 'telemetry consume --env ${env}' declares it when it starts$`,
      ),
    );
    const password = new URL(await testBrokerUrl()).password;
    if (password !== "") assert.ok(!lines[0]!.includes(`:${password}@`), "password redacted");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("telemetry enqueue exits 1 with one line when the broker is unreachable, never showing the password", async () => {
  const [stdout, stderr, code] = await runCli(
    ["enqueue", "--env", "x", "--jobs", "-"],
    { env: { RABBITMQ_URL: "amqp://ops:hunter2-secret@127.0.0.1:1/" }, stdin: jobLine("u-1") },
  );
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.match(stderr, /^error: cannot reach the broker at amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1\//);
  assert.doesNotMatch(stderr, /hunter2/);
});

Deno.test("telemetry enqueue --help shows examples and exit codes", async () => {
  const [stdout, , code] = await runCli(["enqueue", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /Examples:\n {2}telemetry enqueue --env prod --jobs jobs\.ndjson/);
  assert.match(stdout, /Exit codes: 0 /);
});

Deno.test("telemetry enqueue on Ctrl-C while waiting for stdin: stops, confirms what it sent, exits 130", async () => {
  await withBroker(async (broker, env) => {
    const child = spawnCli(["enqueue", "--env", env, "--jobs", "-", "--json"], {
      env: await brokerChildEnv(),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const stdout = new Response(child.stdout).text();
    const stderr = new Response(child.stderr).text();
    const writer = child.stdin.getWriter();
    try {
      const lines = Array.from({ length: 50 }, (_, i) => jobLine(`i-${i + 1}`)).join("\n");
      await writer.write(new TextEncoder().encode(lines + "\n"));
      await waitFor(async () => await broker.count(broker.names.queue) === 50, {
        what: "50 jobs in the queue",
      });
      child.kill("SIGINT"); // stdin stays open: the child is waiting for line 51
      const { code } = await child.status;
      assert.equal(code, 130);
      const out = jsonLines(await stdout);
      const summary = out.pop()?.summary as Record<string, unknown>;
      assert.deepEqual([summary.queued, summary.error, summary.resume_line], [
        50,
        "interrupted",
        51,
      ]);
      assert.deepEqual(errorLines(await stderr), [
        `error: interrupted; queued 50 (confirmed); to finish, re-send from line 51: ` +
        `tail -n +51 <your jobs file> | telemetry enqueue --env ${env} --jobs -`,
      ]);
    } finally {
      await writer.close().catch(() => {});
      await reap(child, stdout, stderr);
    }
  });
});

nodeTest(
  "telemetry enqueue when the broker stops mid-run: one clear line, exit 1, and every job reported queued is in the queue",
  async (node) => {
    const env = randomEnv();
    const broker = await TestBroker.open(env);
    let appStopped = false;
    const child = spawnCli(["enqueue", "--env", env, "--jobs", "-", "--json"], {
      env: await brokerChildEnv(),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const out: Record<string, unknown>[] = [];
    const reading = readLines(child.stdout, (line) => out.push(JSON.parse(line)));
    const stderrText = new Response(child.stderr).text();
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    try {
      // Well under the pipe's buffer each time: a child that stops reading cannot block the test.
      const first = Array.from({ length: 400 }, (_, i) => jobLine(`b-${i + 1}`)).join("\n") + "\n";
      await writer.write(encoder.encode(first));
      await waitFor(() => out.filter((o) => o.outcome === "queued").length === 400, {
        what: "the first 400 jobs confirmed",
      });
      appStopped = true;
      await rabbitmqctl(node.name, "stop_app");
      const more = Array.from({ length: 200 }, (_, i) => jobLine(`b-${i + 401}`)).join("\n");
      await writer.write(encoder.encode(more + "\n")).catch(() => {});
      await writer.close().catch(() => {});
      const { code } = await child.status;
      await reading;
      const stderr = await stderrText;
      await rabbitmqctl(node.name, "start_app");
      appStopped = false;
      assert.equal(code, 1);
      const errors = errorLines(stderr);
      assert.equal(errors.length, 1, stderr);
      assert.match(
        errors[0]!,
        /^error: broker connection lost: .*; queued 400 \(confirmed\); .*re-send from line 401: tail -n \+401 <your jobs file> \| telemetry enqueue --env t-\S+ --jobs -$/,
      );
      const summary = out.pop()?.summary as Record<string, unknown>;
      assert.equal(summary.queued, 400);
      assert.equal(summary.resume_line, 401);
      const reported = out.filter((o) => o.outcome === "queued").map((o) => o.match_id);
      assert.equal(reported.length, 400);
      await waitFor(async () => await broker.count(broker.names.queue) >= 400, {
        what: "the confirmed jobs back after the restart",
        timeoutMs: 30_000,
      });
      const inQueue = new Set(
        (await takeJson(broker, broker.names.queue)).map((t) => t.body.match_id),
      );
      for (const id of reported) assert.ok(inQueue.has(id), `${id} was reported queued`);
    } finally {
      if (appStopped) await rabbitmqctl(node.name, "start_app");
      await reap(child, reading, stderrText);
      await broker.cleanup();
    }
  },
);
