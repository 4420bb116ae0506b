/**
 * Runs Deno as an unprivileged user, for the tests of what a user may not do
 * (a data dir they cannot write to). Root writes anywhere, so when the tests
 * run as root (as CI does) the child runs as `nobody`: `setpriv` gives it
 * nobody's uid and gid and no supplementary groups, and root's capabilities
 * go with the uid. Run as any other user, the child runs as that user, who
 * is unprivileged already; the same tests then need no preparation.
 *
 * `nobody` cannot read root's home, where Deno's cache (`DENO_DIR`) and an
 * `npx`-installed `deno` live. So, when running as root, the first call of a
 * run prepares a directory for it (inside the runner's run directory, so it
 * goes with the run; outside the runner, one per call):
 *
 * - `deno-dir/`: a `DENO_DIR` of its own, owned by it, seeded with a copy of
 *   the npm packages in root's cache (a few MB, pinned by `deno.lock`): the
 *   CLI starts offline, from the same packages, and nobody's compile cache
 *   never mixes with root's.
 * - `home/`: its `HOME`.
 * - `deno`: a copy of the running `deno`, only when it cannot run it in
 *   place (an `npx`-installed one is under `/root`).
 * - `repo/`: a copy of `main.ts`, `deno.json`, `deno.lock`, `src/` and
 *   `tests/support/`, only when it cannot read the repository (a clone
 *   under `/root`).
 *
 * @module
 */

import { join } from "node:path";
import { cliRunArgs } from "../../scripts/cli_run_args.ts";
import { childEnv, ROOT } from "./cli.ts";
import { RUN_DIR_VAR } from "./run_dir.ts";

/** The user the child runs as. */
export interface UnprivilegedUser {
  /** The login name. */
  name: string;
  uid: number;
  gid: number;
  /** Whether the tests run as root, so the child switches to this user. */
  switches: boolean;
}

/**
 * The user an unprivileged child runs as: `nobody` under root, else the
 * current user.
 *
 * @returns Its name, uid and gid.
 * @throws {Error} Under root, when the system has no `nobody` user.
 */
export function unprivilegedUser(): UnprivilegedUser {
  const uid = Deno.uid() ?? 0;
  if (uid !== 0) {
    const name = Deno.env.get("USER") ?? String(uid);
    return { name, uid, gid: Deno.gid() ?? uid, switches: false };
  }
  const line = Deno.readTextFileSync("/etc/passwd").split("\n")
    .find((entry) => entry.startsWith("nobody:"));
  const [, , nobodyUid, nobodyGid] = line?.split(":") ?? [];
  if (nobodyUid === undefined || nobodyGid === undefined) {
    throw new Error("the permission tests run as the user nobody under root: /etc/passwd has none");
  }
  return { name: "nobody", uid: Number(nobodyUid), gid: Number(nobodyGid), switches: true };
}

/**
 * Gives a path to the unprivileged user (a no-op when the tests do not run
 * as root), so that a test's directory is the user's own, as it would be for
 * an operator: its owner bits decide what the child may do.
 *
 * @param path A file or directory the test created.
 * @returns When it is the user's.
 */
export async function giveToUnprivileged(path: string): Promise<void> {
  const user = unprivilegedUser();
  if (user.switches) await Deno.chown(path, user.uid, user.gid);
}

/** Options of {@linkcode runUnprivileged}. */
export interface RunUnprivilegedOptions {
  /** Variables added to the inherited environment; `undefined` removes one. @default {{}} */
  env?: Record<string, string | undefined>;
}

/**
 * Runs `deno ARGS` as the unprivileged user, in the repository root, to the
 * end, with its output captured. Paths in `args` under the repository root
 * are mapped to the copy when the user cannot read the repository.
 *
 * @param args The arguments of `deno`, e.g. `cliRunArgs(["download", url])`.
 * @param options Environment.
 * @returns Stdout, stderr and the exit code.
 * @throws {Error} Under root, when `setpriv` (util-linux) is missing.
 */
export async function runUnprivileged(
  args: string[],
  options: RunUnprivilegedOptions = {},
): Promise<[stdout: string, stderr: string, code: number]> {
  const { env = {} } = options;
  const user = unprivilegedUser();
  if (!user.switches) return await output(Deno.execPath(), args, ROOT, childEnv(env));
  // Outside the runner, a place for this call only.
  const runDir = Deno.env.get(RUN_DIR_VAR);
  const scratch = runDir === undefined ? await Deno.makeTempDir() : undefined;
  if (scratch !== undefined) await Deno.chmod(scratch, 0o755);
  try {
    const place = await preparedPlace(join(scratch ?? runDir!, "unprivileged"), user);
    const mapped = args.map((arg) =>
      arg.startsWith(ROOT) ? place.root + arg.slice(ROOT.length) : arg
    );
    const vars = { ...env, DENO_DIR: place.denoDir, HOME: place.home, DENO_NO_UPDATE_CHECK: "1" };
    return await output(
      "setpriv",
      [...switchTo(user), "--", place.deno, ...mapped],
      place.root,
      childEnv(vars),
    );
  } finally {
    if (scratch !== undefined) await Deno.remove(scratch, { recursive: true });
  }
}

