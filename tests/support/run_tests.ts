/**
 * The test runner behind `deno task test`: runs the suite with the
 * sanitizers, in parallel where that is safe, then checks that the run left
 * nothing behind.
 *
 * 1. One type-check of everything the run covers (`deno test --no-run`); the
 *    phases below then run with `--no-check`.
 * 2. At the same time (see `tests/support/test_plan.ts` for the split):
 *    - the modules that need no broker, and the JSDoc examples, in one
 *      `deno test --parallel` (threads: `DENO_JOBS`, default one per CPU);
 *    - the modules that need a broker, one `deno test` process each, in
 *      `TELEMETRY_TEST_BROKER_LANES` lanes (default: one per CPU, at least
 *      4; they mostly wait on their broker: on 2 cores, 4 lanes took the
 *      suite from 1m46s to 1m29s). Every lane has a run
 *      directory (`TELEMETRY_TEST_RUN_DIR`) and so a private RabbitMQ node of
 *      its own, started on first use (`tests/support/test_broker.ts`): the
 *      tests that stop, restart or block their node never disturb another
 *      module's tests.
 * 3. A lane stops its node as soon as it has run its last module; at the end
 *    (also after a failure, Ctrl-C or SIGTERM) every node is stopped.
 *
 * The run fails when a test fails, a queue or exchange is left on a broker, a
 * file or directory is left in the run's `TMPDIR`, or a process of a node
 * survives. It ends with the wall time of each phase (`times: …`), then the
 * summary of the whole run in the words of `deno test`: `ok | N passed | N
 * failed | N ignored (time)`.
 *
 * The modules that crash or restart their node for most of a minute
 * (`NODE_RESTART_TESTS`) are left out unless named as files: `deno task
 * test:broker` (`--node-restarts`) runs them.
 *
 * Usage: `deno task test [--node-restarts] [deno test flags] [FILES...]`
 * (default: `src/ tests/`).
 *
 * @module
 */

import { AMQPClient } from "amqp-client";
import { nodeProcesses, rabbitmqctl, stopRabbitNode } from "./rabbitmq_node.ts";
import { existsSync } from "./helpers.ts";
import { OWNER_DIR_VAR, OWNER_PID_VAR, RUN_DIR_VAR } from "./run_dir.ts";
import { EXTERNAL_URL_VAR, readIfExists } from "./test_broker.ts";
import { NODE_RESTART_TESTS, planTests, repoPath } from "./test_plan.ts";
import { topologyNames } from "../../src/queue/topology.ts";

const TEST_FLAGS = ["--allow-all", "--sanitize-ops", "--sanitize-resources", "--doc"];
const DEFAULT_PATHS = ["src/", "tests/"];
/** The runner's own flag: run the node-restart modules (`deno task test:broker`). */
const NODE_RESTARTS_FLAG = "--node-restarts";
/** How many broker modules run at once, each lane on its own node. */
const LANES_VAR = "TELEMETRY_TEST_BROKER_LANES";
const DEFAULT_LANES = Math.max(4, navigator.hardwareConcurrency);

/** What the command line asks for. */
interface Request {
  /** `deno test` flags, in order. */
  flags: string[];
  /** Files and directories; the default paths when none is named. */
  paths: string[];
}

function parseRequest(args: string[]): Request {
  const flags: string[] = [];
  const paths: string[] = [];
  for (const arg of args) {
    if (arg === NODE_RESTARTS_FLAG) paths.push(...NODE_RESTART_TESTS);
    else if (!arg.startsWith("-") && existsSync(arg)) paths.push(arg);
    else flags.push(arg);
  }
  return { flags, paths: paths.length > 0 ? paths : DEFAULT_PATHS };
}

/** The counts of one `deno test` process (or of the whole run). */
interface Counts {
  passed: number;
  failed: number;
  ignored: number;
}

/** `ok | 5 passed (2 steps) | 1 failed | 2 ignored (3s)`, colours removed. */
const SUMMARY = /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(.*)$/;

/**
 * The counts on the summary line of a `deno test` output; a process that
 * failed without one (a type error, a crash) counts as one failure.
 */
