/**
 * End-to-end tests of `telemetry dlq`: `main.ts` runs in a child process
 * with exactly the CLI's permissions, against the real broker; some runs
 * are killed (`kill -9`) or lose the broker halfway, and the queues are
 * checked afterwards: nothing lost, nothing reordered.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { toDlqSelection } from "../../src/commands/dlq.ts";
import { USAGE_HINT } from "../../src/commands/program.ts";
import {
  alternating,
  type DeadLetterEnv,
  evens,
  increasing,
  letters,
  odds,
  range,
  withDlq,
  withLetters,
} from "../queue/dlq_harness.ts";
import { waitFor } from "../queue/harness.ts";
import { readLines, runCli, spawnCli } from "../support/cli.ts";
import { rabbitmqctl } from "../support/rabbitmq_node.ts";
import { nodeTest } from "../support/test_broker.ts";

const HOUR = 3_600_000;

/** `telemetry dlq <args> --env E --amqp-url U`. */
function dlqArgs(dlq: DeadLetterEnv, ...args: string[]): string[] {
  return ["dlq", ...args, "--env", dlq.env, "--amqp-url", dlq.url];
}

/** The lines of an output, without the trailing empty one. */
function lines(text: string): string[] {
  return text.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1);
}

/** A child whose stdout lines are read as they come. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly stdout: string[] = [];
  stderr = "";
  readonly #done: Promise<void>;

  constructor(args: string[]) {
    const process = spawnCli(args, { stdout: "piped", stderr: "piped" });
    this.process = process;
    const out = readLines(process.stdout, (line) => this.stdout.push(line));
    const err = (async () => {
      for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
    this.#done = Promise.all([out, err]).then(() => {});
  }

  /** Waits for the exit; returns the code. */
  async exit(): Promise<number> {
    const { code } = await this.process.status;
    await this.#done;
    return code;
  }

  /** SIGKILL, then waits. */
  async kill(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.exit();
  }
}

Deno.test("toDlqSelection() turns the filter flags into a filter and checks the time window", () => {
  const selection = toDlqSelection({
    env: "prod",
    kind: ["transient", "redelivered"],
    matchId: ["a", "b"],
    errorContains: "503",
    olderThan: HOUR,
    newerThan: 24 * HOUR,
    limit: 10,
  }, {});
  assert.equal(selection.broker.names.deadLetterQueue, "dlq.telemetry.prod");
  assert.deepEqual(selection.filter, {
    kinds: ["transient", "redelivered"],
    matchIds: ["a", "b"],
    errorContains: "503",
    olderThanMs: HOUR,
    newerThanMs: 24 * HOUR,
  });
  assert.equal(selection.limit, 10);
  assert.throws(
    () => toDlqSelection({ env: "prod", olderThan: 2 * HOUR, newerThan: HOUR }, {}),
    /select nothing/,
  );
  assert.throws(() => toDlqSelection({}, {}), /missing environment/);
});

Deno.test("dlq list prints one line per dead letter and the counts by kind, and leaves the queue as it was", async () => {
  await withDlq(async (dlq) => {
    await dlq.fill(letters(600, (i) => ({
      kind: i % 3 === 0 ? "permanent" : "transient",
      error: `HTTP 50${i % 3} for https://example.test/${i}`,
    })));
    const [stdout, stderr, code] = await runCli(dlqArgs(dlq, "list"));
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
    const out = lines(stdout);
    assert.match(out[0]!, /^MATCH ID +KIND +ATTEMPTS +FAILED AT +WORKER +ORIGINAL QUEUE +ERROR$/);
    const rows = out.slice(1, 601);
    assert.equal(rows.length, 600);
    for (const [i, row] of rows.entries()) {
      assert.ok(row.startsWith(`dl-${i} `), row);
      assert.ok(row.endsWith(`HTTP 50${i % 3} for https://example.test/${i}`), row);
      assert.match(row, new RegExp(`test-worker +${dlq.names.queue.replaceAll(".", "\\.")}`));
    }
    assert.deepEqual(out.slice(601), [
      "",
      `600 dead letters in ${dlq.names.deadLetterQueue}`,
      "  transient          400",
      "  permanent          200",
    ]);
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 600));
  });
});

