/**
 * A private RabbitMQ node for the tests and benchmarks: its own node name,
 * AMQP port, distribution port, config, data and log files, all in one
 * directory, so it never touches the machine's own broker on 5672.
 *
 * The node runs under a small detached launcher script. The launcher stops
 * the node (and removes its directory) when asked with SIGTERM, and also on
 * its own when the owner process dies, so a crashed or `kill -9`ed test run
 * cannot leave a `beam.smp` behind.
 *
 * @module
 */

import { exists } from "./helpers.ts";

/** What a started node answers on. */
export interface RabbitNode {
  /** The Erlang node name, for `rabbitmqctl -n`. */
  name: string;
  /** The AMQP port on 127.0.0.1. */
  port: number;
  /** The AMQP URL (guest/guest, vhost /). */
  url: string;
  /** The directory holding the node's config, data and logs. */
  dir: string;
}

/** Options of {@linkcode startRabbitNode}. */
export interface StartRabbitNodeOptions {
  /** The node stops by itself once this process is gone. */
  ownerPid: number;
  /** How long to wait for the AMQP port. @default {60_000} */
  timeoutMs?: number;
  /** A directory to remove as well when the owner dies without stopping the node. */
  ownerDir?: string;
}

/**
 * The launcher, run with `setsid -f sh -c LAUNCHER launcher OWNER NODE DIR RUN_DIR`.
 * The RABBITMQ_* variables are set for `rabbitmq-server` only, so the one
 * process marked with the node name in its environment is the node itself.
 */
const LAUNCHER = `
set -u
owner=$1 node=$2 dir=$3 run_dir=$4
exec >>"$dir/launcher.log" 2>&1
echo $$ > "$dir/launcher.pid"
stop=0
trap 'stop=1' TERM INT HUP
start_server() {
  RABBITMQ_NODENAME="$node" \\
  RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \\
  RABBITMQ_DIST_PORT="$(cat "$dir/dist_port")" \\
  RABBITMQ_MNESIA_BASE="$dir/mnesia" \\
  RABBITMQ_LOG_BASE="$dir/log" \\
  RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \\
  RABBITMQ_PID_FILE="$dir/node.pid" \\
  RABBITMQ_FEATURE_FLAGS_FILE="$dir/feature_flags" \\
    rabbitmq-server >>"$dir/server.log" 2>&1 </dev/null &
  server=$!
}
start_server
while :; do
  while [ "$stop" = 0 ] && kill -0 "$owner" 2>/dev/null && kill -0 "$server" 2>/dev/null; do
    sleep 0.2
  done
  # crashRabbitNode() killed the node on purpose: start it again on its data, as systemd would.
  if [ "$stop" = 0 ] && [ -f "$dir/crashed" ] && kill -0 "$owner" 2>/dev/null; then
    wait "$server" 2>/dev/null
    sleep "$(cat "$dir/crashed")"
    rm -f "$dir/crashed"
    start_server
    continue
  fi
  break
done
if kill -0 "$server" 2>/dev/null; then
  timeout 30 rabbitmqctl -n "$node" stop >/dev/null 2>&1
fi
# A node still booting does not answer rabbitmqctl: stop what carries its name
# (the VM shuts down on SIGTERM), and kill it if it will not.
beams() { grep -lzx "RABBITMQ_NODENAME=$node" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3; }
for signal in TERM KILL; do
  i=0
  while kill -0 "$server" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
  for pid in $(beams); do kill -"$signal" "$pid" 2>/dev/null; done
done
wait "$server" 2>/dev/null
rm -rf "$dir"
# The owner died without stopping the node (kill -9): clean up after it too.
if [ "$stop" = 0 ] && [ -n "$run_dir" ]; then rm -rf "$run_dir"; fi
`;

/**
 * Starts a private node in `dir` (created here; it must not exist) and waits
 * until it serves (by its name: a port answering may be another process's).
 *
 * @param dir The node's own directory; removed when the node stops.
 * @param options The owner process and the start timeout.
 * @returns The node's name, port and URL.
 * @throws {Error} With one line when `rabbitmq-server` is missing or the node does not come up.
 */
export async function startRabbitNode(
  dir: string,
  options: StartRabbitNodeOptions,
): Promise<RabbitNode> {
  const { ownerPid, timeoutMs = 60_000, ownerDir = "" } = options;
  if (!await onPath("rabbitmq-server")) {
    throw new Error(
      "the broker tests need RabbitMQ: rabbitmq-server is not on the PATH " +
        "(Debian: apt-get install rabbitmq-server), or set TELEMETRY_TEST_AMQP_URL to a broker " +
        "the tests may use",
    );
  }
  // Ports are picked free but only taken when the node binds them, seconds
  // later: another node starting at the same time (another lane, a second
  // node, a cluster) can take one first, and then this node dies. A node
  // that died that way is started again on other ports.
  for (let attempt = 1;; attempt++) {
    const node = await startOnce(dir, { ownerPid, timeoutMs, ownerDir });
    if (node !== undefined) return node;
    if (attempt === 3) {
      throw new Error(`the private RabbitMQ node in ${dir} died at start three times`);
    }
  }
}

