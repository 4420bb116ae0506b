/**
 * `telemetry download` and `telemetry verify --fix` on a store that is full
 * (issue 21): a real tmpfs, the real CLI. One line that says what, where
 * and how much is free; exit 1; nothing half-written left.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli } from "../support/cli.ts";
import { FILL_FILE, smallFsTest } from "../support/small_fs.ts";
import { generateTelemetry, gzipBytes } from "../support/telemetry_fixture.ts";
import { gzip, telemetryJson, writeMatch } from "../verify/fixtures.ts";

const MATCH_ID = "full-disk-1";

/** Every file under `dir`, relative, sorted. */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory) out.push(entry.name);
    else {for (const name of await listTree(`${dir}/${entry.name}`)) {
        out.push(`${entry.name}/${name}`);
      }}
  }
  return out.sort();
}

/** A loopback server of one gzip telemetry file, counting requests. */
async function withServer(
  fn: (server: { url: string; host: string; requests: () => number }) => Promise<void>,
  options: { encoding?: "gzip" | "identity" } = {},
): Promise<void> {
  const { encoding = "gzip" } = options;
  const gz = await gzipBytes(generateTelemetry({ matchId: MATCH_ID, events: 2000 }));
  let requests = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => {
    requests++;
    return new Response(gz as Uint8Array<ArrayBuffer>, {
      headers: encoding === "gzip"
        ? { "content-type": "application/json", "content-encoding": "gzip" }
        : { "content-type": "application/octet-stream" },
    });
  });
  const host = `127.0.0.1:${server.addr.port}`;
  try {
    await fn({ url: `http://${host}/t/${MATCH_ID}.json`, host, requests: () => requests });
  } finally {
    await server.shutdown();
  }
}

/** The one JSON log line of a CLI run that exited 1 and printed nothing on stdout. */
function failedOnce(
  [stdout, stderr, code]: [string, string, number],
): { event: string; kind: string; code: string; error: string } {
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  return JSON.parse(lines[0] ?? "");
}

function downloadArgs(url: string, host: string, dataDir: string, extra: string[]): string[] {
  const args = ["download", url, "--match-id", MATCH_ID, "--data-dir", dataDir];
  return [...args, "--allow-http", "--allow-host", host, "--log-format", "json", ...extra];
}

smallFsTest(
  "telemetry download on a full store exits 1 with one line, tries once, and leaves nothing",
  async (fs) => {
    await withServer(async ({ url, host, requests }) => {
      await fs.fill();
      const args = downloadArgs(url, host, fs.dir, ["--min-free-space", "0"]);
      const line = failedOnce(await runCli(args));
      assert.equal(line.event, "download_failed");
      assert.equal(line.kind, "store");
      assert.equal(line.code, "store_full");
      assert.match(
        line.error,
        new RegExp(
          `^cannot write ${fs.dir}/matchID=${MATCH_ID}/\\.raw\\.json\\.gz\\.[0-9a-f]+\\.tmp: ` +
            `no space left on device \\(ENOSPC\\); \\d+ B free of 8\\.0 MiB$`,
        ),
      );
      assert.equal(requests(), 1, "not downloaded again");
      assert.deepEqual(await listTree(fs.dir), [FILL_FILE]);
    }, { encoding: "identity" });
  },
);

smallFsTest(
  "telemetry download does not take a gzip body that cannot fit, even with --min-free-space 0",
  async (fs) => {
    await withServer(async ({ url, host, requests }) => {
      await fs.fill();
      const args = downloadArgs(url, host, fs.dir, ["--min-free-space", "0"]);
      const line = failedOnce(await runCli(args));
      assert.equal(line.code, "store_full");
      assert.match(
        line.error,
        /^a download of [\d.]+ KiB does not fit into .*: \d+ B free of 8\.0 MiB, floor off \(--min-free-space\)$/,
      );
      assert.equal(requests(), 1, "not downloaded again");
      assert.deepEqual(await listTree(fs.dir), [FILL_FILE]);
    });
  },
);

smallFsTest(
  "telemetry download below --min-free-space exits 1 with one line and starts no request",
  async (fs) => {
    await withServer(async ({ url, host, requests }) => {
      // The default floor (1 GiB) is above the whole 8 MiB file system.
      const line = failedOnce(await runCli(downloadArgs(url, host, fs.dir, [])));
      assert.equal(line.code, "store_full");
      assert.equal(
        line.error,
        `free space of ${fs.dir} is below the floor: 8.0 MiB free of 8.0 MiB, ` +
          "floor 1.0 GiB (--min-free-space)",
      );
      assert.equal(requests(), 0);
      assert.deepEqual(await listTree(fs.dir), []);
    });
  },
);

smallFsTest(
  "telemetry verify --fix on a full store stops at the fault with one line and leaves the files as they were",
  async (fs) => {
    const double = gzip(telemetryJson("fix-1", 2000), 2);
    const path = await writeMatch(fs.dir, "fix-1", double);
    await fs.fill();
    const [stdout, stderr, code] = await runCli(["verify", "--fix", "--jobs", "1", fs.dir]);
    assert.equal(code, 1, stderr);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0] ?? "",
      new RegExp(
        `^error: verify --fix stopped: cannot write ${fs.dir}/matchID=fix-1/\\.raw\\.json\\.gz\\.` +
          `[0-9a-f]+\\.tmp: no space left on device \\(ENOSPC\\); \\d+ B free of 8\\.0 MiB; ` +
          `fixed 0 problem\\(s\\) before it, 1 not fixed, the rest not checked$`,
      ),
    );
    assert.match(stdout, /double_gzip/);
    assert.deepEqual(await Deno.readFile(path), double, "the original is untouched");
    assert.deepEqual(await listTree(fs.dir), [FILL_FILE, "matchID=fix-1/raw.json.gz"]);
  },
);

smallFsTest(
  "telemetry download --jobs on a full store stops the batch at the first store fault",
  async (fs) => {
    await withServer(async ({ url, host, requests }) => {
      await fs.fill();
      const jobs = ["a", "b", "c", "d", "e"]
        .map((id) => JSON.stringify({ match_id: `batch-${id}`, telemetry_url: url }))
        .join("\n");
      const args = [
        "download",
        "--jobs",
        "-",
        "--concurrency",
        "1",
        "--data-dir",
        fs.dir,
        "--allow-http",
        "--allow-host",
        host,
        "--log-format",
        "json",
        "--min-free-space",
        "0",
      ];
      const [stdout, stderr, code] = await runCli(args, { stdin: jobs + "\n" });
      assert.equal(code, 1, stderr);
      assert.equal(stdout, "");
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 2, stderr);
      assert.match(
        lines[0] ?? "",
        /^failed {2}line 1 \(match batch-a\): cannot write .*: no space left on device \(ENOSPC\); \d+ B free of 8\.0 MiB$/,
      );
      const stopped = JSON.parse(lines[1] ?? "");
      assert.equal(stopped.event, "batch_stopped");
      assert.equal(stopped.failed, 1);
      assert.equal(requests(), 1, "the jobs after the fault are not started");
      assert.deepEqual(await listTree(fs.dir), [FILL_FILE]);
    }, { encoding: "identity" });
  },
);
