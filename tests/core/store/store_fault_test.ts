import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TelemetryError } from "../../../src/core/errors.ts";
import {
  asStoreFault,
  classifyStoreFault,
  floorFaultError,
  STORE_FAULT_KIND,
  type StoreErrno,
  storeFaultCode,
  type StoreFaultContext,
  StoreFaultError,
  storeFaultOf,
  type StoreFaultReason,
} from "../../../src/core/store/store_fault.ts";
import { smallFsTest } from "../../support/small_fs.ts";

const MiB = 1024 * 1024;
const DATA = "/data";
const TEMP = "/data/matchID=abc/.raw.json.gz.ab12cd34ef56.tmp";
const WRITE: StoreFaultContext = { op: "write", path: TEMP, dataDir: DATA };

/** An error as Deno's file system calls throw it: the message and `code`. */
function denoError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** An error as `node:fs` throws it: `code`, a negative `errno`, `syscall`. */
function nodeError(code: string, errno: number, syscall: string): Error {
  return Object.assign(new Error(`${code}: failed, ${syscall}`), { code, errno: -errno, syscall });
}

const STORE_ERRNOS: [StoreErrno, number, StoreFaultReason, string][] = [
  ["ENOSPC", 28, "full", "no space left on device"],
  ["EDQUOT", 122, "full", "disk quota exceeded"],
  ["EROFS", 30, "read_only", "read-only file system"],
  ["EIO", 5, "io", "input/output error"],
  ["EACCES", 13, "permission", "permission denied"],
  ["EPERM", 1, "permission", "operation not permitted"],
];

for (const [errno, number, reason, words] of STORE_ERRNOS) {
  Deno.test(`classifyStoreFault() takes ${errno} for a store fault: ${reason}`, () => {
    const errors = [
      denoError(`${words} (os error ${number}): open '${TEMP}'`, errno),
      nodeError(errno, number, "write"),
      new Error(`${words} (os error ${number})`), // the message alone
    ];
    for (const err of errors) {
      const fault = classifyStoreFault(err, WRITE);
      assert.ok(fault !== undefined, err.message);
      assert.equal(fault.reason, reason);
      assert.equal(fault.errno, errno);
      assert.equal(fault.op, "write");
      assert.equal(fault.path, TEMP);
      assert.equal(fault.dataDir, DATA);
      assert.equal(fault.cause, err);
    }
    assert.equal(
      classifyStoreFault(denoError(`x (os error ${number})`, errno), WRITE)?.words,
      words,
    );
  });
}

Deno.test("classifyStoreFault() reads Deno's PermissionDenied: EACCES, or the code it carries", () => {
  const plain = new Deno.errors.PermissionDenied("Permission denied (os error 13)");
  assert.equal(classifyStoreFault(plain, WRITE)?.errno, "EACCES");
  const eperm = Object.assign(new Deno.errors.PermissionDenied("Operation not permitted"), {
    code: "EPERM",
  });
  assert.equal(classifyStoreFault(eperm, WRITE)?.errno, "EPERM");
  assert.equal(classifyStoreFault(eperm, WRITE)?.words, "permission denied");
});

Deno.test("classifyStoreFault() leaves what is not the store's to the job or the tool", () => {
  const others: unknown[] = [
    denoError("No such file or directory (os error 2)", "ENOENT"),
    new Deno.errors.NotFound("No such file or directory (os error 2)"),
    new Deno.errors.AlreadyExists("File exists (os error 17)"),
    denoError("Too many open files (os error 24)", "EMFILE"),
    // The runtime's refusals are the binary's permissions (fatal), not the store's.
    new Deno.errors.NotCapable(
      'Requires write access to "/data", run again with the --allow-write flag',
    ),
    new Deno.errors.PermissionDenied('Requires write access to "/data"'),
    new TelemetryError("transient", "network", "cannot reach cdn: connection reset"),
    new Error("something else"),
    "a string",
    undefined,
  ];
  for (const err of others) assert.equal(classifyStoreFault(err, WRITE), undefined, String(err));
});

