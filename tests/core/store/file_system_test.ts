import assert from "node:assert/strict";
import { join } from "node:path";
import { denoFileSystem as fs } from "../../../src/core/store/file_system.ts";
import { withTempDir } from "../../support/helpers.ts";

Deno.test("denoFileSystem.create() makes a new file and refuses an existing one", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "f");
    const file = await fs.create(path);
    assert.equal(await file.write(new Uint8Array([1, 2, 3])), 3);
    await file.sync();
    file.close();
    await assert.rejects(fs.create(path), Deno.errors.AlreadyExists);
    assert.equal(await fs.fileSize(path), 3);
  });
});

Deno.test("denoFileSystem.fileSize() is undefined for a missing path or a directory", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await fs.fileSize(join(dir, "missing")), undefined);
    assert.equal(await fs.fileSize(dir), undefined);
  });
});

Deno.test("denoFileSystem.fileSize() is undefined for a symlink, even to a regular file", async () => {
  await withTempDir(async (dir) => {
    const real = join(dir, "real");
    await Deno.writeFile(real, new Uint8Array(5));
    await Deno.symlink(real, join(dir, "link"));
    assert.equal(await fs.fileSize(real), 5);
    assert.equal(await fs.fileSize(join(dir, "link")), undefined);
    await Deno.symlink(join(dir, "gone"), join(dir, "dangling"));
    assert.equal(await fs.fileSize(join(dir, "dangling")), undefined);
  });
});

Deno.test("denoFileSystem.removeIfExists() ignores a missing file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "f");
    await Deno.writeFile(path, new Uint8Array(1));
    await fs.removeIfExists(path);
    await fs.removeIfExists(path);
    assert.equal(await fs.fileSize(path), undefined);
  });
});

Deno.test("denoFileSystem.removeDirIfEmpty() keeps a directory that has files", async () => {
  await withTempDir(async (dir) => {
    const full = join(dir, "full");
    const empty = join(dir, "empty");
    await fs.mkdirp(join(full, "x"));
    await fs.mkdirp(empty);
    await fs.removeDirIfEmpty(full);
    await fs.removeDirIfEmpty(empty);
    await fs.removeDirIfEmpty(join(dir, "never-existed"));
    assert.ok((await Deno.stat(full)).isDirectory);
    await assert.rejects(Deno.stat(empty), Deno.errors.NotFound);
  });
});

Deno.test("denoFileSystem.syncDir() and rename() work on real directories", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "a"), new Uint8Array([9]));
    await fs.rename(join(dir, "a"), join(dir, "b"));
    await fs.syncDir(dir);
    assert.deepEqual(await Deno.readFile(join(dir, "b")), new Uint8Array([9]));
    await assert.rejects(fs.syncDir(join(dir, "missing")), Deno.errors.NotFound);
  });
});

Deno.test("denoFileSystem.removeOrphanedTemps() removes only the temp files no live writer holds", async () => {
  const { tempFileName } = await import("../../../src/core/store/storage.ts");
  const dir = await Deno.makeTempDir();
  try {
    // Held by a writer in this process (a download in flight): kept.
    const live = join(dir, tempFileName());
    const writer = await fs.create(live);
    // Left by a writer that closed it without removing it: removed.
    const orphan = join(dir, tempFileName());
    (await fs.create(orphan)).close();
    // Other files are never touched.
    await Deno.writeTextFile(join(dir, "raw.json.gz"), "x");
    await Deno.writeTextFile(join(dir, "notes.tmp"), "x");
    const removed = await fs.removeOrphanedTemps(dir);
    assert.deepEqual(removed, [orphan.split("/").at(-1)]);
    const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assert.deepEqual(left, [live.split("/").at(-1), "notes.tmp", "raw.json.gz"].sort());
    writer.close();
    assert.deepEqual(await fs.removeOrphanedTemps(join(dir, "never-existed")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("denoFileSystem.removeOrphanedTemps() removes the temp file of a process killed with SIGKILL, not of a live one", async () => {
  const dir = await Deno.makeTempDir();
  const module = new URL("../../../src/core/store/file_system.ts", import.meta.url).href;
  const storage = new URL("../../../src/core/store/storage.ts", import.meta.url).href;
  // A child that creates a temp file the way a download does, says so, and hangs.
  const script = `
    const { denoFileSystem } = await import(${JSON.stringify(module)});
    const { tempFileName } = await import(${JSON.stringify(storage)});
    await denoFileSystem.create(${JSON.stringify(dir)} + "/" + tempFileName());
    console.log("ready");
    setInterval(() => {}, 1000);
  `;
  function spawn() {
    return new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  }
  async function ready(child: Deno.ChildProcess) {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    assert.match(value ?? "", /ready/);
    reader.releaseLock();
  }
  const killed = spawn();
  const alive = spawn();
  try {
    await ready(killed);
    await ready(alive);
    killed.kill("SIGKILL");
    await killed.status;
    const before = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assert.equal(before.length, 2);
    const removed = await fs.removeOrphanedTemps(dir);
    assert.equal(removed.length, 1, "the killed writer's file only");
    const after = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assert.equal(after.length, 1, "the live writer's file is kept");
  } finally {
    try {
      alive.kill("SIGKILL");
    } catch { /* gone */ }
    await alive.status;
    await killed.stdout.cancel().catch(() => {});
    await alive.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("denoFileSystem.mkdirp() says whether it made the directory", async () => {
  await withTempDir(async (dir) => {
    const nested = join(dir, "a", "b", "c");
    assert.equal(await fs.mkdirp(nested), true, "parents missing");
    assert.equal(await fs.mkdirp(nested), false, "there already");
    assert.equal(await fs.mkdirp(join(dir, "a", "d")), true, "parent there");
    assert.ok((await Deno.stat(nested)).isDirectory);
    await Deno.writeFile(join(dir, "file"), new Uint8Array([1]));
    await assert.rejects(fs.mkdirp(join(dir, "file")), Deno.errors.AlreadyExists);
    await assert.rejects(fs.mkdirp(join(dir, "file", "below")));
  });
});