function countsOf(output: string, code: number): Counts {
  const lines = plain(output).split("\n");
  for (const line of lines.reverse()) {
    const match = SUMMARY.exec(line.trim());
    if (match === null) continue;
    const ignored = /\| (\d+) ignored/.exec(match[3]!)?.[1] ?? "0";
    const failed = Number(match[2]);
    return { passed: Number(match[1]), failed: failed || (code === 0 ? 0 : 1), ignored: +ignored };
  }
  return { passed: 0, failed: code === 0 ? 0 : 1, ignored: 0 };
}

/** The text without its colours. */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** "1m20s" or "45s", as `deno test` writes durations. */
function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`;
}

/** Writes to stdout; a broker module's output waits until the parallel phase has printed its own. */
class Printer {
  #encoder = new TextEncoder();
  #held: string[] | undefined = [];

  /** Streams the parallel phase's output as it comes. */
  live(text: string): void {
    this.#write(text);
  }

  /** One broker module's whole output, now or after the parallel phase. */
  block(text: string): void {
    if (this.#held === undefined) this.#write(text);
    else this.#held.push(text);
  }

  /** The parallel phase is done (or absent): print what waited. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const text of held) this.#write(text);
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** The `deno test` processes running now, to pass a signal on. */
const running = new Set<Deno.ChildProcess>();
let interrupted: "SIGINT" | "SIGTERM" | undefined;

/** Runs `deno test ARGS` with the output captured; `onOutput` sees it as it comes. */
async function denoTest(
  args: string[],
  env: Record<string, string>,
  onOutput: (text: string) => void = () => {},
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running.add(child);
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output += text;
      onOutput(text);
    }
  };
  const [status] = await Promise.all([child.status, collect(child.stdout), collect(child.stderr)]);
  running.delete(child);
  return { code: status.code, output };
}

/** The type-check of the whole run, with the output shown as it comes. */
async function typeCheck(args: string[], env: Record<string, string>): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-run", ...args],
    env,
    stdin: "null",
  }).spawn();
  running.add(child);
  const { code } = await child.status;
  running.delete(child);
  return code;
}

/** The names left in a directory. */
function leftovers(dir: string): string[] {
  return Array.from(Deno.readDirSync(dir), (entry) => entry.name).sort();
}

/** Queues and exchanges left on the private node (apart from the built-in ones). */
async function nodeLeftovers(name: string): Promise<string[]> {
  const queues = await rabbitmqctl(name, "list_queues", "-q", "--no-table-headers", "name");
  const exchanges = await rabbitmqctl(name, "list_exchanges", "-q", "--no-table-headers", "name");
  return [
    ...queues.split("\n").filter((q) => q.trim() !== "").map((q) => `queue ${q.trim()}`),
    ...exchanges.split("\n").map((e) => e.trim())
      .filter((e) => e !== "" && !e.startsWith("amq."))
      .map((e) => `exchange ${e}`),
  ];
}

/** Queues and exchanges of the recorded test environments still on an external broker; deletes them. */
async function externalLeftovers(url: string, envs: string[]): Promise<string[]> {
  const found: string[] = [];
  const client = new AMQPClient(url);
  await client.connect();
  try {
    for (const env of envs) {
      const { exchange, ...queues } = topologyNames(env);
      for (const queue of Object.values(queues)) {
        const channel = await client.channel();
        try {
          await channel.queueDeclare(queue, { passive: true });
        } catch {
          continue; // 404: not there, and the broker closed the channel
        }
        found.push(`queue ${queue}`);
        await channel.queueDelete(queue);
        await channel.close();
      }
      const channel = await client.channel();
      try {
        await channel.exchangeDeclare(exchange, "topic", { passive: true });
      } catch {
        continue;
      }
      found.push(`exchange ${exchange}`);
      await channel.exchangeDelete(exchange);
      await channel.close();
    }
  } finally {
    await client.close();
  }
  return found;
}

/**
 * Checks what the tests of one run directory left on its broker, then stops
 * its node (if one was started) and checks that nothing of it survives.
 *
 * @returns The problems found, one line each.
 */
async function finishRunDir(runDir: string, printer: Printer): Promise<string[]> {
  const problems: string[] = [];
  const external = Deno.env.get(EXTERNAL_URL_VAR) ?? "";
  const nodeState = await readIfExists(`${runDir}/node.json`);
  const node = nodeState === undefined ? undefined : JSON.parse(nodeState) as { name: string };
  try {
    // An interrupted test could not clean up; the node goes anyway.
    if (node !== undefined && interrupted === undefined) {
      for (const left of await nodeLeftovers(node.name)) {
        problems.push(`left on the broker: ${left}`);
      }
    } else if (external !== "") {
      const envs = (await readIfExists(`${runDir}/envs`) ?? "").split("\n").filter((e) => e);
      for (const left of await externalLeftovers(external, [...new Set(envs)])) {
        problems.push(`left on the broker (now deleted): ${left}`);
      }
    }
  } catch (err) {
    problems.push(`could not check the broker for leftovers: ${(err as Error).message}`);
  }
  const cpu = node === undefined ? 0 : cpuSeconds(nodeProcesses(node.name));
  if (existsSync(`${runDir}/node`)) await stopRabbitNode({ dir: `${runDir}/node` });
  if (node !== undefined) {
    for (const pid of nodeProcesses(node.name)) {
      problems.push(`process ${pid} of node ${node.name} survived its stop: killed`);
      Deno.kill(pid, "SIGKILL");
    }
    const used = `${cpu.toFixed(1)} s of CPU since its last start`;
    printer.block(`private RabbitMQ node ${node.name}: stopped (it used ${used})\n`);
  }
  return problems;
}

/** The CPU time (user and system) the processes have used so far, in seconds. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields 14 and 15 of /proc/PID/stat, counted after the command name in parentheses.
      const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* gone */ }
  }
  return ticks / 100; // USER_HZ, 100 on Linux
}

/** The result of one phase: counts, exit code, and the problems of its run directories. */
interface PhaseResult extends Counts {
  /** E.g. `broker lane 1 (8 modules)`, for the timing line. */
  label: string;
  /** Its wall time. */
  ms: number;
  code: number;
  problems: string[];
}

/** What a phase runs with: its `deno test` flags and paths, and a run directory of its own. */
interface Phase {
  args: string[];
  runDir: string;
  /** The run's environment, with the phase's run directory. */
  env: Record<string, string>;
  printer: Printer;
}

/** The modules that need no broker, and the JSDoc examples, in one `deno test --parallel`. */
async function parallelPhase(phase: Phase, elsewhere: string[]): Promise<PhaseResult> {
  const { args, runDir, env, printer } = phase;
  const started = performance.now();
  await Deno.mkdir(runDir);
  const result = await denoTest(["--parallel", ...args], env, (text) => printer.live(text));
  const { output } = result;
  // Named paths whose only test modules run in lanes leave it nothing to do.
  const code = /No test modules found/.test(output) ? 0 : result.code;
  printer.release();
  const problems = await finishRunDir(runDir, printer);
  // A module that needs a broker must not share one with modules running at the same time.
  const ran = new Set(
    plain(output).split("\n").map((line) =>
      /^(?:running \d+ tests? from )?(\.\/\S+)/.exec(line)?.[1]
    ),
  );
  for (const module of elsewhere) {
    if (ran.has(`./${module}`)) problems.push(`${module} ran in the parallel phase`);
  }
  const ms = performance.now() - started;
  return { ...countsOf(output, code), label: "parallel", ms, code, problems };
}

/** The broker modules, one process each, in lanes that each have their own node. */
async function brokerLane(phase: Phase, lane: number, queue: string[]): Promise<PhaseResult> {
  const { args, runDir, env, printer } = phase;
  const started = performance.now();
  await Deno.mkdir(runDir);
  const result = { passed: 0, failed: 0, ignored: 0, code: 0, problems: [] as string[] };
  let modules = 0;
  for (let module = queue.shift(); module !== undefined; module = queue.shift()) {
    if (interrupted !== undefined) break;
    modules++;
    const { code, output } = await denoTest([...args, module], env);
    printer.block(output);
    const counts = countsOf(output, code);
    result.passed += counts.passed;
    result.failed += counts.failed;
    result.ignored += counts.ignored;
    if (code !== 0 && result.code === 0) result.code = code;
  }
  result.problems = await finishRunDir(runDir, printer);
  const label = `broker lane ${lane} (${modules} module${modules === 1 ? "" : "s"})`;
  return { ...result, label, ms: performance.now() - started };
}

async function main(): Promise<number> {
  const started = performance.now();
  const { flags, paths } = parseRequest(Deno.args);
  const plan = planTests(paths);
  const ownDir = await Deno.makeTempDir({ prefix: "telemetry-test-run-" });
  // The nodes' directories live inside; rabbitmq-server runs as the rabbitmq user.
  await Deno.chmod(ownDir, 0o755);
  const tmpDir = `${ownDir}/tmp`;
  await Deno.mkdir(tmpDir);
  const env = { TMPDIR: tmpDir, [OWNER_PID_VAR]: String(Deno.pid), [OWNER_DIR_VAR]: ownDir };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      interrupted = signal;
      for (const child of running) {
        try {
          child.kill(signal);
        } catch { /* already exited */ }
      }
    });
  }

  const results: PhaseResult[] = [];
  const userChecks = flags.some((f) => f === "--no-check" || f.startsWith("--check"));
  // As globs: Deno 2.9.6 applies an --ignore path to the first path argument
  // only (`--ignore=tests/queue/x_test.ts src/ tests/` still runs it).
  const ignoreFlag = (modules: string[]) =>
    modules.length === 0 ? [] : [`--ignore=${modules.map((m) => `**/${m}`).join(",")}`];
  const checkStarted = performance.now();
  const checkCode = userChecks
    ? 0
    : await typeCheck([...TEST_FLAGS, ...flags, ...ignoreFlag(plan.skipped), ...paths], env);
  const timings = [`type-check ${duration(performance.now() - checkStarted)}`];
  if (checkCode !== 0) {
    const failed = { passed: 0, failed: 1, ignored: 0, code: checkCode, problems: [] };
    results.push({ ...failed, label: "type-check", ms: 0 });
  } else {
    const runArgs = [...TEST_FLAGS, ...(userChecks ? [] : ["--no-check"]), ...flags];
    const printer = new Printer();
    const phase = (args: string[], runDir: string): Phase => ({
      args,
      runDir: `${ownDir}/${runDir}`,
      env: { ...env, [RUN_DIR_VAR]: `${ownDir}/${runDir}` },
      printer,
    });
    const phases: Promise<PhaseResult>[] = [];
    // The biggest modules first, so that no lane is left with a long one at the end.
    const queue = [...plan.broker].sort((a, b) => Deno.statSync(b).size - Deno.statSync(a).size);
    const lanes = Math.min(queue.length, Number(Deno.env.get(LANES_VAR) ?? DEFAULT_LANES) || 1);
    for (let lane = 1; lane <= lanes; lane++) {
      phases.push(brokerLane(phase(runArgs, `broker-${lane}`), lane, queue));
    }
    // A named file that runs in a lane (or is left out) is not named to the parallel phase.
    const elsewhere = [...plan.broker, ...plan.skipped];
    const parallelPaths = paths.filter((path) => !elsewhere.includes(repoPath(path)));
    if (parallelPaths.length > 0) {
      const args = [...runArgs, ...ignoreFlag(elsewhere), ...parallelPaths];
      phases.push(parallelPhase(phase(args, "parallel"), elsewhere));
    } else {
      printer.release();
    }
    results.push(...await Promise.all(phases));
    timings.push(...results.map((r) => `${r.label} ${duration(r.ms)}`));
  }

  const problems = results.flatMap((r) => r.problems);
  if (interrupted === undefined) {
    for (const left of leftovers(tmpDir)) problems.push(`left in TMPDIR: ${left}`);
  }
  await Deno.remove(ownDir, { recursive: true });
  for (const problem of problems) console.error(`error: ${problem}`);
  if (interrupted !== undefined) {
    console.error(`interrupted (${interrupted}): the test nodes and temp files are removed`);
    return interrupted === "SIGINT" ? 130 : 143;
  }
  const total = results.reduce(
    (sum, r) => ({
      passed: sum.passed + r.passed,
      failed: sum.failed + r.failed,
      ignored: sum.ignored + r.ignored,
    }),
    { passed: 0, failed: 0, ignored: 0 },
  );
  const failedCode = results.find((r) => r.code !== 0)?.code;
  const ok = failedCode === undefined && total.failed === 0 && problems.length === 0;
  console.log(`\ntimes: ${timings.join(" | ")}`);
  console.log(
    `\n${ok ? "ok" : "FAILED"} | ${total.passed} passed | ${total.failed} failed | ` +
      `${total.ignored} ignored (${duration(performance.now() - started)})`,
  );
  if (failedCode !== undefined) return failedCode;
  return ok ? 0 : 1;
}

Deno.exit(await main());