/**
 * Runs the CLI (`main.ts` with exactly the binary's flags, see
 * `scripts/cli_run_args.ts`) as the unprivileged user.
 *
 * @param args The CLI's arguments, e.g. `["download", url, "--data-dir", dir]`.
 * @param options Environment.
 * @returns Stdout, stderr and the exit code.
 */
export function runCliUnprivileged(
  args: string[],
  options: RunUnprivilegedOptions = {},
): Promise<[stdout: string, stderr: string, code: number]> {
  return runUnprivileged(cliRunArgs(args), options);
}

const decoder = new TextDecoder();

async function output(
  command: string,
  args: string[],
  cwd: string,
  env: { env: Record<string, string>; clearEnv?: boolean },
): Promise<[stdout: string, stderr: string, code: number]> {
  const result = await new Deno.Command(command, { args, cwd, ...env, stdin: "null" }).output();
  return [decoder.decode(result.stdout), decoder.decode(result.stderr), result.code];
}

/** What the unprivileged user runs with. */
interface Place {
  /** The `deno` executable. */
  deno: string;
  /** The repository (or its copy), ending in `/` like `ROOT`. */
  root: string;
  denoDir: string;
  home: string;
}

/** The place at `dir`: prepared by the first call, reused by the next ones. */
async function preparedPlace(dir: string, user: UnprivilegedUser): Promise<Place> {
  const stateFile = join(dir, "place.json");
  try {
    return JSON.parse(await Deno.readTextFile(stateFile));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  // Prepared aside and renamed into place: test modules may run in parallel.
  const draft = `${dir}.${crypto.randomUUID()}`;
  const place = await prepare(draft, dir, user);
  await Deno.writeTextFile(join(draft, "place.json"), JSON.stringify(place));
  try {
    await Deno.rename(draft, dir);
  } catch {
    await Deno.remove(draft, { recursive: true });
    return JSON.parse(await Deno.readTextFile(stateFile));
  }
  return place;
}

/** Prepares the place in `draft`, for use at `dir`. */
async function prepare(draft: string, dir: string, user: UnprivilegedUser): Promise<Place> {
  await Deno.mkdir(join(draft, "deno-dir"), { recursive: true });
  await Deno.mkdir(join(draft, "home"));
  await Deno.chmod(draft, 0o755);
  const { denoDir } = JSON.parse(await capture(Deno.execPath(), ["info", "--json"]));
  await run("cp", ["-R", join(denoDir, "npm"), join(draft, "deno-dir", "npm")]);
  await run("chown", [
    "-R",
    `${user.uid}:${user.gid}`,
    join(draft, "deno-dir"),
    join(draft, "home"),
  ]);
  let deno = Deno.execPath();
  if (!await allowed(user, "-x", deno)) {
    await Deno.copyFile(deno, join(draft, "deno"));
    await Deno.chmod(join(draft, "deno"), 0o755);
    deno = join(dir, "deno");
  }
  let root = ROOT;
  if (!await allowed(user, "-r", join(ROOT, "main.ts"))) {
    await Deno.mkdir(join(draft, "repo", "tests"), { recursive: true });
    for (const name of ["main.ts", "deno.json", "deno.lock", "src", join("tests", "support")]) {
      await run("cp", ["-R", join(ROOT, name), join(draft, "repo", name)]);
    }
    await run("chmod", ["-R", "a+rX", join(draft, "repo")]);
    root = `${join(dir, "repo")}/`;
  }
  return { deno, root, denoDir: join(dir, "deno-dir"), home: join(dir, "home") };
}

/** The `setpriv` flags that switch to the user: its uid and gid, no supplementary groups. */
function switchTo(user: UnprivilegedUser): string[] {
  return [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"];
}

/** Whether the user passes `test FLAG PATH` (e.g. `-x`: may run it, path included). */
async function allowed(user: UnprivilegedUser, flag: string, path: string): Promise<boolean> {
  const { code } = await new Deno.Command("setpriv", {
    args: [...switchTo(user), "test", flag, path],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output().catch((err) => {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "the permission tests run as nobody under root, with setpriv: it is not on the PATH " +
          "(Debian: apt-get install util-linux)",
      );
    }
    throw err;
  });
  return code === 0;
}

async function capture(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, { args, stdin: "null", stderr: "inherit" })
    .output();
  if (!result.success) throw new Error(`${command} ${args.join(" ")} failed`);
  return decoder.decode(result.stdout);
}

async function run(command: string, args: string[]): Promise<void> {
  await capture(command, args);
}
