/**
 * `deno task compile`: builds the single executable `dist/telemetry` with the
 * permissions of scripts/permissions.ts.
 *
 * `deno compile` needs a `denort` runtime of the same Deno version, which it
 * downloads from the internet unless `DENORT_BIN=/path/to/denort` points to
 * one. Without either, this script fails with one line saying so.
 *
 * @module
 */

import { CLI_FLAGS } from "./permissions.ts";

const root = new URL("../", import.meta.url);
const output = new URL("dist/telemetry", root).pathname;

/**
 * Runs `deno compile` and returns the exit code.
 *
 * @returns 0 on success, 1 on failure.
 */
async function compile(): Promise<number> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort !== undefined) {
    try {
      if (!(await Deno.stat(denort)).isFile) throw new Error("not a file");
    } catch {
      console.error(
        `error: DENORT_BIN=${denort} is not a file: point it to a denort ${Deno.version.deno} binary`,
      );
      return 1;
    }
  }
  const args = [
    "compile",
    ...CLI_FLAGS,
    // Loaded with `new Worker(...)`, which the module graph does not show.
    "--include",
    new URL("src/core/content/gzip_worker.ts", root).pathname,
    "--include",
    new URL("src/core/content/validate_worker.ts", root).pathname,
    "--output",
    output,
    new URL("main.ts", root).pathname,
  ];
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root.pathname,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.success) {
    await Deno.stderr.write(result.stderr);
    console.error(
      `built ${output} (deno ${Deno.version.deno}, permissions: ${CLI_FLAGS.join(" ")})`,
    );
    return 0;
  }
  const runtimeMissing = /dns error|failed to lookup|dl\.deno\.land|denort/.test(stderr);
  if (runtimeMissing && denort === undefined) {
    console.error(
      `error: deno compile could not get the denort ${Deno.version.deno} runtime (no internet here?): ` +
        `set DENORT_BIN=/path/to/denort (from denort-x86_64-unknown-linux-gnu.zip of the same release) or build on a machine with internet`,
    );
  } else {
    const firstError = stderr.split("\n").find((l) => /error/i.test(l)) ?? stderr.trim();
    console.error(`error: deno compile failed: ${firstError.trim()}`);
  }
  return 1;
}

Deno.exit(await compile());
