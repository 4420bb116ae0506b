/**
 * The systemd unit keeps its promise: `TimeoutStopSec` leaves the worker its
 * whole shutdown budget (`--shutdown-timeout` + 5 s) plus a margin, so
 * systemd's SIGKILL never cuts a graceful stop short.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { SHUTDOWN_MARGIN_MS } from "../../src/queue/run.ts";

const UNIT = fileURLToPath(new URL("../../scripts/telemetry.service", import.meta.url));

/** What systemd needs beyond the worker's own budget: journal flush, exit. */
const MARGIN_S = 10;

/** The value of `key=` in the unit, or undefined. */
function setting(unit: string, key: string): string | undefined {
  return unit.split("\n").find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1);
}

Deno.test("the systemd unit's TimeoutStopSec covers --shutdown-timeout + 5 s + a margin", async () => {
  const unit = await Deno.readTextFile(UNIT);
  const execStart = setting(unit, "ExecStart") ?? "";
  const flag = /--shutdown-timeout[ =](\d+(?:\.\d+)?)/.exec(execStart);
  assert.ok(flag, "ExecStart sets --shutdown-timeout explicitly, so the two can be read together");
  const shutdownS = Number(flag[1]);
  const stopS = Number(setting(unit, "TimeoutStopSec"));
  assert.ok(
    stopS >= shutdownS + SHUTDOWN_MARGIN_MS / 1000 + MARGIN_S,
    `TimeoutStopSec=${stopS} < ${shutdownS} + ${SHUTDOWN_MARGIN_MS / 1000} + ${MARGIN_S}`,
  );
  assert.equal(setting(unit, "KillSignal"), "SIGTERM");
});
