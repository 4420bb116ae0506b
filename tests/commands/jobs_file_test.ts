import assert from "node:assert/strict";
import { join } from "node:path";
import {
  MAX_JOB_LINE_BYTES,
  openJobLines,
  parseJobLine,
  readJobs,
  type SourceLine,
} from "../../src/commands/jobs_file.ts";
import { runCli } from "../support/cli.ts";
import { withTempDir } from "../support/helpers.ts";

const BOM = "\uFEFF";

/** Writes `text` to a temp file, runs `fn` with its path, removes it. */
async function withFile(
  text: string | Uint8Array,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".ndjson" });
  try {
    if (typeof text === "string") await Deno.writeTextFile(path, text);
    else await Deno.writeFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

async function allLines(path: string, maxLineBytes?: number): Promise<SourceLine[]> {
  const lines: SourceLine[] = [];
  const options = maxLineBytes === undefined ? {} : { maxLineBytes };
  for await (const line of await openJobLines(path, options)) lines.push(line);
  return lines;
}

/** A job line of a URL the default policy refuses (http): parsed, never downloaded. */
function refusedJob(matchId: string): string {
  return JSON.stringify({ match_id: matchId, telemetry_url: `http://example.invalid/${matchId}` });
}

Deno.test("parseJobLine() reads queue-shaped objects", () => {
  assert.deepEqual(
    parseJobLine('{"match_id":"abc","telemetry_url":"https://h/x","map_name":"Erangel"}', 3),
    {
      line: 3,
      url: "https://h/x",
      matchId: "abc",
    },
  );
  assert.deepEqual(parseJobLine('{"telemetry_url":"https://h/x"}', 1), {
    line: 1,
    url: "https://h/x",
  });
});

Deno.test("parseJobLine() explains what is wrong with a line", () => {
  assert.match(parseJobLine("{nope", 2).error?.message ?? "", /not valid JSON/);
  assert.match(parseJobLine("[1]", 2).error?.message ?? "", /not a JSON object/);
  assert.match(parseJobLine('{"match_id":"a"}', 4).error?.message ?? "", /no "telemetry_url"/);
  assert.match(
    parseJobLine('{"match_id":5,"telemetry_url":"u"}', 5).error?.message ?? "",
    /"match_id" is not a string/,
  );
});

Deno.test("parseJobLine() gives a bad line the job error code bad_job, not a flag error", () => {
  for (const text of ["{nope", "[1]", '{"match_id":"a"}', '{"match_id":5,"telemetry_url":"u"}']) {
    const { error } = parseJobLine(text, 1);
    assert.equal(error?.code, "bad_job", text);
    assert.equal(error?.kind, "usage", text);
  }
});

Deno.test("parseJobLine() keeps the match id of a bad line when it has one", () => {
  const job = parseJobLine('{"match_id":"abc"}', 7);
  assert.equal(job.line, 7);
  assert.equal(job.matchId, "abc");
  assert.equal(job.error?.code, "bad_job");
});

Deno.test("readJobs() streams a file line by line, skipping blank lines and CRs", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(
      path,
      '{"telemetry_url":"a"}\r\n\n{"telemetry_url":"b","match_id":"m"}',
    );
    const jobs = await Array.fromAsync(readJobs(path));
    assert.deepEqual(jobs, [{ line: 1, url: "a" }, { line: 3, url: "b", matchId: "m" }]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("readJobs() reports an unreadable file as a usage error", async () => {
  await assert.rejects(async () => {
    for await (const _ of readJobs("/nonexistent/jobs.ndjson")) { /* nothing */ }
  }, /cannot read --jobs \/nonexistent\/jobs\.ndjson/);
});

Deno.test("openJobLines() refuses a line longer than the limit by number, and reads on", async () => {
  // 3 MiB, in many chunks of the file's stream: the old reader took time
  // quadratic in this length and kept all of it.
  const long = `{"match_id":"${"x".repeat(3 * 1024 * 1024)}"}`;
  await withFile(`{"telemetry_url":"a"}\n${long}\n{"telemetry_url":"b"}\n`, async (path) => {
    const lines = await allLines(path);
    assert.deepEqual(lines.map((l) => [l.line, l.text.slice(0, 30)]), [
      [1, '{"telemetry_url":"a"}'],
      [2, ""],
      [3, '{"telemetry_url":"b"}'],
    ]);
    const error = lines[1]?.error;
    assert.equal(error?.kind, "usage");
    assert.equal(error?.code, "bad_job");
    assert.match(error?.message ?? "", new RegExp(`longer than ${MAX_JOB_LINE_BYTES} bytes`));
    const jobs = await Array.fromAsync(readJobs(path));
    assert.deepEqual(jobs.map((j) => [j.line, j.error?.code]), [[1, undefined], [2, "bad_job"], [
      3,
      undefined,
    ]]);
  });
});

Deno.test("openJobLines() keeps a long line under the limit whole, across chunks", async () => {
  const url = `https://h/${"u".repeat(700 * 1024)}`;
  await withFile(`\n{"telemetry_url":"${url}"}\r\n`, async (path) => {
    const jobs = await Array.fromAsync(readJobs(path));
    assert.deepEqual(jobs, [{ line: 2, url }]);
  });
});

Deno.test("openJobLines() counts the limit in bytes, without the newline or the CR of a CRLF", async () => {
  const text = "1234567890\r\n12345678901\n\u00e912345678\n\u00e9123456789\n1234567890";
  await withFile(text, async (path) => {
    const lines = await allLines(path, 10);
    assert.deepEqual(lines.map((l) => [l.line, l.text, l.error === undefined]), [
      [1, "1234567890", true],
      [2, "", false],
      [3, "\u00e912345678", true], // 10 bytes: é is 2
      [4, "", false],
      [5, "1234567890", true], // the last line, without a newline
    ]);
  });
});

Deno.test("readJobs() drops a byte order mark at the start of the file and of a later line", async () => {
  // A file saved with a BOM, and another one appended to it (cat a b).
  const text = `${BOM}{"telemetry_url":"a"}\n${BOM}{"telemetry_url":"b","match_id":"m"}\n`;
  await withFile(text, async (path) => {
    const jobs = await Array.fromAsync(readJobs(path));
    assert.deepEqual(jobs, [{ line: 1, url: "a" }, { line: 2, url: "b", matchId: "m" }]);
  });
});

Deno.test("openJobLines() refuses a directory as a usage error, before reading", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(openJobLines(dir), (err) => {
      assert.ok(err instanceof Error && "kind" in err && err.kind === "usage");
      assert.equal(err.message, `--jobs ${dir} is a directory, not a file of jobs`);
      return true;
    });
  });
});

