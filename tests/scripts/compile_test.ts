/**
 * `deno task compile` with a `DENORT_BIN` that is not a `denort` of this
 * Deno release: one line that says so, and nothing left in `dist/`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileTempFiles, removeCompileTempFiles } from "../../scripts/denort_check.ts";
import { withTempDir } from "../support/helpers.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMPILE = join(ROOT, "scripts", "compile.ts");
const DIST = join(ROOT, "dist");
const VERSION = Deno.version.deno.replaceAll(".", "\\.");

/** Runs `deno task compile`'s script with `DENORT_BIN`; returns its stderr and exit code. */
async function compileWith(denort: string): Promise<[stderr: string, code: number]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", COMPILE],
    cwd: ROOT,
    env: { DENORT_BIN: denort, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return [new TextDecoder().decode(output.stderr), output.code];
}

/** The names in `dist/`, or undefined when there is no `dist/`. */
async function distNames(): Promise<string[] | undefined> {
  try {
    return (await Array.fromAsync(Deno.readDir(DIST), (e) => e.name)).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Checks the one line, and that `dist/` is as it was (removing a `dist/` the run made). */
async function expectRefused(
  denort: string,
  reason: RegExp,
  before: string[] | undefined,
): Promise<void> {
  const [stderr, code] = await compileWith(denort);
  assert.equal(code, 1, stderr);
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  assert.match(lines[0]!, new RegExp(`^error: DENORT_BIN=.+ is not a denort of Deno ${VERSION}: `));
  assert.match(lines[0]!, reason);
  let after = await distNames();
  if (before === undefined && after?.length === 0) {
    await Deno.remove(DIST); // deno compile made it: only the directory, now removed
    after = undefined;
  }
  assert.deepEqual(after, before);
}

Deno.test("compile refuses a DENORT_BIN that is not a denort, in one line, before building", async () => {
  await withTempDir(async (dir) => {
    const script = join(dir, "denort");
    await Deno.writeTextFile(script, "#!/bin/sh\necho hello\n", { mode: 0o755 });
    const before = await distNames();
    await expectRefused("/bin/true", /run alone it printed nothing \(exit code 0\)/, before);
    await expectRefused(Deno.execPath(), /it is a deno, not a denort/, before);
    await expectRefused(script, /not an executable binary/, before);
    await expectRefused(join(dir, "missing"), /no such file/, before);
  });
});

const gcc = (() => {
  try {
    return new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "compile with a runtime binary deno compile cannot use says so and leaves no temp file",
  ignore: !gcc,
  async fn() {
    await withTempDir(async (dir) => {
      // Says what a denort says when started alone, so only deno compile finds it out.
      const source = join(dir, "fake.c");
      await Deno.writeTextFile(
        source,
        '#include <stdio.h>\nint main(void) { fputs("error: Could not find standalone binary section.\\n", stderr); return 1; }\n',
      );
      const fake = join(dir, "denort");
      const built = await new Deno.Command("gcc", { args: ["-o", fake, source] }).output();
      assert.ok(built.success, new TextDecoder().decode(built.stderr));
      const before = await distNames();
      await expectRefused(fake, /deno compile failed while embedding|does not run/, before);
    });
  },
});

Deno.test("removeCompileTempFiles() removes the temp files a compile left, and only those", async () => {
  await withTempDir(async (dir) => {
    const output = join(dir, "telemetry");
    await Deno.writeFile(join(dir, "telemetry.tmp-aaaa"), new Uint8Array(0));
    await Deno.writeFile(output, new Uint8Array(1));
    const before = await compileTempFiles(output);
    await Deno.writeFile(join(dir, "telemetry.tmp-bbbb"), new Uint8Array(0));
    await Deno.writeFile(join(dir, "other.tmp-cccc"), new Uint8Array(0));
    assert.deepEqual(await removeCompileTempFiles(output, before), [
      join(dir, "telemetry.tmp-bbbb"),
    ]);
    assert.deepEqual(Array.from(Deno.readDirSync(dir), (e) => e.name).sort(), [
      "other.tmp-cccc",
      "telemetry",
      "telemetry.tmp-aaaa",
    ]);
    assert.deepEqual(await compileTempFiles(join(dir, "missing", "telemetry")), []);
  });
});
