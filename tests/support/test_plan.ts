/**
 * How `deno task test` splits the suite (see `tests/support/run_tests.ts`):
 * the test modules that need no broker run together with `deno test
 * --parallel`; each module that needs one runs in a `deno test` process of
 * its own, on a private node it shares with no module running at the same
 * time (some stop, restart or block their node).
 *
 * A module needs the broker when its static imports reach
 * `tests/support/test_broker.ts`, so the split follows the code and needs no
 * list to keep up to date. The modules that crash or restart their node for
 * most of a minute are left out of the default run: `deno task test:broker`
 * runs them; so are the ones that start a 3-node cluster of their own:
 * `deno task test:cluster` runs them.
 *
 * @module
 */

import { dirname, join, normalize, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The module every broker test reaches through its imports. */
const BROKER_MODULE = resolve(ROOT, "tests/support/test_broker.ts");

/**
 * The modules that kill or restart their broker node again and again (about
 * 45 s together): `deno task test:broker` runs them; `deno task test`
 * leaves them out unless a path names the file itself.
 */
export const NODE_RESTART_TESTS: readonly string[] = [
  "tests/queue/broker_restart_test.ts",
  "tests/queue/delivery_count_test.ts",
];

/**
 * The modules that start a private 3-node cluster of their own (about 25 s
 * to boot, then nodes killed and restarted): `deno task test:cluster` runs
 * them; `deno task test` leaves them out unless a path names the file itself.
 */
export const CLUSTER_TESTS: readonly string[] = [
  "tests/queue/cluster_test.ts",
];

/**
 * A path as the plan names it: relative to the repository root, normalized.
 *
 * @param path A file or directory, relative to the repository root or absolute.
 * @returns E.g. `tests/core/pool_test.ts` for `./tests/core/pool_test.ts`.
 */
export function repoPath(path: string): string {
  return relative(ROOT, resolve(ROOT, path));
}

/** Directories `deno test` never looks in here (deno.json `exclude`, and the usual ones). */
const SKIPPED_DIRS = new Set(["dist", "bench-data", "node_modules", ".git"]);

/** What `deno test` takes for a test module in a directory: `*_test.ts`, `*.test.ts`, `test.ts`. */
const TEST_MODULE = /(^|[._])test\.(ts|tsx|mts|js|jsx|mjs)$/;

/**
 * The test modules under `paths` (files are taken as named), relative to the
 * repository root and sorted.
 *
 * @param paths Files and directories, relative to the repository root.
 * @returns The test modules.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testModules } from "./test_plan.ts";
 * assert.ok(testModules(["tests/core/"]).includes("tests/core/pool_test.ts"));
 * ```
 */
export function testModules(paths: readonly string[]): string[] {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(ROOT, dir))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory && !SKIPPED_DIRS.has(entry.name)) walk(path);
      else if (entry.isFile && TEST_MODULE.test(entry.name)) found.add(path);
    }
  };
  for (const path of paths) {
    const relativePath = repoPath(path);
    if (Deno.statSync(join(ROOT, relativePath)).isDirectory) walk(relativePath);
    else found.add(relativePath);
  }
  return [...found].sort();
}

/** Relative imports: `from "./x.ts"`, `import "./x.ts"`, `import("./x.ts")`. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;

/**
 * Whether a module reaches `tests/support/test_broker.ts` through its static
 * relative imports.
 *
 * @param module A module path, relative to the repository root.
 * @returns True for a module whose tests use the broker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { needsBroker } from "./test_plan.ts";
 * assert.equal(needsBroker("tests/queue/session_test.ts"), true);
 * assert.equal(needsBroker("tests/core/pool_test.ts"), false);
 * ```
 */
export function needsBroker(module: string): boolean {
  const seen = new Set<string>();
  const pending = [resolve(ROOT, module)];
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (path === BROKER_MODULE) return true;
    if (seen.has(path)) continue;
    seen.add(path);
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    for (const match of text.matchAll(IMPORT)) {
      pending.push(normalize(join(dirname(path), match[1]!)));
    }
  }
  return false;
}

/** The split of one run. */
export interface TestPlan {
  /** Modules that need a broker: one `deno test` process each, one node per lane. */
  broker: string[];
  /** Modules left out of this run (the node-restart ones not named as files). */
  skipped: string[];
}

/**
 * Splits the test modules under `paths` (see the module doc).
 *
 * @param paths Files and directories, relative to the repository root.
 * @returns The broker modules and the ones left out; `deno test --parallel`
 * runs the rest of `paths` (with `--ignore` for these).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planTests } from "./test_plan.ts";
 * const plan = planTests(["tests/queue/"]);
 * assert.ok(plan.broker.includes("tests/queue/session_test.ts"));
 * assert.ok(plan.skipped.includes("tests/queue/delivery_count_test.ts"));
 * assert.deepEqual(planTests(["tests/queue/delivery_count_test.ts"]).skipped, []);
 * assert.ok(plan.skipped.includes("tests/queue/cluster_test.ts"));
 * ```
 */
export function planTests(paths: readonly string[]): TestPlan {
  const modules = testModules(paths);
  const files = new Set(paths.map(repoPath));
  const slow = [...NODE_RESTART_TESTS, ...CLUSTER_TESTS];
  const skipped = modules.filter((m) => slow.includes(m) && !files.has(m));
  const broker = modules.filter((m) => !skipped.includes(m) && needsBroker(m));
  return { broker, skipped };
}
