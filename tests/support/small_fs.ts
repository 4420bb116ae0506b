/**
 * A small real file system for the tests of a full or read-only store: a
 * `tmpfs` of a few MiB mounted on a fresh temp directory. It needs root (CI
 * runs the tests as root); where mounting is not allowed,
 * {@linkcode mountSmallFs} returns undefined and {@linkcode smallFsTest}
 * registers the test as ignored, its name saying why.
 *
 * Every mount is undone: by the test's cleanup (also when it fails), and,
 * should the test process end first, by an `unload` handler.
 *
 * @module
 */

import { join } from "node:path";

/** A mounted tmpfs. */
export interface SmallFs {
  /** The mount point. */
  dir: string;
  /** Its size in bytes. */
  size: number;
  /** Fills it up with one file (`fill.bin`) until the next byte does not fit. */
  fill(): Promise<void>;
  /** Removes the file {@linkcode SmallFs.fill} wrote. */
  free(): Promise<void>;
  /** Remounts it read-only (`true`) or read-write (`false`). */
  readOnly(on: boolean): Promise<void>;
  /** Unmounts it and removes the mount point. Safe to call more than once. */
  unmount(): Promise<void>;
}

/** Options of {@linkcode mountSmallFs}. */
export interface SmallFsOptions {
  /** The size in bytes, a multiple of 4 KiB. @default {8 MiB} */
  size?: number;
}

/** The name of the file {@linkcode SmallFs.fill} writes. */
export const FILL_FILE = "fill.bin";

const mounted = new Set<string>();
let unavailable: string | undefined | null = null;

globalThis.addEventListener("unload", () => {
  for (const dir of mounted) {
    runSync("umount", ["-l", dir]);
    try {
      Deno.removeSync(dir);
    } catch {
      // Still busy or gone: nothing more to do at exit.
    }
  }
});

/**
 * Why a tmpfs cannot be mounted here, or undefined when it can: tried once
 * per process (a 1 MiB tmpfs, mounted and unmounted at once).
 *
 * @returns One line, such as `mounting a tmpfs needs root`.
 */
export function smallFsUnavailable(): string | undefined {
  if (unavailable !== null) return unavailable;
  if (Deno.build.os !== "linux") return unavailable = "tmpfs mounts need Linux";
  if (Deno.uid() !== 0) {
    return unavailable = "mounting a tmpfs needs root (CI runs the tests as root)";
  }
  const dir = Deno.makeTempDirSync({ prefix: "telemetry-smallfs-" });
  try {
    const mount = runSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    if (mount !== undefined) return unavailable = `cannot mount a tmpfs here: ${mount}`;
    const umount = runSync("umount", [dir]);
    if (umount !== undefined) return unavailable = `cannot unmount a tmpfs here: ${umount}`;
    return unavailable = undefined;
  } finally {
    try {
      Deno.removeSync(dir);
    } catch {
      // Still mounted (the unmount failed): the unload handler cannot know it; say so.
      console.error(`small_fs: ${dir} is left mounted; run umount ${dir}`);
    }
  }
}

/**
 * Mounts a tmpfs of `size` bytes on a fresh temp directory.
 *
 * @param options The size.
 * @returns The mounted file system, or undefined where mounting is not allowed.
 */
export async function mountSmallFs(options: SmallFsOptions = {}): Promise<SmallFs | undefined> {
  const { size = 8 * 1024 * 1024 } = options;
  if (smallFsUnavailable() !== undefined) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "telemetry-smallfs-" });
  const failed = await run("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir]);
  if (failed !== undefined) {
    await Deno.remove(dir);
    throw new Error(`mount -t tmpfs on ${dir} failed: ${failed}`);
  }
  mounted.add(dir);
  let gone = false;
  return {
    dir,
    size,
    fill: () => fill(join(dir, FILL_FILE)),
    async free() {
      await Deno.remove(join(dir, FILL_FILE));
    },
    async readOnly(on) {
      const failed = await run("mount", ["-o", on ? "remount,ro" : "remount,rw", dir]);
      if (failed !== undefined) throw new Error(`remount of ${dir} failed: ${failed}`);
    },
    async unmount() {
      if (gone) return;
      gone = true;
      // A lazy unmount when a handle is still open: the mount point is free at once.
      if (await run("umount", [dir]) !== undefined) {
        const failed = await run("umount", ["-l", dir]);
        if (failed !== undefined) throw new Error(`umount ${dir} failed: ${failed}`);
      }
      mounted.delete(dir);
      await Deno.remove(dir);
    },
  };
}

/**
 * Registers a test that gets a fresh tmpfs, unmounted after it (also when it
 * fails). Where mounting is not allowed the test is ignored, and its name
 * ends with `[ignored: <why>]`.
 *
 * @param name The test name.
 * @param fn The test body.
 * @param options The size of the tmpfs.
 */
export function smallFsTest(
  name: string,
  fn: (fs: SmallFs) => Promise<void>,
  options: SmallFsOptions = {},
): void {
  const why = smallFsUnavailable();
  if (why !== undefined) {
    Deno.test({ name: `${name} [ignored: ${why}]`, ignore: true, fn() {} });
    return;
  }
  Deno.test(name, async () => {
    const fs = await mountSmallFs(options);
    if (fs === undefined) throw new Error("a tmpfs could be mounted a moment ago, and now cannot");
    try {
      await fn(fs);
    } finally {
      await fs.unmount();
    }
  });
}

/** Writes zeros to a new file until the file system is full. */
async function fill(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    const chunk = new Uint8Array(64 * 1024);
    let size = chunk.length;
    // Down to single bytes, so that not even one more byte fits.
    while (size >= 1) {
      try {
        await file.write(chunk.subarray(0, size));
      } catch (err) {
        if ((err as { code?: unknown }).code !== "ENOSPC") throw err;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    file.close();
  }
}

/** Runs a command; returns its stderr (one line) when it fails, undefined when it works. */
async function run(command: string, args: string[]): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" })
      .output();
    return output.success ? undefined : failure(output);
  } catch (err) {
    return (err as Error).message;
  }
}

function runSync(command: string, args: string[]): string | undefined {
  try {
    const output = new Deno.Command(command, { args, stdout: "null", stderr: "piped" })
      .outputSync();
    return output.success ? undefined : failure(output);
  } catch (err) {
    return (err as Error).message;
  }
}

function failure(output: Deno.CommandOutput): string {
  const text = new TextDecoder().decode(output.stderr).replace(/\s*\n\s*/g, " ")
    .replace(/\s*dmesg\(1\) may have more information.*$/, "").trim();
  return text === "" ? `exit code ${output.code}` : text;
}