Deno.test("classifyStoreFault() counts EACCES/EPERM only on the data dir and its match directories", () => {
  const denied = () => new Deno.errors.PermissionDenied("Permission denied (os error 13)");
  const store: StoreFaultContext[] = [
    { op: "create", path: "/data/.raw.json.gz.0a0b0c0d0e0f.tmp", dataDir: DATA }, // in the data dir
    { op: "mkdir", path: "/data/matchID=abc", dataDir: DATA }, // a match directory
    { op: "mkdir", path: "/data", dataDir: "/data/" }, // the data dir itself
    { op: "create", path: TEMP, dataDir: DATA }, // in a match directory
    { op: "rename", path: TEMP, to: "/data/matchID=abc/raw.json.gz", dataDir: DATA },
    { op: "write", path: "matchID=abc/x", dataDir: "." }, // relative: resolved against the cwd
  ];
  for (const context of store) {
    assert.equal(classifyStoreFault(denied(), context)?.reason, "permission", context.path);
  }
  const elsewhere: StoreFaultContext[] = [
    { op: "open", path: "/etc/jobs.ndjson", dataDir: DATA },
    { op: "open", path: "/data-other/matchID=abc/raw.json.gz", dataDir: DATA },
    { op: "create", path: "/data/.quarantine/2026/raw.json.gz", dataDir: DATA },
    { op: "create", path: "/data/notes/sub/x", dataDir: DATA },
    { op: "create", path: "/data/matchID=abc/sub/x", dataDir: DATA },
  ];
  for (const context of elsewhere) {
    assert.equal(classifyStoreFault(denied(), context), undefined, context.path);
  }
  // A full disk is the store's wherever it happens.
  const full = denoError("No space left on device (os error 28)", "ENOSPC");
  assert.equal(classifyStoreFault(full, elsewhere[4]!)?.reason, "full");
});

Deno.test("classifyStoreFault() looks through the io errors that wrap the file system's", () => {
  const cause = denoError("No space left on device (os error 28)", "ENOSPC");
  const wrapped = new TelemetryError("transient", "io", `cannot write ${TEMP}: no space left`, {
    cause,
  });
  const fault = classifyStoreFault(wrapped, WRITE);
  assert.equal(fault?.errno, "ENOSPC");
  assert.equal(fault?.words, "no space left on device");
  assert.equal(fault?.cause, wrapped);
});

Deno.test("StoreFaultError says what failed, where, why with the errno, and the free space", () => {
  const fault = classifyStoreFault(
    denoError("No space left on device (os error 28)", "ENOSPC"),
    WRITE,
  );
  assert.ok(fault !== undefined);
  const err = new StoreFaultError(fault, { free: 0, total: 8 * MiB });
  assert.ok(err instanceof TelemetryError);
  assert.equal(err.kind, STORE_FAULT_KIND);
  assert.equal(err.code, storeFaultCode("full"));
  assert.equal(
    err.message,
    `cannot write ${TEMP}: no space left on device (ENOSPC); 0 B free of 8.0 MiB`,
  );
  assert.deepEqual(err.space, { free: 0, total: 8 * MiB });
  assert.equal(err.fault, fault);
  const unknown = new StoreFaultError(fault);
  assert.equal(
    unknown.message,
    `cannot write ${TEMP}: no space left on device (ENOSPC); free space unknown`,
  );
  const rename = classifyStoreFault(denoError("Read-only file system (os error 30)", "EROFS"), {
    op: "rename",
    path: TEMP,
    to: "/data/matchID=abc/raw.json.gz",
    dataDir: DATA,
  });
  assert.ok(rename !== undefined);
  assert.equal(
    new StoreFaultError(rename, { free: 3 * MiB, total: 8 * MiB }).message,
    `cannot rename ${TEMP} to /data/matchID=abc/raw.json.gz: read-only file system (EROFS); 3.0 MiB free of 8.0 MiB`,
  );
});

Deno.test("StoreFaultError names each operation in words", () => {
  const cause = denoError("Input/output error (os error 5)", "EIO");
  const lines = (["create", "open", "fsync", "mkdir", "remove", "statfs"] as const).map((op) =>
    new StoreFaultError(classifyStoreFault(cause, { op, path: "/data/x", dataDir: DATA })!).message
  );
  assert.deepEqual(lines, [
    "cannot create /data/x: input/output error (EIO); free space unknown",
    "cannot open /data/x: input/output error (EIO); free space unknown",
    "cannot fsync /data/x: input/output error (EIO); free space unknown",
    "cannot create directory /data/x: input/output error (EIO); free space unknown",
    "cannot remove /data/x: input/output error (EIO); free space unknown",
    "cannot read the free space of /data/x: input/output error (EIO); free space unknown",
  ]);
});

Deno.test("floorFaultError() names the free space, the floor and the download that would not fit", () => {
  const space = { free: 512 * MiB, total: 8 * 1024 * MiB };
  const below = floorFaultError({
    dataDir: DATA,
    space,
    floor: { type: "bytes", bytes: 1024 * MiB },
  });
  assert.equal(
    below.message,
    "free space of /data is below the floor: 512.0 MiB free of 8.0 GiB, floor 1.0 GiB (--min-free-space)",
  );
  assert.equal(below.fault.reason, "full");
  assert.equal(below.fault.errno, undefined);
  assert.equal(below.kind, STORE_FAULT_KIND);
  const share = floorFaultError({
    dataDir: DATA,
    space,
    floor: { type: "percent", percent: 5 },
    extraBytes: 40 * MiB,
  });
  assert.equal(
    share.message,
    "a download of 40.0 MiB into /data would go below the floor: 512.0 MiB free of 8.0 GiB, floor 5% = 409.6 MiB (--min-free-space)",
  );
});

