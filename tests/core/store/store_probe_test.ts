import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { TelemetryError } from "../../../src/core/errors.ts";
import { denoFileSystem, type FileSystem } from "../../../src/core/store/file_system.ts";
import type { FreeSpace } from "../../../src/core/store/free_space.ts";
import { isTempFileName } from "../../../src/core/store/storage.ts";
import {
  STORE_FAULT_KIND,
  type StoreFaultError,
  storeFaultOf,
} from "../../../src/core/store/store_fault.ts";
import { PROBE_BYTES, probeStore, type StoreProbe } from "../../../src/core/store/store_probe.ts";
import { withTempDir } from "../../support/helpers.ts";
import { FILL_FILE, smallFsTest } from "../../support/small_fs.ts";

const MiB = 1024 * 1024;

async function names(dir: string): Promise<string[]> {
  return Array.from(await Array.fromAsync(Deno.readDir(dir)), (e) => e.name).sort();
}

/** The store fault of a failed probe. */
function faultOf(probe: StoreProbe): StoreFaultError {
  assert.ok(!probe.ok, "the probe passed");
  const fault = storeFaultOf(probe.error);
  assert.ok(fault !== undefined, `not a store fault: ${probe.error.message}`);
  assert.ok(!fault.message.includes("\n"), "one line");
  return fault;
}

/** A file system that records the paths it creates and can fail one step. */
function recording(fail: Partial<Record<"create" | "write" | "sync" | "remove", Error>> = {}) {
  const created: string[] = [];
  const fs: FileSystem = {
    ...denoFileSystem,
    async create(path) {
      created.push(path);
      if (fail.create !== undefined) throw fail.create;
      const real = await denoFileSystem.create(path);
      return {
        write: (bytes) => fail.write === undefined ? real.write(bytes) : Promise.reject(fail.write),
        sync: () => fail.sync === undefined ? real.sync() : Promise.reject(fail.sync),
        close: () => real.close(),
      };
    },
    async removeIfExists(path) {
      if (fail.remove !== undefined) throw fail.remove;
      await denoFileSystem.removeIfExists(path);
    },
  };
  return { fs, created };
}

function osError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const plenty = (): Promise<FreeSpace> => Promise.resolve({ free: 100 * MiB, total: 200 * MiB });

smallFsTest(
  "probeStore() fails on a full tmpfs with ENOSPC, and passes once it is freed",
  async (fs) => {
    const ok = await probeStore(fs.dir, { floor: { type: "off" } });
    assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
    assert.deepEqual(ok.space, { free: 8 * MiB, total: 8 * MiB });
    await fs.fill();
    const full = await probeStore(fs.dir, { floor: { type: "off" } });
    const fault = faultOf(full);
    assert.equal(fault.kind, STORE_FAULT_KIND);
    assert.equal(fault.fault.reason, "full");
    assert.equal(fault.fault.errno, "ENOSPC");
    assert.match(
      fault.message,
      new RegExp(
        `^cannot (write|fsync) ${fs.dir}/\\.raw\\.json\\.gz\\.[0-9a-f]{12}\\.tmp: ` +
          `no space left on device \\(ENOSPC\\); 0 B free of 8\\.0 MiB$`,
      ),
    );
    assert.deepEqual(await names(fs.dir), [FILL_FILE], "the probe file is removed");
    await fs.free();
    const again = await probeStore(fs.dir, { floor: { type: "off" } });
    assert.ok(again.ok, again.ok ? "" : again.error.message);
    assert.deepEqual(await names(fs.dir), []);
  },
);

smallFsTest("probeStore() below the floor fails before writing anything", async (fs) => {
  const floor = { type: "bytes", bytes: 9 * MiB } as const;
  const { fs: files, created } = recording();
  const probe = await probeStore(fs.dir, { floor, fs: files });
  const fault = faultOf(probe);
  assert.equal(fault.fault.reason, "full");
  assert.equal(fault.fault.errno, undefined);
  assert.equal(
    fault.message,
    `free space of ${fs.dir} is below the floor: 8.0 MiB free of 8.0 MiB, floor 9.0 MiB (--min-free-space)`,
  );
  assert.deepEqual(created, [], "no probe file");
  assert.ok((await probeStore(fs.dir, { floor: { type: "percent", percent: 50 } })).ok);
  await fs.fill();
  const full = faultOf(await probeStore(fs.dir, { floor: { type: "percent", percent: 50 } }));
  assert.match(full.message, /0 B free of 8\.0 MiB, floor 50% = 4\.0 MiB/);
});

