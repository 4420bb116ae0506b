import assert from "node:assert/strict";
import {
  type FixAction,
  isFileStatus,
  isProblem,
  STATUS_TABLE,
  STATUSES,
  statusHelpLines,
  statusMarkdownTable,
  type VerifyStatus,
} from "../../src/verify/status.ts";

const PAGE = new URL("../../docs/verify.md", import.meta.url);
/** The heading the statuses table follows in docs/verify.md. */
const HEADING = "## Statuses, and what `--fix` does with each";
const REGENERATE = "deno test --allow-read --allow-write tests/verify/status_test.ts -- --update";

/** Where the statuses table is in docs/verify.md's lines: [first, end). */
function tableLines(lines: string[]): [number, number] {
  const heading = lines.indexOf(HEADING);
  assert.notEqual(heading, -1, `docs/verify.md has no "${HEADING}" heading`);
  const first = lines.findIndex((line, i) => i > heading && line.startsWith("|"));
  assert.notEqual(first, -1, `docs/verify.md has no table after "${HEADING}"`);
  const end = lines.findIndex((line, i) => i > first && !line.startsWith("|"));
  return [first, end === -1 ? lines.length : end];
}

function statusesWith(action: FixAction): VerifyStatus[] {
  return STATUSES.filter((status) => STATUS_TABLE[status].fix.action === action);
}

Deno.test("docs/verify.md's statuses table is statusMarkdownTable()", async () => {
  const expected = statusMarkdownTable();
  if (Deno.args.includes("--update")) {
    // Read right before writing: only the table's lines are replaced.
    const lines = (await Deno.readTextFile(PAGE)).split("\n");
    const [first, end] = tableLines(lines);
    lines.splice(first, end - first, ...expected);
    await Deno.writeTextFile(PAGE, lines.join("\n"));
  }
  const lines = (await Deno.readTextFile(PAGE)).split("\n");
  const [first, end] = tableLines(lines);
  assert.deepEqual(
    lines.slice(first, end),
    expected,
    `docs/verify.md's statuses table differs from STATUS_TABLE in src/verify/status.ts; ` +
      `regenerate it with: ${REGENERATE}`,
  );
});

/** The statuses `--fix` quarantines, in table order. */
const QUARANTINED = [
  "truncated",
  "corrupt",
  "invalid_json",
  "empty",
  "not_telemetry",
  "wrong_match",
];
/** The file statuses `--fix` leaves in place. */
const LEFT_FILES = ["too_large", "unreadable", "not_regular"];
/** The findings of the directory scan. */
const SCAN = ["missing", "stray_temp", "bad_dir_name"];

Deno.test("STATUS_TABLE lists the file statuses first, then the scan statuses", () => {
  assert.deepEqual(STATUSES, [
    "ok",
    "double_gzip",
    "not_gzip",
    ...QUARANTINED,
    ...LEFT_FILES,
    ...SCAN,
  ]);
  assert.deepEqual(STATUSES.filter((status) => !isFileStatus(status)), SCAN);
});

Deno.test("STATUS_TABLE gives each status its --fix action", () => {
  assert.deepEqual(statusesWith("none"), ["ok"]);
  assert.deepEqual(statusesWith("rewrite"), ["double_gzip", "not_gzip"]);
  assert.deepEqual(statusesWith("quarantine"), QUARANTINED);
  assert.deepEqual(statusesWith("remove_stray"), ["stray_temp"]);
  assert.deepEqual(statusesWith("leave"), [...LEFT_FILES, "missing", "bad_dir_name"]);
});

Deno.test("STATUS_TABLE makes every status but ok a problem, with something for --fix to do", () => {
  for (const status of STATUSES) {
    const problem = status !== "ok";
    assert.equal(isProblem(status), problem, status);
    assert.equal(STATUS_TABLE[status].fix.action !== "none", problem, status);
  }
});

Deno.test("STATUS_TABLE's hint for missing names the command that re-queues the match", () => {
  const fix = STATUS_TABLE.missing.fix;
  assert.equal(fix.action, "leave");
  assert.match(fix.reason, /telemetry enqueue --env <env> --match-id <id> <telemetry-url>/);
  assert.doesNotMatch(fix.reason, /consume downloads/);
});

Deno.test("STATUS_TABLE rewrites and quarantines only files", () => {
  for (const action of ["rewrite", "quarantine"] as const) {
    for (const status of statusesWith(action)) {
      assert.ok(isFileStatus(status), status);
    }
  }
});

Deno.test("statusHelpLines() gives every status its meaning, within the width", () => {
  const lines = statusHelpLines(80);
  for (const line of lines) assert.ok(line.length <= 80, line);
  const named = lines.filter((line) => /^ {2}\S/.test(line)).map((line) =>
    line.trim().split(" ")[0]
  );
  assert.deepEqual(named, [...STATUSES]);
  const text = lines.map((line) => line.trim()).join(" ");
  assert.match(text, /missing +a matchID= directory without raw\.json\.gz .* without a directory/);
  assert.doesNotMatch(text, /`/);
});

Deno.test("statusHelpLines() keeps a word longer than the width whole", () => {
  const lines = statusHelpLines(20);
  assert.ok(lines.some((line) => line.includes("multi-member")));
  assert.ok(lines.every((line) => !/^\s*$/.test(line)));
});
