import assert from "node:assert/strict";
import { join } from "node:path";
import type { VerifyResult } from "../../src/verify/result.ts";
import { runVerify } from "../../src/verify/run_verify.ts";
import { VerifyWorkers } from "../../src/verify/verify_workers.ts";
import { gzip, telemetryJson, writeMatch } from "./fixtures.ts";
import { withTempDir } from "../support/helpers.ts";

Deno.test("VerifyWorkers runs units on worker threads and reports every result", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 40; i++) {
      await writeMatch(dir, `m${i}`, gzip(telemetryJson(`m${i}`, 10), i % 4 === 0 ? 2 : 1));
    }
    const results: VerifyResult[] = [];
    let bytes = 0;
    const workers = new VerifyWorkers({
      jobs: 2,
      unitOptions: { matchIds: [] },
      onResult: (r) => results.push(r),
      onBytes: (n) => bytes += n,
    });
    for (let i = 0; i < 40; i++) {
      const path = join(dir, `matchID=m${i}`);
      await workers.submit({ kind: "entry", path, id: `m${i}`, dataDir: dir, isDir: true });
    }
    await workers.close();
    assert.equal(results.length, 40);
    assert.equal(results.filter((r) => r.status === "double_gzip").length, 10);
    assert.equal(bytes, results.reduce((n, r) => n + r.bytes!, 0));
  });
});

Deno.test("VerifyWorkers rejects jobs that is not a positive integer", () => {
  for (const jobs of [0, 1.5, -1]) {
    assert.throws(
      () => new VerifyWorkers({ jobs, unitOptions: { matchIds: [] }, onResult: () => {} }),
      RangeError,
    );
  }
});

Deno.test("runVerify() gives the same results with --jobs 1 (this thread) and 2 (workers)", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 12; i++) await writeMatch(dir, `m${i}`, gzip(telemetryJson(`m${i}`, 10)));
    await writeMatch(dir, "bad", new Uint8Array([1, 2, 3]));
    await writeMatch(dir, "pq", new Uint8Array([1]), "part-0.parquet");
    const byJobs: string[][] = [];
    for (const jobs of [1, 2]) {
      const seen: string[] = [];
      await runVerify([], {
        dataDir: dir,
        jobs,
        onResult: (r) => seen.push(`${r.matchId}:${r.status}:${r.detail}`),
      });
      byJobs.push(seen.sort());
    }
    assert.equal(byJobs[0]!.length, 14);
    assert.deepEqual(byJobs[0], byJobs[1]);
  });
});
