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
