import assert from "node:assert/strict";
import { createLogger, formatLine } from "../../src/cli/logger.ts";

const time = new Date("2026-11-28T12:00:00.000Z");

Deno.test("createLogger() writes one JSON object per line in json format", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l), now: () => time });
  log.info("job", { match_id: "abc", outcome: "downloaded", bytes: 12, missing: undefined });
  log.error("failed", { error: "multi\nline" });
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[0] ?? ""), {
    time: "2026-11-28T12:00:00.000Z",
    level: "info",
    event: "job",
    match_id: "abc",
    outcome: "downloaded",
    bytes: 12,
  });
  assert.ok(!(lines[1] ?? "").includes("\n"));
});

Deno.test("createLogger() drops lines below the level", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l), level: "warn" });
  log.info("quiet");
  log.warn("loud");
  assert.equal(lines.length, 1);
});

Deno.test("formatLine() quotes text values with spaces for grep-friendly key=value lines", () => {
  const line = formatLine({
    time,
    level: "warn",
    event: "retry",
    fields: { match_id: "abc", error: "HTTP 500 from host", attempt: 1 },
    format: "text",
  });
  assert.equal(
    line,
    '2026-11-28T12:00:00.000Z WARN  retry match_id=abc error="HTTP 500 from host" attempt=1',
  );
});
