/**
 * The documentation cannot drift: `docs/cli.md` is what `deno task docs`
 * generates from the command definitions, every relative link and `#anchor`
 * in `README.md` and `docs/*.md` leads somewhere, the README stays a front
 * door, and no page but `docs/cli.md` documents flags in a table.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import {
  CLI_DOC,
  CONSUME_DOC,
  generateCliDoc,
  generatedPages,
  headingAnchor,
  REGENERATE,
} from "../../scripts/docs.ts";
import { SETTLE_RULES } from "../../src/queue/settle.ts";
import { existsSync } from "../support/helpers.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");
const README = join(ROOT, "README.md");
const DOCS = join(ROOT, "docs");
/** The README's budget: the front door, not the reference. */
const README_MAX_LINES = 250;

/** README.md and every Markdown page of docs/, as absolute paths. */
function markdownFiles(): string[] {
  const pages = Array.from(Deno.readDirSync(DOCS))
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => join(DOCS, entry.name))
    .sort();
  return [README, ...pages];
}

/** The text with fenced code blocks blanked (their lines kept, so line numbers hold). */
function withoutFences(text: string): string[] {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined) {
      if (marker !== undefined) fence = marker;
      return marker === undefined ? line : "";
    }
    if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) {
      if (line.trim() === marker) fence = undefined;
    }
    return "";
  });
}

/**
 * The anchors GitHub gives a page's headings; a repeated heading gets `-1`,
 * `-2`… after the first.
 */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const anchor = headingAnchor(heading);
    const count = seen.get(anchor) ?? 0;
    seen.set(anchor, count + 1);
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
  }
  return anchors;
}

/** One link of a page: its line and its target as written. */
interface Link {
  line: number;
  target: string;
}

