import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import { parseDuration } from "../../src/cli/duration.ts";

Deno.test("parseDuration() reads seconds, minutes, hours, days and weeks", () => {
  assert.equal(parseDuration("45s"), 45_000);
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("1w"), 604_800_000);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration(" 3D "), 259_200_000);
});

Deno.test("parseDuration() rejects a number without a unit, other units and zero", () => {
  for (const bad of ["", "30", "2 hours", "5x", "-1h", "0s", "h", "1h30m"]) {
    assert.throws(() => parseDuration(bad), InvalidArgumentError, bad);
  }
});
