/**
 * `deno task compile`: builds the single executable `dist/telemetry` with the
 * permissions of scripts/permissions.ts.
 *
 * `deno compile` needs a `denort` runtime of the same Deno version, which it
 * downloads from the internet unless `DENORT_BIN=/path/to/denort` points to
 * one. Without either, this script fails with one line saying so. A
 * `DENORT_BIN` that is not a `denort` (such as `deno` itself) is refused
 * before anything is built, and the built binary must run (`--version`):
 * each failure is one line, and leaves no `dist/telemetry.tmp-<hex>` and no
 * broken `dist/telemetry` behind.
 *
 * @module
 */

import { CLI_FLAGS } from "./permissions.ts";
import { compileTempFiles, denortProblem, removeCompileTempFiles } from "./denort_check.ts";

const root = new URL("../", import.meta.url);
const output = new URL("dist/telemetry", root).pathname;
const version = Deno.version.deno;

/**
 * Runs `deno compile` and returns the exit code.
 *
 * @returns 0 on success, 1 on failure.
 */
async function compile(): Promise<number> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort !== undefined) {
    const problem = await denortProblem(denort);
    if (problem !== undefined) {
      console.error(
        `error: DENORT_BIN=${denort} is not a denort of Deno ${version}: ${problem}; ` +
          `point it to the denort binary from denort-x86_64-unknown-linux-gnu.zip of Deno ${version}`,
      );
      return 1;
    }
  }
  const tempsBefore = await compileTempFiles(output);
  const result = await runCompile();
  let failure: string | undefined;
  if (result.success) {
    await Deno.stderr.write(result.stderr);
    failure = await checkBuilt(denort);
  } else {
    // deno compile writes `<output>.tmp-<hex>` only once the program is built, to embed
    // it in the runtime binary: a temp file left means the runtime binary was the trouble.
    const removed = await removeCompileTempFiles(output, tempsBefore);
    failure = compileFailure(new TextDecoder().decode(result.stderr), denort, removed.length > 0);
  }
  if (failure === undefined) return 0;
  console.error(failure);
  return 1;
}

/** Runs `deno compile`, its stdout shown, its stderr captured. */
async function runCompile(): Promise<Deno.CommandOutput> {
  const args = [
    "compile",
    ...CLI_FLAGS,
    // Loaded with `new Worker(...)`, which the module graph does not show.
    "--include",
    new URL("src/core/content/gzip_worker.ts", root).pathname,
    "--include",
    new URL("src/core/content/validate_worker.ts", root).pathname,
    "--include",
    new URL("src/verify/verify_worker.ts", root).pathname,
    "--output",
    output,
    new URL("main.ts", root).pathname,
  ];
  return await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root.pathname,
    stdout: "inherit",
    stderr: "piped",
  }).output();
}

/** The one line for a failed `deno compile`. */
function compileFailure(
  stderr: string,
  denort: string | undefined,
  embedding: boolean,
): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const firstError = lines.find((l) => /error/i.test(l)) ?? lines[0] ?? "no message";
  if (denort !== undefined && (embedding || /fatal runtime error|overflowed/i.test(stderr))) {
    return `error: DENORT_BIN=${denort} is not a denort of Deno ${version}: ` +
      `deno compile failed while embedding the program in it (${firstError})`;
  }
  const runtimeMissing = /dns error|failed to lookup|dl\.deno\.land|denort/.test(stderr);
  if (runtimeMissing && denort === undefined) {
    return `error: deno compile could not get the denort ${version} runtime (no internet here?): ` +
      `set DENORT_BIN=/path/to/denort (from denort-x86_64-unknown-linux-gnu.zip of the same release) or build on a machine with internet`;
  }
  return `error: deno compile failed: ${firstError}`;
}

/**
 * Runs the built binary with `--version`: a runtime of another Deno release
 * can build a binary that does not start. Removes a binary that does not
 * run; returns the error line, or undefined when it runs.
 */
async function checkBuilt(denort: string | undefined): Promise<string | undefined> {
  const expected = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).version;
  let problem: string | undefined;
  try {
    const result = await new Deno.Command(output, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const text = new TextDecoder().decode(result.stdout).trim();
    if (!result.success || !text.includes(expected)) {
      const said = new TextDecoder().decode(result.stderr).trim().split("\n")[0] || text;
      problem = `exit code ${result.code}${said === "" ? "" : `: ${said.slice(0, 120)}`}`;
    }
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  if (problem === undefined) {
    console.error(`built ${output} (deno ${version}, permissions: ${CLI_FLAGS.join(" ")})`);
    return undefined;
  }
  await Deno.remove(output).catch(() => {});
  return denort === undefined
    ? `error: the built ${output} does not run (${problem}); it was removed`
    : `error: DENORT_BIN=${denort} is not a denort of Deno ${version}: the binary built with it does not run (${problem}); it was removed`;
}

Deno.exit(await compile());