/** The links of a page (inline and reference definitions), outside code. */
function linksOf(text: string): Link[] {
  const links: Link[] = [];
  withoutFences(text).forEach((raw, index) => {
    // Code spans hold text, not links.
    const line = raw.replace(/(`+)[\s\S]*?\1/g, "");
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: index + 1, target: match[1]! });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (definition !== null) links.push({ line: index + 1, target: definition[1]! });
  });
  return links;
}

/**
 * Where the relative links of one page lead nowhere: a missing file, or an
 * anchor that no heading of the target page has.
 *
 * @param file The page's absolute path.
 * @param text Its contents.
 * @param read Reads another page (`undefined` when there is no such file or it is a directory).
 * @param exists Whether a path exists (a file or a directory).
 * @returns One `file:line: target: why` entry per broken link.
 */
function brokenLinks(
  file: string,
  text: string,
  read: (path: string) => string | undefined,
  exists: (path: string) => boolean,
): string[] {
  const broken: string[] = [];
  const name = relative(ROOT, file);
  for (const { line, target } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, file:
    const hash = target.indexOf("#");
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${name}:${line}: ${target}`;
    const resolved = path === "" ? file : resolve(dirname(file), path);
    if (!resolved.startsWith(ROOT)) {
      broken.push(`${where}: leaves the repository`);
      continue;
    }
    if (path !== "" && !exists(resolved)) {
      broken.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    const page = resolved === file ? text : read(resolved);
    if (page === undefined || !resolved.endsWith(".md")) {
      broken.push(`${where}: an anchor into a file that is not a Markdown page`);
    } else if (!anchorsOf(page).has(anchor)) {
      broken.push(`${where}: ${relative(ROOT, resolved)} has no heading with that anchor`);
    }
  }
  return broken;
}

function readPage(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The first line where two texts differ, for a message a reader can act on. */
function firstDifference(actual: string, expected: string): string {
  const a = actual.split("\n");
  const b = expected.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `line ${i + 1}:\n  committed: ${a[i] ?? "(end of file)"}\n  generated: ${
        b[i] ?? "(end of file)"
      }`;
    }
  }
  return "no line differs";
}

Deno.test("docs/cli.md is what `deno task docs` generates from the command definitions", async () => {
  const committed = await Deno.readTextFile(CLI_DOC).catch(() => "");
  const generated = await generateCliDoc();
  assert.ok(
    committed === generated,
    `docs/cli.md is out of date with the command definitions: run \`${REGENERATE}\` ` +
      `(first difference at ${firstDifference(committed, generated)})`,
  );
});

Deno.test("docs/consume.md shows the delivery rule as SETTLE_RULES has it (`deno task docs`)", async () => {
  const committed = await Deno.readTextFile(CONSUME_DOC);
  const [, generated] = (await generatedPages()).find(([url]) => url.href === CONSUME_DOC.href)!;
  assert.ok(
    committed === generated,
    `docs/consume.md's delivery-rule table is out of date: run \`${REGENERATE}\` ` +
      `(first difference at ${firstDifference(committed, generated)})`,
  );
  for (const rule of Object.values(SETTLE_RULES)) assert.ok(committed.includes(rule.outcome));
});

Deno.test("docs/cli.md documents every command and flag with its default and env var", async () => {
  const text = await Deno.readTextFile(CLI_DOC);
  for (const heading of ["`telemetry download`", "`telemetry dlq replay`", "`telemetry status`"]) {
    assert.ok(text.includes(`\n## ${heading}\n`), heading);
  }
  const row = (flag: string) => text.split("\n").find((line) => line.startsWith(`| \`${flag}`));
  assert.match(row("--data-dir <dir>") ?? "", /\| `\.\/data\/telemetry` +\| `TELEMETRY_DATA_DIR`/);
  assert.match(row("--env <name>") ?? "", /\| `TELEMETRY_ENV`, `ENVIRONMENT` +\|/);
  assert.match(row("-o, --output <file>") ?? "", /\(required\) +\|$/);
  assert.match(text, /Exit codes: 0 downloaded or already present/);
});

Deno.test("every relative link and #anchor in README.md and docs/*.md resolves", () => {
  const broken = markdownFiles().flatMap((file) =>
    brokenLinks(file, Deno.readTextFileSync(file), readPage, existsSync)
  );
  assert.deepEqual(broken, []);
});

Deno.test("brokenLinks() finds a missing file, a missing anchor, and skips code and URLs", () => {
  const file = join(ROOT, "docs", "page.md");
  const pages: Record<string, string> = {
    [join(ROOT, "docs", "other.md")]: "# Other\n\n## `telemetry dlq`: the dead-letter queue\n",
  };
  const text = [
    "# Page",
    "[ok](other.md#telemetry-dlq-the-dead-letter-queue) [self](#page) [web](https://x.example/#y)",
    "[gone](missing.md) [bad anchor](other.md#nope) `[code](missing.md)`",
    "```",
    "[fenced](missing.md)",
    "```",
    "[ref]: other.md#other",
  ].join("\n");
  const found = brokenLinks(file, text, (path) => pages[path], (path) => path in pages);
  assert.deepEqual(found, [
    "docs/page.md:3: missing.md: no such file",
    "docs/page.md:3: other.md#nope: docs/other.md has no heading with that anchor",
  ]);
});

Deno.test("anchorsOf() numbers a repeated heading as GitHub does", () => {
  const anchors = anchorsOf("# A\n## Exit codes\n### Exit codes\n```\n# not a heading\n```\n");
  assert.deepEqual([...anchors], ["a", "exit-codes", "exit-codes-1"]);
});

Deno.test(`README.md is the front door: at most ${README_MAX_LINES} lines`, () => {
  const lines = Deno.readTextFileSync(README).trimEnd().split("\n").length;
  assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move detail to docs/`);
});

Deno.test("README.md links every page of docs/", () => {
  const targets = new Set(
    linksOf(Deno.readTextFileSync(README)).map(({ target }) => target.split("#")[0]),
  );
  const unlinked = markdownFiles().slice(1).map((file) => relative(ROOT, file))
    .filter((page) => !targets.has(page));
  assert.deepEqual(unlinked, []);
});

Deno.test("no page but docs/cli.md documents flags in a table", () => {
  const tables = markdownFiles().filter((file) => file !== new URL(CLI_DOC).pathname)
    .flatMap((file) =>
      withoutFences(Deno.readTextFileSync(file)).flatMap((line, index) =>
        /^\|\s*`-/.test(line) ? [`${relative(ROOT, file)}:${index + 1}: ${line.slice(0, 60)}`] : []
      )
    );
  assert.deepEqual(tables, [], `document flags in ${REGENERATE}'s docs/cli.md; link to it`);
});