/** One start of {@linkcode startRabbitNode}; undefined when the node died after its port answered. */
async function startOnce(
  dir: string,
  options: Required<StartRabbitNodeOptions>,
): Promise<RabbitNode | undefined> {
  const { ownerPid, timeoutMs, ownerDir } = options;
  const port = freePort();
  const distPort = freePort();
  const name = `telemetry-test-${Deno.pid}-${port}@localhost`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/rabbitmq.conf`, `listeners.tcp.local = 127.0.0.1:${port}\n`);
  await Deno.writeTextFile(`${dir}/enabled_plugins`, "[].\n");
  await Deno.writeTextFile(`${dir}/dist_port`, `${distPort}\n`);
  // rabbitmq-server drops from root to the rabbitmq user, which must own the directory.
  await Deno.chmod(dir, 0o755);
  await run("chown", ["-R", "rabbitmq", dir]);
  // Detached, with no pipe of ours open, so that this call returns at once.
  await run("setsid", [
    "-f",
    "sh",
    "-c",
    LAUNCHER,
    "launcher",
    String(ownerPid),
    name,
    dir,
    ownerDir,
  ], {
    quiet: true,
  });
  const node = { name, port, url: `amqp://guest:guest@127.0.0.1:${port}/%2F`, dir };
  const deadline = Date.now() + timeoutMs;
  while (!await answers(port)) {
    if (Date.now() > deadline || !await launcherAlive(dir)) {
      const log = await Deno.readTextFile(`${dir}/server.log`).catch(() => "");
      await stopRabbitNode(node);
      const tail = log.trim().split("\n").slice(-3).join(" | ");
      throw new Error(`the private RabbitMQ node did not start on port ${port}: ${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The port answers a little before the broker serves, and it may be
  // another process's: wait until this node, by name, serves.
  while (true) {
    try {
      await rabbitmqctl(name, "await_startup");
      return node;
    } catch (err) {
      if (!await launcherAlive(dir)) {
        await stopRabbitNode(node);
        return undefined;
      }
      if (Date.now() > deadline) {
        await stopRabbitNode(node);
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Stops a node started by {@linkcode startRabbitNode} and waits until its
 * launcher, the node and its directory are gone.
 *
 * @param node The node (its `dir` is enough).
 * @param options How long to wait before killing what is left.
 * @returns When nothing of the node is left.
 */
export async function stopRabbitNode(
  node: Pick<RabbitNode, "dir">,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const { timeoutMs = 45_000 } = options;
  const launcher = await readPid(`${node.dir}/launcher.pid`);
  if (launcher !== undefined) {
    try {
      Deno.kill(launcher, "SIGTERM");
    } catch { /* already gone */ }
    const deadline = Date.now() + timeoutMs;
    while (processAlive(launcher) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await Deno.remove(node.dir, { recursive: true }).catch(() => {});
}

/**
 * Crashes a node started by {@linkcode startRabbitNode} the hard way, as a
 * power cut or the OOM killer would: `kill -9` of every process of the node.
 * Its launcher starts it again on the same data after `downMs`; this
 * resolves when it answers on its AMQP port again.
 *
 * @param node The node.
 * @param options How long the node stays down, and how long to wait for it.
 * @returns When the restarted node answers.
 * @throws {Error} When it does not come back within the timeout.
 */
export async function crashRabbitNode(
  node: RabbitNode,
  options: { downMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const { downMs = 0, timeoutMs = 60_000 } = options;
  await Deno.writeTextFile(`${node.dir}/crashed`, `${downMs / 1000}\n`);
  const pids = nodeProcesses(node.name);
  if (pids.length === 0) throw new Error(`node ${node.name} has no process to kill`);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone already */ }
  }
  const deadline = Date.now() + timeoutMs;
  // Wait for the old node to be gone, then for the new one to answer.
  while (nodeProcesses(node.name).some((pid) => pids.includes(pid))) {
    if (Date.now() > deadline) throw new Error(`node ${node.name} did not go down`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  while (!await answers(node.port) || await exists(`${node.dir}/crashed`)) {
    if (Date.now() > deadline) throw new Error(`node ${node.name} did not come back after a crash`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The port answers a little before the broker serves: wait until it does.
  while (true) {
    try {
      await rabbitmqctl(node.name, "await_startup");
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Runs `rabbitmqctl -n NODE ...` and returns its stdout.
 *
 * @param node The node name.
 * @param args The rabbitmqctl arguments.
 * @returns Its standard output.
 * @throws {Error} With rabbitmqctl's stderr when it exits non-zero.
 */
export async function rabbitmqctl(node: string, ...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("rabbitmqctl", {
    args: ["-n", node, ...args],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(`rabbitmqctl ${args.join(" ")}: ${decoder.decode(stderr).trim()}`);
  }
  return decoder.decode(stdout);
}

/**
 * The processes that carry a node's name in their environment (the node
 * itself). Used to check that nothing of a stopped node is left.
 *
 * @param name The node name.
 * @returns Their pids.
 */
export function nodeProcesses(name: string): number[] {
  const marker = new TextEncoder().encode(`\0RABBITMQ_NODENAME=${name}\0`);
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let environ: Uint8Array;
    try {
      environ = Deno.readFileSync(`/proc/${entry.name}/environ`);
    } catch {
      continue;
    }
    const padded = new Uint8Array(environ.length + 2);
    padded.set(environ, 1);
    if (indexOf(padded, marker) >= 0) pids.push(Number(entry.name));
  }
  return pids;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

async function answers(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function launcherAlive(dir: string): Promise<boolean> {
  const pid = await readPid(`${dir}/launcher.pid`);
  // The launcher writes its pid first thing; before that it is starting.
  return pid === undefined || processAlive(pid);
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

async function onPath(command: string): Promise<boolean> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of dirs) {
    try {
      const info = await Deno.stat(`${dir}/${command}`);
      if (info.isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

async function run(command: string, args: string[], options: { quiet?: boolean } = {}) {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: options.quiet ? "null" : "piped",
  }).output();
  if (output.code !== 0) {
    const detail = options.quiet
      ? `exit code ${output.code}`
      : new TextDecoder().decode(output.stderr).trim();
    throw new Error(`${command} failed: ${detail}`);
  }
}