Deno.test("dlq list --json prints an object per dead letter and a summary; filters apply", async () => {
  await withLetters(10, async (dlq) => {
    const [stdout, stderr, code] = await runCli(
      dlqArgs(dlq, "list", "--json", "--kind", "permanent", "--limit", "3"),
    );
    assert.equal(code, 0, stderr);
    const objects = lines(stdout).map((line) => JSON.parse(line));
    assert.deepEqual(objects.slice(0, 3).map((o) => [o.position, o.match_id]), [
      [2, "dl-1"],
      [4, "dl-3"],
      [6, "dl-5"],
    ]);
    assert.deepEqual(Object.keys(objects[0]), [
      "position",
      "match_id",
      "error_kind",
      "error_code",
      "error",
      "attempts",
      "failed_at",
      "worker",
      "original_queue",
    ]);
    assert.equal(objects[0].error_kind, "permanent");
    assert.equal(objects[0].attempts, 5);
    assert.equal(objects[0].original_queue, dlq.names.queue);
    assert.deepEqual(objects[3], {
      summary: {
        queue: dlq.names.deadLetterQueue,
        total: 10,
        matched: 3,
        listed: 3,
        by_kind: { permanent: 3 },
      },
    });
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 10));
  });
});

Deno.test("dlq list killed with SIGKILL halfway leaves the queue exactly as it was", async () => {
  await withLetters(5000, async (dlq) => {
    const child = new Child(dlqArgs(dlq, "list"));
    try {
      await waitFor(() => child.stdout.length > 300, { what: "300 lines", timeoutMs: 30_000 });
    } finally {
      await child.kill();
    }
    assert.ok(child.stdout.length < 5000, `killed halfway (${child.stdout.length} lines)`);
    assert.equal(await dlq.settled(dlq.names.deadLetterQueue, { atLeast: 5000 }), 5000);
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 5000));
  });
});

Deno.test("dlq replay moves the matching dead letters and prints what it did", async () => {
  await withLetters(40, async (dlq) => {
    const [stdout, stderr, code] = await runCli(dlqArgs(dlq, "replay", "--kind", "transient"));
    assert.equal(code, 0, stderr);
    assert.deepEqual(lines(stdout), [
      `replayed 20 of 40 dead letters from ${dlq.names.deadLetterQueue} to ${dlq.names.queue} ` +
      `(20 left in the DLQ, in order)`,
      "  transient           20",
    ]);
    assert.deepEqual(await dlq.contents(), { queue: evens(40), deadLetters: odds(40) });
  });
});

Deno.test("dlq replay --dry-run lists what it would replay and changes nothing", async () => {
  await withDlq(async (dlq) => {
    await dlq.fill(letters(10, (i) => ({ kind: "transient", ageMs: i * HOUR + 60_000 })));
    const [stdout, stderr, code] = await runCli(
      dlqArgs(dlq, "replay", "--dry-run", "--older-than", "6h", "--newer-than", "9h"),
    );
    assert.equal(code, 0, stderr);
    const out = lines(stdout);
    assert.deepEqual(out.slice(1, 4).map((line) => line.split(" ")[0]), ["dl-6", "dl-7", "dl-8"]);
    assert.equal(
      out[5],
      `dry run: would replay 3 of 10 dead letters from ${dlq.names.deadLetterQueue} to ` +
        `${dlq.names.queue} (nothing changed)`,
    );
    const [json] = await runCli(
      dlqArgs(dlq, "replay", "--dry-run", "--json", "--match-id", "dl-4"),
    );
    const objects = lines(json).map((line) => JSON.parse(line));
    assert.equal(objects[0].match_id, "dl-4");
    assert.equal(objects[1].summary.dry_run, true);
    assert.equal(objects[1].summary.replayed, 0);
    assert.equal(await dlq.count(dlq.names.queue), 0);
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 10));
  });
});