smallFsTest(
  "probeStore() on a tmpfs remounted read-only fails with EROFS, and passes once rw",
  async (fs) => {
    await fs.readOnly(true);
    try {
      const fault = faultOf(await probeStore(fs.dir, { floor: { type: "off" } }));
      assert.equal(fault.fault.reason, "read_only");
      assert.equal(fault.fault.op, "create");
      assert.match(
        fault.message,
        /^cannot create .*\.tmp: read-only file system \(EROFS\); 8\.0 MiB free of 8\.0 MiB$/,
      );
    } finally {
      await fs.readOnly(false);
    }
    assert.ok((await probeStore(fs.dir, { floor: { type: "off" } })).ok);
    assert.deepEqual(await names(fs.dir), []);
  },
);

Deno.test("probeStore() writes a temp file named like an atomic write's, in the data dir, and removes it", async () => {
  await withTempDir(async (dir) => {
    const { fs, created } = recording();
    const probe = await probeStore(dir, { fs, freeSpace: plenty, floor: { type: "off" } });
    assert.ok(probe.ok);
    assert.equal(created.length, 1);
    assert.equal(join(dir, basename(created[0]!)), created[0]);
    assert.ok(isTempFileName(basename(created[0]!)), created[0]);
    assert.deepEqual(await names(dir), []);
    assert.equal(PROBE_BYTES, 4096);
  });
});

Deno.test("probeStore() classifies each failing step and leaves no file", async () => {
  await withTempDir(async (dir) => {
    const cases = [
      ["sync", osError("Input/output error (os error 5)", "EIO"), "fsync", "io"],
      ["write", osError("Disk quota exceeded (os error 122)", "EDQUOT"), "write", "full"],
      [
        "create",
        new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
        "create",
        "permission",
      ],
      ["remove", osError("Read-only file system (os error 30)", "EROFS"), "remove", "read_only"],
    ] as const;
    for (const [step, error, op, reason] of cases) {
      const { fs } = recording({ [step]: error });
      const fault = faultOf(
        await probeStore(dir, { fs, freeSpace: plenty, floor: { type: "off" } }),
      );
      assert.equal(fault.fault.op, op, step);
      assert.equal(fault.fault.reason, reason, step);
      assert.match(fault.message, /; 100\.0 MiB free of 200\.0 MiB$/);
      if (step !== "remove") assert.deepEqual(await names(dir), [], step);
      else for (const name of await names(dir)) await Deno.remove(join(dir, name));
    }
  });
});

Deno.test("probeStore() takes a failure to read the free space for a fault when it is the store's", async () => {
  await withTempDir(async (dir) => {
    const failing = () => Promise.reject(osError("Input/output error (os error 5)", "EIO"));
    const fault = faultOf(await probeStore(dir, { freeSpace: failing }));
    assert.equal(fault.fault.op, "statfs");
    assert.equal(
      fault.message,
      `cannot read the free space of ${dir}: input/output error (EIO); free space unknown`,
    );
  });
});

Deno.test("probeStore() never throws: a missing data dir is a transient io error, not a store fault", async () => {
  await withTempDir(async (parent) => {
    const dir = join(parent, "gone");
    const probe = await probeStore(dir, { floor: { type: "off" } });
    assert.ok(!probe.ok);
    assert.ok(probe.error instanceof TelemetryError);
    assert.equal(storeFaultOf(probe.error), undefined);
    assert.equal(probe.error.kind, "transient");
    assert.equal(probe.error.code, "io");
    assert.match(
      probe.error.message,
      /^cannot probe the data dir .*gone: statfs .*gone: no such file/,
    );
    assert.deepEqual(await names(parent), []);
  });
});

Deno.test("probeStore() measures its time with the clock it is given", async () => {
  await withTempDir(async (dir) => {
    let ms = 1000;
    const now = () => (ms += 250);
    const probe = await probeStore(dir, { freeSpace: plenty, floor: { type: "off" }, now });
    assert.ok(probe.ok);
    assert.equal(probe.seconds, 0.25);
  });
});

Deno.test("probeStore() uses the 1 GiB floor by default", async () => {
  await withTempDir(async (dir) => {
    const small = () => Promise.resolve({ free: 1024 * MiB - 1, total: 8 * 1024 * MiB });
    const fault = faultOf(await probeStore(dir, { freeSpace: small }));
    assert.match(fault.message, /floor 1\.0 GiB \(--min-free-space\)$/);
    const enough = () => Promise.resolve({ free: 1024 * MiB, total: 8 * 1024 * MiB });
    assert.ok((await probeStore(dir, { freeSpace: enough })).ok);
  });
});