/** One `--json` result line of `download`. */
interface DownloadJson {
  line: number;
  match_id?: string;
  error_code?: string;
  error?: string;
}

/** Runs `telemetry download --jobs FILE --json` on a file of `text`, expecting exit 1: its results. */
async function downloadJobsFailing(text: string): Promise<DownloadJson[]> {
  return await withTempDir(async (dir) => {
    const jobs = join(dir, "jobs.ndjson");
    await Deno.writeTextFile(jobs, text);
    const args = ["download", "--jobs", jobs, "--json", "--data-dir", join(dir, "data")];
    const [stdout, stderr, code] = await runCli(args);
    assert.equal(code, 1, stderr);
    return stdout.trim().split("\n").map((l) => JSON.parse(l));
  });
}

Deno.test("telemetry download --jobs reads a BOM at the start of the file and of a line as enqueue does", async () => {
  const results = await downloadJobsFailing(`${BOM}${refusedJob("a")}\n${BOM}${refusedJob("b")}\n`);
  // Both lines were read as jobs: refused for their URL, not as "not JSON".
  assert.deepEqual(
    results.map((r) => [r.line, r.match_id, r.error_code]).sort(),
    [[1, "a", "url_refused"], [2, "b", "url_refused"]],
  );
});

Deno.test("telemetry download --jobs refuses a giant line with its number and the limit, and goes on", async () => {
  const giant = `[${"1,".repeat(2 * 1024 * 1024)}1]`;
  const results = await downloadJobsFailing(`${giant}\n${refusedJob("b")}\n`);
  assert.deepEqual(results.map((r) => [r.line, r.error_code]).sort(), [
    [1, "bad_job"],
    [2, "url_refused"],
  ]);
  assert.match(
    results.find((r) => r.line === 1)?.error ?? "",
    /^the line is longer than 1048576 bytes/,
  );
});

Deno.test("telemetry download --jobs DIR exits 2 with one line", async () => {
  await withTempDir(async (dir) => {
    const [stdout, stderr, code] = await runCli([
      "download",
      "--jobs",
      dir,
      "--log-format",
      "text",
      "--data-dir",
      join(dir, "data"),
    ]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, new RegExp(`--jobs ${dir} is a directory, not a file of jobs`));
  });
});
