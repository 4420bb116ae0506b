import assert from "node:assert/strict";
import { publishSummaryText } from "../../src/cli/publish_summary.ts";

const WORDS = { done: "queued 3", wouldBe: "3 valid jobs would be queued", rest: "refused 1" };

Deno.test("publishSummaryText() names the unconfirmed only when there are some", () => {
  const totals = { queue: "q", dryRun: false, unconfirmed: 0, seconds: 0.25 };
  assert.equal(publishSummaryText(totals, WORDS), "queued 3 to q; refused 1 (0.3 s)");
  assert.equal(
    publishSummaryText({ ...totals, unconfirmed: 2 }, WORDS),
    "queued 3 to q; refused 1, unconfirmed 2 (0.3 s)",
  );
});

Deno.test("publishSummaryText() says what a dry run would do", () => {
  const totals = { queue: "q", dryRun: true, unconfirmed: 0, seconds: 1 };
  assert.equal(
    publishSummaryText(totals, WORDS),
    "dry run: 3 valid jobs would be queued to q; refused 1 (1.0 s)",
  );
});
