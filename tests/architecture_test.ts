/**
 * The import graph of `main.ts` and `src/`: no file imports itself back
 * through a circle of imports, and every arrow between folders points the
 * way {@linkcode MAY_IMPORT} allows. Imports are read as text (static
 * `import`/`export … from`, dynamic `import("…")` and worker
 * `new URL("…", import.meta.url)`), comments left out.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** A layer: `main.ts`, or a folder directly under `src/`. */
type Layer = "main" | "commands" | "cli" | "queue" | "verify" | "core";

/**
 * The layers each layer may import (besides itself), top to bottom:
 * `main.ts` wires the program; `commands/` build the commands and render
 * their results; `queue/` talks to RabbitMQ (`announce` audits files with
 * `verify/` before it announces them); `verify/` audits the store; `cli/`
 * holds flag, output and completion helpers the commands share; `core/`
 * downloads, stores and validates, and imports nothing above it.
 */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  main: ["commands", "cli"],
  commands: ["cli", "queue", "verify", "core"],
  queue: ["verify", "core"],
  verify: ["core"],
  cli: ["core"],
  core: [],
};

/** One import: the importing file and the file it names, both relative to the repository. */
interface Arrow {
  from: string;
  to: string;
}

const IMPORT_PATTERNS = [
  // import x from "…"; import { a, b } from "…"; export * from "…"; import type { T } from "…"
  /^\s*(?:import|export)\s+(?:type\s+)?[\w\s{},*$]*?\bfrom\s*["']([^"']+)["']/gm,
  // import "…";
  /^\s*import\s*["']([^"']+)["']/gm,
  // import("…")
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  // new Worker(new URL("./worker.ts", import.meta.url))
  /\bnew URL\(\s*["']([^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g,
];

/**
 * The relative module specifiers a source text imports, comments left out.
 *
 * @param text The source.
 * @returns The specifiers, in order of appearance per kind.
 */
function importedSpecifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return IMPORT_PATTERNS.flatMap((pattern) =>
    Array.from(code.matchAll(pattern), (match) => match[1]!)
  ).filter((specifier) => specifier.startsWith("."));
}

/** The layer of a repository-relative path, or undefined outside `main.ts` and `src/`. */
function layerOf(path: string): Layer | undefined {
  if (path === "main.ts") return "main";
  const [top, folder, ...rest] = path.split("/");
  if (top !== "src" || rest.length === 0) return undefined;
  return Object.hasOwn(MAY_IMPORT, folder!) ? folder as Layer : undefined;
}

/**
 * The arrows that go against {@linkcode MAY_IMPORT}, and the files of
 * `src/` in no layer.
 *
 * @param arrows The imports.
 * @returns One line per finding.
 */
function backArrows(arrows: readonly Arrow[]): string[] {
  const findings: string[] = [];
  for (const { from, to } of arrows) {
    const source = layerOf(from);
    const target = layerOf(to);
    if (source === undefined) findings.push(`${from}: in no layer`);
    if (to.startsWith("src/") && target === undefined) findings.push(`${to}: in no layer`);
    if (source === undefined || target === undefined || source === target) continue;
    if (!MAY_IMPORT[source].includes(target)) findings.push(`${from} -> ${to}`);
  }
  return [...new Set(findings)];
}

/**
 * The circles of imports (the strongly connected components of more than
 * one file, or of a file importing itself), each as its sorted files.
 *
 * @param arrows The imports.
 * @returns One list of files per circle.
 */
function importCycles(arrows: readonly Arrow[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of arrows) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  // Tarjan's algorithm; the graph is a few hundred files, so recursion is fine.
  function visit(file: string): void {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const to of next.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file)!, index.get(to)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let member = stack.pop()!;; member = stack.pop()!) {
      onStack.delete(member);
      component.push(member);
      if (member === file) break;
    }
    if (component.length > 1 || (next.get(file) ?? []).includes(file)) {
      cycles.push(component.sort());
    }
  }
  for (const file of next.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

/** The `.ts` files below a folder, repository-relative. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** The imports of `main.ts` and `src/` between files of the repository. */
function projectArrows(): Arrow[] {
  return ["main.ts", ...sourceFiles("src")].flatMap((from) =>
    importedSpecifiers(Deno.readTextFileSync(join(ROOT, from)))
      .map((specifier) => relative(ROOT, resolve(ROOT, dirname(from), specifier)))
      .filter((to) => to.endsWith(".ts"))
      .map((to) => ({ from, to }))
  );
}

Deno.test("importedSpecifiers() reads static, dynamic and worker imports, not comments", () => {
  const text = [
    `import { a, type B } from "./a.ts";`,
    `import type { C } from "../c.ts";`,
    `import {`,
    `  d,`,
    `} from "./d.ts";`,
    `export { e } from "./e.ts";`,
    `export * from "./f.ts";`,
    `import "./g.ts";`,
    `import assert from "node:assert/strict";`,
    `const h = await import("./h.ts");`,
    `const w = new Worker(new URL("./w.ts", import.meta.url), { type: "module" });`,
    `/**`,
    ` * import { x } from "./doc_example.ts";`,
    ` */`,
    `// import { y } from "./commented.ts";`,
  ].join("\n");
  assert.deepEqual(importedSpecifiers(text).sort(), [
    "../c.ts",
    "./a.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
    "./h.ts",
    "./w.ts",
  ]);
});

Deno.test("backArrows() flags an import against the layers and a folder in no layer", () => {
  assert.deepEqual(
    backArrows([
      { from: "src/commands/a.ts", to: "src/core/b.ts" },
      { from: "src/core/b.ts", to: "src/core/http/c.ts" },
      { from: "src/cli/program.ts", to: "src/commands/a.ts" },
      { from: "src/core/b.ts", to: "src/queue/d.ts" },
      { from: "src/extra/e.ts", to: "src/core/b.ts" },
    ]),
    [
      "src/cli/program.ts -> src/commands/a.ts",
      "src/core/b.ts -> src/queue/d.ts",
      "src/extra/e.ts: in no layer",
    ],
  );
});

Deno.test("importCycles() finds a circle, also a type-only one, and nothing in a tree", () => {
  const tree = [
    { from: "a.ts", to: "b.ts" },
    { from: "a.ts", to: "c.ts" },
    { from: "b.ts", to: "c.ts" },
  ];
  assert.deepEqual(importCycles(tree), []);
  assert.deepEqual(importCycles([...tree, { from: "c.ts", to: "a.ts" }]), [
    ["a.ts", "b.ts", "c.ts"],
  ]);
  assert.deepEqual(importCycles([{ from: "x.ts", to: "x.ts" }]), [["x.ts"]]);
});

Deno.test("src/ has no circle of imports", () => {
  const arrows = projectArrows();
  assert.ok(arrows.length > 100, `found only ${arrows.length} imports`);
  assert.deepEqual(importCycles(arrows), []);
});

Deno.test("src/ imports point one way: main.ts, commands, queue, verify, cli, core", () => {
  assert.deepEqual(backArrows(projectArrows()), []);
});
