/**
 * The worker's pause on a store fault (issue 21), in process against the
 * real broker, with the download and the store probe wrapped to fail on
 * cue (the full-disk runs on a real file system are in
 * `tests/commands/consume_store_test.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { downloadTelemetry } from "../../src/core/download.ts";
import {
  type StoreFault,
  StoreFaultError,
  type StoreFaultReason,
} from "../../src/core/store/store_fault.ts";
import type { StoreProbe } from "../../src/core/store/store_probe.ts";
import { randomEnv, startWorker, TelemetryServer, TestBroker, waitFor } from "./harness.ts";
import { endWorkerTest } from "./scenario.ts";

const SPACE = { free: 10 * 1024 ** 3, total: 20 * 1024 ** 3 };

function storeFault(dataDir: string, reason: StoreFaultReason): StoreFaultError {
  const fault: StoreFault = {
    op: "write",
    path: `${dataDir}/matchID=x/.raw.json.gz.000000000000.tmp`,
    to: undefined,
    dataDir,
    reason,
    errno: reason === "full" ? "ENOSPC" : "EACCES",
    words: reason === "full" ? "no space left on device" : "permission denied",
    cause: undefined,
  };
  return new StoreFaultError(fault, SPACE);
}

/** A probe that passes while `state.ok`. */
function probe(state: { ok: boolean; calls: number }) {
  return (dataDir: string): Promise<StoreProbe> => {
    state.calls++;
    return Promise.resolve(
      state.ok
        ? { ok: true, space: SPACE, seconds: 0 }
        : { ok: false, error: storeFault(dataDir, "full"), space: SPACE, seconds: 0 },
    );
  };
}

Deno.test("Consumer pauses on a store fault, gives the job back uncounted, and resumes when the probe passes", async () => {
  const env = randomEnv();
  const broker = await TestBroker.open(env);
  const server = new TelemetryServer();
  const state = { ok: false, calls: 0 };
  let faults = 0;
  const worker = await startWorker(env, {
    worker: {
      storeProbeIntervalMs: 50,
      probeStore: probe(state),
      download: (url, options) => {
        if (faults++ === 0) return Promise.reject(storeFault(options.dataDir, "full"));
        return downloadTelemetry(url, options);
      },
    },
  });
  try {
    await broker.publish({ match_id: "pause-1", telemetry_url: server.url("pause-1") });
    await waitFor(() => worker.logs.some((l) => l.event === "store_paused"), {
      what: "store_paused",
    });
    await waitFor(() => state.calls >= 2, { what: "probes" });
    assert.equal(worker.worker.storePaused, true);
    assert.match(worker.worker.health.detail, /^store paused: cannot write .*\(ENOSPC\)/);
    assert.equal(worker.worker.health.ok, false);
    await waitFor(async () => await broker.count(broker.names.queue) === 1, {
      what: "the job back in its queue",
    });
    const [requeued] = worker.jobs();
    assert.equal(requeued?.outcome, "requeued");
    assert.equal(requeued?.kind, "store");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(worker.dataDir)), [], "no start mark");

    state.ok = true;
    await waitFor(() => worker.jobs().some((l) => l.outcome === "downloaded"), {
      what: "stored after the resume",
    });
    const resumed = worker.logs.find((l) => l.event === "store_resumed");
    assert.ok(Number(resumed?.paused_s) > 0);
    assert.equal(worker.worker.storePaused, false);
    assert.equal(worker.jobs().at(-1)?.attempt, 1, "the pause did not count a delivery");
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
    assert.equal(await broker.count(broker.names.retryQueue), 0);
  } catch (err) {
    console.log(JSON.stringify(worker.jobs().map((l) => [l.match_id, l.outcome, l.error])));
    throw err;
  } finally {
    await endWorkerTest({ worker, broker, server });
  }
});

Deno.test("Consumer counts a store fault that comes back on the same match right after the resume: no endless pause", async () => {
  const env = randomEnv();
  const broker = await TestBroker.open(env);
  const server = new TelemetryServer();
  const state = { ok: true, calls: 0 };
  const worker = await startWorker(env, {
    flags: { maxDeliveries: 2 },
    worker: {
      storeProbeIntervalMs: 50,
      probeStore: probe(state),
      // A match directory the worker may not write (root-owned, say): every write in it fails.
      download: (url, options) =>
        options.matchId === "stuck-1"
          ? Promise.reject(storeFault(options.dataDir, "permission"))
          : downloadTelemetry(url, options),
    },
  });
  try {
    await broker.publish({ match_id: "stuck-1", telemetry_url: server.url("stuck-1") });
    await broker.publish({ match_id: "fine-1", telemetry_url: server.url("fine-1") });
    await waitFor(async () => await broker.count(broker.names.deadLetterQueue) === 1, {
      what: "the stuck job dead-lettered",
      timeoutMs: 15_000,
    });
    await waitFor(() => worker.jobs().some((l) => l.outcome === "downloaded"), {
      what: "the other job stored",
    });
    // The job line follows the broker's confirm of the dead letter.
    await waitFor(() => worker.jobs().some((l) => l.outcome === "dead_lettered"), {
      what: "the stuck job's dead_lettered line",
    });
    const stuck = worker.jobs().filter((l) => l.match_id === "stuck-1");
    // Each delivery: given back on the pause (uncounted; a delivery already on
    // its way when the consumer is cancelled is given back too), then counted
    // when it faults again right after the resume.
    const counted = stuck.map((l) => l.outcome).filter((o) => o !== "requeued");
    assert.deepEqual(counted, ["retry", "dead_lettered"]);
    assert.ok(stuck.filter((l) => l.outcome === "requeued").length >= 2);
    assert.equal(stuck.at(-1)?.kind, "transient");
    assert.match(String(stuck.at(-1)?.error), /a fault of this match's files, not of the store/);
    assert.equal(worker.logs.filter((l) => l.event === "store_paused").length, 2);
    assert.equal(worker.worker.storePaused, false);
  } catch (err) {
    console.log(JSON.stringify(worker.jobs().map((l) => [l.match_id, l.outcome, l.error])));
    throw err;
  } finally {
    await endWorkerTest({ worker, broker, server });
  }
});
