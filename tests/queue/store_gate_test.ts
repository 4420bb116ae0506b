import assert from "node:assert/strict";
import type { LogFields, Logger, LogLevel } from "../../src/core/log.ts";
import type { FreeSpace, FreeSpaceFloor } from "../../src/core/store/free_space.ts";
import { type StoreFault, StoreFaultError } from "../../src/core/store/store_fault.ts";
import type { StoreProbe } from "../../src/core/store/store_probe.ts";
import { StoreGate, type StoreGateOptions } from "../../src/queue/store_gate.ts";

const GIB = 1024 ** 3;
const SPACE: FreeSpace = { free: 10 * GIB, total: 20 * GIB };

function fullFault(dataDir: string): StoreFaultError {
  const fault: StoreFault = {
    op: "write",
    path: `${dataDir}/matchID=x/.raw.json.gz.000000000000.tmp`,
    to: undefined,
    dataDir,
    reason: "full",
    errno: "ENOSPC",
    words: "no space left on device",
    cause: undefined,
  };
  return new StoreFaultError(fault, { free: 0, total: 8 * 1024 ** 2 });
}

/** A gate on `/data` with a recording logger, gauge and callbacks; the probe passes while `probeOk`. */
function gate(options: { floor?: FreeSpaceFloor; free?: number } = {}) {
  const lines: { level: LogLevel; event: string; fields: LogFields | undefined }[] = [];
  const log: Logger = {
    log: (level, event, fields) => lines.push({ level, event, fields }),
    info: (event, fields) => lines.push({ level: "info", event, fields }),
    warn: (event, fields) => lines.push({ level: "warn", event, fields }),
    error: (event, fields) => lines.push({ level: "error", event, fields }),
  };
  const state = { probeOk: false, probes: 0, pauses: 0, resumes: 0, gauge: [] as boolean[] };
  const stop = new AbortController();
  const gateOptions: StoreGateOptions = {
    dataDir: "/data",
    floor: options.floor,
    log,
    metrics: {
      storePaused: (on) => state.gauge.push(on),
      jobSettled: () => {},
      inFlight: () => {},
      connected: () => {},
      blocked: () => {},
    },
    signal: stop.signal,
    onPause: () => state.pauses++,
    onResume: () => {
      state.resumes++;
      return Promise.resolve();
    },
    probeIntervalMs: 5,
    probeStore: (dataDir): Promise<StoreProbe> => {
      state.probes++;
      return Promise.resolve(
        state.probeOk
          ? { ok: true, space: SPACE, seconds: 0 }
          : { ok: false, error: fullFault(dataDir), space: SPACE, seconds: 0 },
      );
    },
    freeSpace: () => Promise.resolve({ free: options.free ?? SPACE.free, total: SPACE.total }),
  };
  return { gate: new StoreGate(gateOptions), lines, state, stop };
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), "timed out");
}

Deno.test("StoreGate.check() lets a job start above the floor, and stops it below with a store_full fault", async () => {
  const above = gate({ floor: { type: "bytes", bytes: GIB } });
  assert.equal(await above.gate.check(), undefined);
  const below = gate({ floor: { type: "bytes", bytes: GIB }, free: GIB / 2 });
  const fault = await below.gate.check();
  assert.equal(fault?.code, "store_full");
  assert.match(String(fault?.message), /below the floor/);
  const off = gate({ floor: { type: "off" }, free: 0 });
  assert.equal(await off.gate.check(), undefined, "--min-free-space 0 turns the check off");
  assert.equal(below.state.pauses, 0, "check() alone never pauses");
});

Deno.test("StoreGate.pause() pauses once, logs store_paused, and resumes when a probe passes", async () => {
  const { gate: store, lines, state, stop } = gate();
  try {
    const fault = fullFault("/data");
    store.pause(fault, "m-1");
    store.pause(fault, "m-2");
    assert.equal(state.pauses, 1, "a second fault during the pause changes nothing");
    assert.equal(store.paused, fault);
    assert.equal(await store.check(), fault, "no job starts while paused");
    const paused = lines.filter((l) => l.event === "store_paused");
    assert.equal(paused.length, 1);
    assert.equal(paused[0]?.fields?.errno, "ENOSPC");
    assert.equal(paused[0]?.fields?.match_id, "m-1");
    await until(() => state.probes >= 2);
    assert.equal(state.resumes, 0, "a failing probe keeps the pause");
    state.probeOk = true;
    await until(() => state.resumes === 1);
    assert.equal(store.paused, undefined);
    assert.deepEqual(state.gauge, [true, false]);
    assert.equal(lines.filter((l) => l.event === "store_resumed").length, 1);
  } finally {
    stop.abort();
  }
});

Deno.test("StoreGate.confined() blames the match only for the same match right after its pause, with a passing probe", async () => {
  const { gate: store, state, stop } = gate();
  try {
    assert.equal(await store.confined("m-1"), false, "no pause yet: the store's fault");
    store.pause(fullFault("/data"), "m-1");
    assert.equal(await store.confined("m-1"), false, "while paused: the store's fault");
    state.probeOk = true;
    await until(() => store.paused === undefined);
    assert.equal(await store.confined("m-2"), false, "another match: the store's fault");
    assert.equal(await store.confined("m-1"), true, "the same match, probe passes: its own");
    assert.equal(await store.confined("m-1"), false, "counted once, then afresh");
  } finally {
    stop.abort();
  }
});

Deno.test("StoreGate.stored() forgets the match that started the pause", async () => {
  const { gate: store, state, stop } = gate();
  try {
    store.pause(fullFault("/data"), "m-1");
    state.probeOk = true;
    await until(() => store.paused === undefined);
    store.stored("m-1");
    assert.equal(await store.confined("m-1"), false);
  } finally {
    stop.abort();
  }
});

Deno.test("StoreGate stops probing when the worker stops", async () => {
  const { gate: store, state, stop } = gate();
  store.pause(fullFault("/data"), undefined);
  stop.abort();
  await new Promise((r) => setTimeout(r, 30));
  const probes = state.probes;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(state.probes, probes);
  assert.equal(state.resumes, 0);
});
