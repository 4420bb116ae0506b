/**
 * The project reads nothing outside its own repository: a user's clone has
 * only what is committed. This check fails when a source, test or script
 * names a relative path that climbs out of the repository, or the
 * development machine's shared folder.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
/** Spelled in two parts so that this file does not match itself. */
const SHARED_FOLDER = ["shared", "fixtures"].join("/");

/**
 * Finds the places in one file that point outside the repository.
 *
 * @param file The file's absolute path (relative paths resolve from its folder).
 * @param text Its contents.
 * @returns One `line N: what` entry per finding.
 */
function outsidePaths(file: string, text: string): string[] {
  const findings: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    for (const match of line.matchAll(/["'`]((?:\.\.?\/)+[^"'`]*)["'`]/g)) {
      const target = resolve(dirname(file), match[1]!);
      const rel = relative(ROOT, target);
      if (rel.startsWith("..")) {
        findings.push(`line ${index + 1}: ${match[1]} leaves the repository`);
      }
    }
    if (line.includes(SHARED_FOLDER)) {
      findings.push(`line ${index + 1}: names the machine's ${SHARED_FOLDER} folder`);
    }
  });
  return findings;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && entry.name !== "fixtures") out.push(...sourceFiles(path));
    else if (entry.isFile && /\.(ts|sh|service)$/.test(entry.name)) out.push(path);
  }
  return out;
}

Deno.test("outsidePaths() flags a relative path that climbs out of the repository", () => {
  const file = join(ROOT, "tests", "core", "x_test.ts");
  const up = ["..", "..", ".."].join("/");
  const text = [
    `const ok = new URL("../fixtures/a.json", import.meta.url);`,
    `const bad = new URL("${up}/${SHARED_FOLDER}/real/a.json", import.meta.url);`,
  ].join("\n");
  const findings = outsidePaths(file, text);
  assert.equal(findings.length, 2, findings.join("\n"));
  assert.match(findings[0]!, /^line 2: .* leaves the repository$/);
  assert.match(findings[1]!, /^line 2: names the machine's/);
});

Deno.test("src/, tests/, scripts/ and main.ts read nothing outside the repository", () => {
  const files = [
    join(ROOT, "main.ts"),
    ...["src", "tests", "scripts"].flatMap((dir) => sourceFiles(join(ROOT, dir))),
  ];
  assert.ok(files.length > 50, `found only ${files.length} files`);
  const findings = files.flatMap((file) =>
    outsidePaths(file, Deno.readTextFileSync(file)).map((f) => `${relative(ROOT, file)} ${f}`)
  );
  assert.deepEqual(findings, []);
});
