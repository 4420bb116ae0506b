/**
 * `deno task telemetry …` is what the README tells a user to run: its
 * launcher (scripts/telemetry_task.ts) must run `main.ts` with exactly the
 * binary's permissions (scripts/permissions.ts), pass a stop signal on to the
 * CLI, and leave no process behind, also through `npx -y deno@… task
 * telemetry …` (npm kills its shell and exits at once).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLI_FLAGS } from "../../scripts/permissions.ts";
import { CLI_MAIN } from "../../scripts/cli_run_args.ts";
import { childEnv, ROOT } from "../support/cli.ts";
import { withTempDir } from "../support/helpers.ts";
import { slow, startServer } from "../support/http_server.ts";
import { generateTelemetry, gzipBytes } from "../support/telemetry_fixture.ts";

const DENO_VERSION = Deno.version.deno;

Deno.test("the telemetry task is the launcher, which runs main.ts with exactly cliRunArgs()", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  assert.equal(config.tasks.telemetry, "deno run --quiet --allow-all scripts/telemetry_task.ts");
  const launcher = await Deno.readTextFile(join(ROOT, "scripts/telemetry_task.ts"));
  assert.match(launcher, /args: cliRunArgs\(Deno\.args\)/);
});

Deno.test("the binary's flags grant no blanket or process permission", () => {
  const forbidden = [
    ["-", "A"].join(""),
    ["--allow", "all"].join("-"),
    "--allow-run",
    "--allow-ffi",
  ];
  for (const flag of forbidden) {
    assert.ok(!CLI_FLAGS.some((f) => f === flag || f.startsWith(`${flag}=`)), flag);
  }
});

/** Files that may name the blanket permission: they run `deno test` or the compile script, not the CLI. */
const BLANKET_ALLOWED = new Set([
  "tests/support/run_tests.ts",
  "tests/scripts/compile_test.ts",
]);
/** Spelled in parts so that this file does not match itself. */
const BLANKET = new RegExp(`["'](${["-", "A"].join("")}|${["--allow", "all"].join("-")})["']`);

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "fixtures") out.push(...testFiles(path));
    else if (entry.isFile && path.endsWith(".ts")) out.push(path);
  }
  return out;
}

Deno.test("no test spawns the CLI with -A or --allow-all, or with flags of its own", () => {
  const found: string[] = [];
  for (const path of testFiles("tests")) {
    const text = Deno.readTextFileSync(join(ROOT, path));
    if (!BLANKET_ALLOWED.has(path) && BLANKET.test(text)) {
      found.push(`${path}: a blanket permission`);
    }
    const spawnsMain = /new Deno\.Command\(/.test(text) && /main\.ts/.test(text);
    if (spawnsMain && !/cliRunArgs|CLI_FLAGS/.test(text)) {
      found.push(`${path}: spawns main.ts without cliRunArgs/CLI_FLAGS`);
    }
  }
  assert.deepEqual(found, []);
});

/** The arguments of a running process. */
function commandLine(pid: number): string[] {
  return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((a) => a !== "");
}

/** Pids of the processes whose command line names `marker`. */
function processesNaming(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(marker)) pids.push(Number(entry.name));
    } catch { /* gone */ }
  }
  return pids;
}

async function waitUntil(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tempFiles(dataDir: string): string[] {
  const found: string[] = [];
  function walk(dir: string) {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".tmp")) found.push(path);
    }
  }
  try {
    walk(dataDir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return found;
}

const MATCH = "task-sig-0000-4000-8000-000000000001";
const BODY = await gzipBytes(generateTelemetry({ matchId: MATCH, events: 20_000 }));

/**
 * Starts a slow download through `launcher`, waits until its temp file
 * exists, sends SIGTERM to the launcher process alone, and checks that every
 * process it started is gone within the shutdown budget and the temp file
 * removed.
 */
async function stopThroughLauncher(launcher: (args: string[]) => Deno.Command): Promise<number> {
  let code = -1;
  await withTempDir(async (dir) => {
    await using server = startServer({
      "/slow.json": slow(BODY, { chunkSize: 4096, intervalMs: 100 }),
    });
    const dataDir = join(dir, "data");
    const child = launcher([
      "task",
      "telemetry",
      "download",
      server.url("/slow.json"),
      "--match-id",
      MATCH,
      "--data-dir",
      dataDir,
      "--allow-http",
      "--allow-host",
      `127.0.0.1:${server.port}`,
    ]).spawn();
    try {
      await waitUntil("the download's temp file", 30_000, () => tempFiles(dataDir).length === 1);
      const cli = processesNaming(dataDir).map(commandLine).filter((args) =>
        args.includes(CLI_MAIN)
      );
      assert.equal(cli.length, 1, "one CLI process");
      assert.deepEqual(cli[0]!.slice(1, 3 + CLI_FLAGS.length), ["run", "--quiet", ...CLI_FLAGS]);
      child.kill("SIGTERM");
      code = (await child.status).code;
      // The budget of a one-shot command: it aborts and cleans up in milliseconds.
      await waitUntil("every process of the task to end", 5_000, () => {
        return processesNaming(dataDir).length === 0;
      });
      assert.deepEqual(tempFiles(dataDir), []);
    } finally {
      for (const pid of processesNaming(dataDir)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await child.status;
    }
  });
  return code;
}

Deno.test("SIGTERM to `deno task telemetry` reaches the CLI: it exits 143 and leaves no temp file or process", async () => {
  const code = await stopThroughLauncher((args) =>
    new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      ...childEnv({}),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    })
  );
  assert.equal(code, 143);
});

/** Whether `npx` can run this Deno release (it can where `.ci/run` installed it). */
function npxAvailable(): boolean {
  try {
    const out = new Deno.Command("npx", {
      args: ["--offline", "-y", `deno@${DENO_VERSION}`, "--version"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success && new TextDecoder().decode(out.stdout).includes(DENO_VERSION);
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "SIGTERM to `npx … task telemetry` alone leaves no orphan: the CLI stops and removes its temp file",
  ignore: !npxAvailable(),
  async fn() {
    await stopThroughLauncher((args) =>
      new Deno.Command("npx", {
        args: ["--offline", "-y", `deno@${DENO_VERSION}`, ...args],
        cwd: ROOT,
        ...childEnv({}),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      })
    );
  },
});