Deno.test("dlq replay killed with SIGKILL halfway loses nothing and keeps the rest in order", async () => {
  await withDlq(async (dlq) => {
    const total = 6000;
    await dlq.fill(letters(total, alternating));
    const child = new Child(dlqArgs(dlq, "replay", "--kind", "transient"));
    try {
      await waitFor(async () => await dlq.count(dlq.names.queue) > 200, {
        what: "some dead letters replayed",
        timeoutMs: 30_000,
      });
    } finally {
      await child.kill();
    }
    await dlq.settled(dlq.names.deadLetterQueue);
    const replayed = await dlq.numbers(dlq.names.queue);
    const left = await dlq.numbers(dlq.names.deadLetterQueue);
    assert.ok(
      replayed.length < evens(total).length,
      `killed halfway (${replayed.length} replayed)`,
    );
    assert.ok(replayed.every((i) => i % 2 === 0), "only matching dead letters were replayed");
    assert.ok(increasing(replayed), "replayed in order");
    assert.ok(increasing(left), "the DLQ keeps its order");
    assert.deepEqual(
      left.filter((i) => i % 2 === 1),
      odds(total),
      "every non-matching dead letter is still there",
    );
    // Nothing lost: every dead letter is in one queue or the other (or both).
    assert.deepEqual([...new Set([...replayed, ...left])].sort((a, b) => a - b), range(0, total));
  });
});

Deno.test("dlq purge without --yes removes nothing, says how many it would, exits 2", async () => {
  await withLetters(10, async (dlq) => {
    const [stdout, stderr, code] = await runCli(dlqArgs(dlq, "purge", "--kind", "permanent"));
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(
      stderr.trim(),
      `error: purge deletes dead letters for good: run it again with --yes to remove the ` +
        `5 of 10 dead letters that match in ${dlq.names.deadLetterQueue}\n${USAGE_HINT}`,
    );
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 10));
  });
});

Deno.test("dlq purge --yes removes the matching dead letters and says how many", async () => {
  await withLetters(10, async (dlq) => {
    const [stdout, stderr, code] = await runCli(
      dlqArgs(dlq, "purge", "--yes", "--kind", "permanent", "--json"),
    );
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), {
      summary: {
        queue: dlq.names.deadLetterQueue,
        total: 10,
        matched: 5,
        removed: 5,
        by_kind: { permanent: 5 },
      },
    });
    const [text] = await runCli(dlqArgs(dlq, "purge", "--yes", "--match-id", "dl-2,dl-4"));
    assert.equal(
      lines(text)[0],
      `removed 2 of 5 dead letters from ${dlq.names.deadLetterQueue} (3 left, in order)`,
    );
    assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), [0, 6, 8]);
    assert.equal(await dlq.count(dlq.names.queue), 0);
  });
});