Deno.test("storeFaultOf() finds a store fault in a cause chain, and nothing elsewhere", () => {
  const fault = floorFaultError({
    dataDir: DATA,
    space: { free: 0, total: MiB },
    floor: { type: "bytes", bytes: 1 },
  });
  assert.equal(storeFaultOf(fault), fault);
  const wrapped = new TelemetryError("transient", "io", "x", {
    cause: new Error("y", { cause: fault }),
  });
  assert.equal(storeFaultOf(wrapped), fault);
  assert.equal(classifyStoreFault(wrapped, WRITE), fault.fault, "classified as it was");
  assert.equal(storeFaultOf(new Error("x")), undefined);
  assert.equal(storeFaultOf(denoError("No space left on device", "ENOSPC")), undefined);
  assert.equal(storeFaultOf("x"), undefined);
});

Deno.test("asStoreFault() reads the free space of the data dir for the message", async () => {
  const asked: string[] = [];
  const freeSpace = (path: string) => {
    asked.push(path);
    return Promise.resolve({ free: 0, total: 8 * MiB });
  };
  const cause = denoError("No space left on device (os error 28)", "ENOSPC");
  const err = await asStoreFault(cause, { ...WRITE, freeSpace });
  assert.ok(err instanceof StoreFaultError);
  assert.equal(
    err.message,
    `cannot write ${TEMP}: no space left on device (ENOSPC); 0 B free of 8.0 MiB`,
  );
  assert.deepEqual(asked, [DATA]);
  assert.equal(await asStoreFault(err, { ...WRITE, freeSpace }), err, "a fault stays itself");
  assert.deepEqual(asked, [DATA], "and is not measured again");
  const notOurs = denoError("No such file or directory (os error 2)", "ENOENT");
  assert.equal(await asStoreFault(notOurs, { ...WRITE, freeSpace }), undefined);
  // A free space that cannot be read does not hide the fault.
  const failing = () => Promise.reject(denoError("Input/output error (os error 5)", "EIO"));
  const unknown = await asStoreFault(cause, { ...WRITE, freeSpace: failing });
  assert.match(unknown?.message ?? "", /; free space unknown$/);
});

smallFsTest(
  "a write to a full tmpfs is a store fault with the free space in its line",
  async (fs) => {
    await fs.fill();
    const path = join(fs.dir, "matchID=abc", ".raw.json.gz.ab12cd34ef56.tmp");
    await Deno.mkdir(join(fs.dir, "matchID=abc"));
    let caught: unknown;
    const file = await Deno.open(path, { write: true, createNew: true });
    try {
      await file.write(new Uint8Array(4096));
    } catch (err) {
      caught = err;
    } finally {
      file.close();
    }
    const err = await asStoreFault(caught, { op: "write", path, dataDir: fs.dir });
    assert.ok(err instanceof StoreFaultError, String(caught));
    assert.equal(err.fault.reason, "full");
    assert.equal(
      err.message,
      `cannot write ${path}: no space left on device (ENOSPC); 0 B free of 8.0 MiB`,
    );
    // node:fs errors say the same.
    const nodeFailure = await writeFile(join(fs.dir, "node.bin"), new Uint8Array(4096)).then(
      () => undefined,
      (e: unknown) => e,
    );
    const viaNode = classifyStoreFault(nodeFailure, {
      op: "write",
      path: "node.bin",
      dataDir: fs.dir,
    });
    assert.equal(viaNode?.errno, "ENOSPC");
  },
);

smallFsTest("a write to a tmpfs remounted read-only is a store fault: EROFS", async (fs) => {
  await fs.readOnly(true);
  try {
    const path = join(fs.dir, ".raw.json.gz.0a0b0c0d0e0f.tmp");
    const caught = await Deno.open(path, { write: true, createNew: true }).then(
      (file) => file.close(),
      (e: unknown) => e,
    );
    const err = await asStoreFault(caught, { op: "create", path, dataDir: fs.dir });
    assert.ok(err instanceof StoreFaultError, String(caught));
    assert.equal(err.fault.reason, "read_only");
    assert.equal(
      err.message,
      `cannot create ${path}: read-only file system (EROFS); 8.0 MiB free of 8.0 MiB`,
    );
  } finally {
    await fs.readOnly(false);
  }
});