Deno.test("dlq export writes body, headers and properties as NDJSON and leaves the queue", async () => {
  await withLetters(300, async (dlq) => {
    const dir = await Deno.makeTempDir({ prefix: "dlq-export-" });
    try {
      const file = join(dir, "dlq.ndjson");
      const [stdout, stderr, code] = await runCli(
        dlqArgs(dlq, "export", "--kind", "permanent", "-o", file),
      );
      assert.equal(code, 0, stderr);
      assert.equal(
        stdout.trim(),
        `exported 150 of 300 dead letters from ${dlq.names.deadLetterQueue} to ${file}`,
      );
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["dlq.ndjson"]);
      const records = lines(await Deno.readTextFile(file)).map((line) => JSON.parse(line));
      assert.equal(records.length, 150);
      assert.deepEqual(Object.keys(records[0]), ["body", "body_encoding", "headers", "properties"]);
      assert.deepEqual(JSON.parse(records[0].body), {
        match_id: "dl-1",
        telemetry_url: "https://example.test/1",
      });
      assert.equal(records[0].body_encoding, "utf8");
      assert.equal(records[0].headers["x-error-kind"], "permanent");
      assert.equal(records[0].headers["x-error"], "failure 1");
      assert.equal(records[0].headers["x-attempts"], 5);
      assert.deepEqual(records[0].properties, { contentType: "application/json", deliveryMode: 2 });
      assert.deepEqual(
        records.map((r) => JSON.parse(r.body).match_id),
        odds(300).map((i) => `dl-${i}`),
      );

      const [piped, summary, code2] = await runCli(
        dlqArgs(dlq, "export", "-o", "-", "--limit", "2"),
      );
      assert.equal(code2, 0, summary);
      assert.equal(lines(piped).length, 2);
      assert.match(summary, /exported 2 of 300 dead letters .* to stdout/);

      const [, missing, code3] = await runCli(
        dlqArgs(dlq, "export", "-o", join(dir, "no/x.ndjson")),
      );
      assert.equal(code3, 1);
      assert.match(missing, /^error: cannot write .*no\/x\.ndjson: no such directory/);
      assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 300));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("dlq export -o FILE stopped by SIGTERM removes its .<file>.<hex>.partial temp file", async () => {
  await withDlq(async (dlq) => {
    const total = 3000;
    await dlq.fill(letters(total, () => ({ kind: "permanent", error: "e".repeat(2000) })));
    const dir = await Deno.makeTempDir({ prefix: "dlq-export-term-" });
    const partial = /^\.dlq\.ndjson\.[0-9a-f]{12}\.partial$/;
    const child = new Child(dlqArgs(dlq, "export", "-o", join(dir, "dlq.ndjson")));
    try {
      // Halfway: the temp file, named for the export, holds its first 64 KiB batch.
      await waitFor(() => {
        const names = [...Deno.readDirSync(dir)].map((e) => e.name);
        return names.length === 1 && partial.test(names[0]!) &&
          Deno.statSync(join(dir, names[0]!)).size > 0;
      }, { what: "the export's temp file with its first records", timeoutMs: 30_000 });
      child.process.kill("SIGSTOP");
      child.process.kill("SIGTERM");
      child.process.kill("SIGCONT");
      assert.equal(await child.exit(), 143, child.stderr);
      assert.match(
        child.stderr,
        /^error: export stopped after \d+ of 3000: interrupted; .*dlq\.ndjson was not written/m,
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no temp file left");
    } finally {
      await child.kill();
      await Deno.remove(dir, { recursive: true });
    }
    assert.equal(await dlq.settled(dlq.names.deadLetterQueue, { atLeast: total }), total);
  });
});

Deno.test("dlq export -o - into a stalled pipe keeps the broker connection and writes every record", async () => {
  await withDlq(async (dlq) => {
    const total = 2000;
    await dlq.fill(letters(total, () => ({ kind: "transient", error: "s".repeat(2000) })));
    // A 1 s heartbeat: a process that blocks on stdout for 6 s misses several,
    // and the broker closes its connection.
    const url = `${dlq.url}${dlq.url.includes("?") ? "&" : "?"}heartbeat=1`;
    const child = spawnCli(
      ["dlq", "export", "-o", "-", "--env", dlq.env, "--amqp-url", url],
      { stdout: "piped", stderr: "piped" },
    );
    const stderr = new Response(child.stderr).text();
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // nobody reads stdout meanwhile
    const records: string[] = [];
    await readLines(child.stdout, (line) => records.push(line));
    const { code } = await child.status;
    const errors = await stderr;
    assert.equal(code, 0, errors);
    assert.match(errors, /exported 2000 dead letters .* to stdout/);
    assert.equal(records.length, total);
    assert.deepEqual(
      records.map((line) => JSON.parse(JSON.parse(line).body).match_id),
      range(0, total).map((i) => `dl-${i}`),
    );
    assert.equal(await dlq.settled(dlq.names.deadLetterQueue, { atLeast: total }), total);
  });
});

Deno.test("dlq refuses bad flags with exit 2 and one line", async () => {
  const cases: [string[], RegExp][] = [
    [["list", "--env", "x", "--older-than", "5x"], /--older-than.*expected a duration/],
    [["list", "--env", "x", "--kind", "fatal"], /--kind.*expected one of permanent/],
    [["replay", "--env", "x", "--limit", "0"], /--limit.*positive integer/],
    [["list", "--env", "Prod!"], /^error: invalid --env/],
    [["export", "--env", "x"], /required option '-o, --output <file>' not specified/],
    [["list"], /^error: missing environment/],
  ];
  for (const [args, pattern] of cases) {
    const [stdout, stderr, code] = await runCli(["dlq", ...args], {
      env: { TELEMETRY_ENV: "", ENVIRONMENT: "" },
    });
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "");
    assert.match(stderr, pattern, args.join(" "));
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("dlq with an unreachable broker prints one line without the password and exits 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const [stdout, stderr, code] = await runCli([
    "dlq",
    "replay",
    "--env",
    "x",
    "--amqp-url",
    `amqp://guest:s3cret@127.0.0.1:${port}/`,
  ]);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(lines(stderr).length, 1, stderr);
  assert.match(stderr, /^error: cannot reach the broker at amqp:\/\/guest:\*\*\*@127\.0\.0\.1/);
  assert.doesNotMatch(stderr, /s3cret/);
});

/**
 * Starts `args`, waits until `started` holds, freezes the child (SIGSTOP),
 * stops the broker application, lets the child run on into the closed
 * connection, then starts the broker again. The child must end with one
 * error line and exit 1.
 */
async function loseBrokerDuring(
  node: { name: string },
  args: string[],
  started: (child: Child) => Promise<boolean>,
): Promise<Child> {
  const child = new Child(args);
  let appStopped = false;
  try {
    await waitFor(() => started(child), { what: "the run under way", timeoutMs: 30_000 });
    child.process.kill("SIGSTOP");
    appStopped = true;
    await rabbitmqctl(node.name, "stop_app");
    child.process.kill("SIGCONT");
    assert.equal(await child.exit(), 1, child.stderr);
    await rabbitmqctl(node.name, "start_app");
    appStopped = false;
  } finally {
    if (appStopped) await rabbitmqctl(node.name, "start_app");
    await child.kill();
  }
  return child;
}

nodeTest(
  "dlq replay that loses the broker halfway says so in one line, exits 1, and loses nothing",
  async (node) => {
    await withDlq(async (dlq) => {
      const total = 6000;
      await dlq.fill(letters(total, alternating));
      const child = await loseBrokerDuring(
        node,
        dlqArgs(dlq, "replay", "--kind", "transient"),
        async () => await dlq.count(dlq.names.queue) > 200,
      );
      const errors = lines(child.stderr);
      assert.equal(errors.length, 1, child.stderr);
      assert.match(
        errors[0]!,
        /^error: replay stopped after \d+ of 6000: lost the broker: .*; replayed \d+ .*; every other dead letter is still in dlq\.telemetry\..*, in order$/,
      );
      await dlq.settled(dlq.names.deadLetterQueue);
      const replayed = await dlq.numbers(dlq.names.queue);
      const left = await dlq.numbers(dlq.names.deadLetterQueue);
      assert.ok(replayed.length < total / 2, `stopped halfway (${replayed.length})`);
      assert.ok(increasing(replayed) && increasing(left));
      assert.deepEqual(
        left.filter((i) => i % 2 === 1),
        odds(total),
      );
      assert.deepEqual([...new Set([...replayed, ...left])].sort((a, b) => a - b), range(0, total));
    });
  },
);

nodeTest(
  "dlq list that loses the broker halfway says so in one line, exits 1, and leaves the queue",
  async (node) => {
    await withLetters(6000, async (dlq) => {
      const child = await loseBrokerDuring(
        node,
        dlqArgs(dlq, "list"),
        (running) => Promise.resolve(running.stdout.length > 300),
      );
      const errors = lines(child.stderr);
      assert.equal(errors.length, 1, child.stderr);
      assert.match(
        errors[0]!,
        /^error: list stopped after \d+ of 6000: lost the broker: .*; the queue is unchanged/,
      );
      assert.equal(await dlq.settled(dlq.names.deadLetterQueue, { atLeast: 6000 }), 6000);
      assert.deepEqual(await dlq.numbers(dlq.names.deadLetterQueue), range(0, 6000));
    });
  },
);
