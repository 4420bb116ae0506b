import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DEFAULT_MIN_FREE_SPACE } from "../../../src/core/defaults.ts";
import {
  belowFloor,
  DEFAULT_FREE_SPACE_FLOOR,
  floorBytes,
  formatBytes,
  formatFloor,
  freeSpace,
  type FreeSpaceFloor,
  parseMinFreeSpace,
} from "../../../src/core/store/free_space.ts";
import { CLI_PERMISSIONS } from "../../../scripts/permissions.ts";
import { expectTelemetryError } from "../../support/helpers.ts";
import { smallFsTest } from "../../support/small_fs.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

Deno.test("parseMinFreeSpace() reads sizes, percentages and 0", () => {
  const cases: [string, FreeSpaceFloor][] = [
    ["1GiB", { type: "bytes", bytes: GiB }],
    ["1G", { type: "bytes", bytes: GiB }],
    ["1gb", { type: "bytes", bytes: 1e9 }],
    ["500MB", { type: "bytes", bytes: 500e6 }],
    ["512MiB", { type: "bytes", bytes: 512 * MiB }],
    ["1.5G", { type: "bytes", bytes: 1.5 * GiB }],
    ["2TiB", { type: "bytes", bytes: 2 * 1024 * GiB }],
    ["1048576", { type: "bytes", bytes: MiB }],
    [" 64 K ", { type: "bytes", bytes: 64 * 1024 }],
    ["5%", { type: "percent", percent: 5 }],
    ["0.5 %", { type: "percent", percent: 0.5 }],
    ["99.9%", { type: "percent", percent: 99.9 }],
    ["0", { type: "off" }],
    ["0GiB", { type: "off" }],
    ["0%", { type: "off" }],
  ];
  for (const [value, floor] of cases) assert.deepEqual(parseMinFreeSpace(value), floor, value);
});

Deno.test("parseMinFreeSpace() refuses anything else with one usage line naming the flag", async () => {
  const cases: [string, RegExp][] = [
    ["", /expected a size such as 1GiB or 500MB, a percentage such as 5%, or 0$/],
    ["abc", /^invalid --min-free-space "abc": expected a size/],
    ["-1", /"-1": expected a size/],
    ["1XB", /"1XB": expected a size/],
    ["1.5.5G", /expected a size/],
    ["5%%", /expected a size/],
    ["100%", /"100%": a percentage must be below 100%$/],
    ["150%", /a percentage must be below 100%/],
    ["1e30", /expected a size/],
    ["99999999999999999999TiB", /the size is too large/],
  ];
  for (const [value, pattern] of cases) {
    const err = await expectTelemetryError(
      Promise.resolve().then(() => parseMinFreeSpace(value)),
      "usage",
      "bad_option",
    );
    assert.match(err.message, pattern, value);
  }
});

Deno.test("DEFAULT_FREE_SPACE_FLOOR is 1 GiB, defined once in defaults.ts", () => {
  assert.equal(DEFAULT_MIN_FREE_SPACE, GiB);
  assert.deepEqual(DEFAULT_FREE_SPACE_FLOOR, { type: "bytes", bytes: GiB });
  assert.deepEqual(parseMinFreeSpace("1GiB"), DEFAULT_FREE_SPACE_FLOOR);
});

Deno.test("floorBytes() rounds a percentage up and is 0 when off", () => {
  assert.equal(floorBytes({ type: "off" }, 1000), 0);
  assert.equal(floorBytes({ type: "bytes", bytes: 10 }, 1000), 10);
  assert.equal(floorBytes({ type: "percent", percent: 5 }, 1000), 50);
  assert.equal(floorBytes({ type: "percent", percent: 5 }, 1001), 51);
  assert.equal(floorBytes({ type: "percent", percent: 0.5 }, 8 * MiB), Math.ceil(8 * MiB * 0.005));
});

Deno.test("belowFloor() compares the free space, less what is about to be written, to the floor", () => {
  const space = { free: 100 * MiB, total: GiB };
  const bytes = (n: number): FreeSpaceFloor => ({ type: "bytes", bytes: n });
  assert.equal(belowFloor(space, bytes(100 * MiB)), false, "exactly at the floor");
  assert.equal(belowFloor(space, bytes(100 * MiB + 1)), true);
  assert.equal(belowFloor(space, bytes(50 * MiB), 50 * MiB), false, "fits exactly");
  assert.equal(belowFloor(space, bytes(50 * MiB), 50 * MiB + 1), true, "does not fit");
  assert.equal(belowFloor(space, { type: "percent", percent: 10 }), true, "10% of 1 GiB > 100 MiB");
  assert.equal(belowFloor(space, { type: "percent", percent: 9 }), false);
  // No floor: only a write that cannot fit at all.
  assert.equal(belowFloor({ free: 0, total: GiB }, { type: "off" }), false);
  assert.equal(belowFloor(space, { type: "off" }, 100 * MiB), false);
  assert.equal(belowFloor(space, { type: "off" }, 100 * MiB + 1), true);
});

Deno.test("formatBytes() and formatFloor() render sizes as status does", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(8 * MiB), "8.0 MiB");
  assert.equal(formatBytes(1.5 * GiB), "1.5 GiB");
  assert.equal(formatFloor({ type: "off" }), "off");
  assert.equal(formatFloor({ type: "bytes", bytes: GiB }), "1.0 GiB");
  assert.equal(formatFloor({ type: "percent", percent: 5 }), "5%");
});

smallFsTest(
  "freeSpace() of an 8 MiB tmpfs: 8 MiB in all, all free, then none once filled",
  async (fs) => {
    assert.deepEqual(await freeSpace(fs.dir), { free: 8 * MiB, total: 8 * MiB });
    await fs.fill();
    assert.deepEqual(await freeSpace(fs.dir), { free: 0, total: 8 * MiB });
    await fs.free();
    assert.deepEqual(await freeSpace(fs.dir), { free: 8 * MiB, total: 8 * MiB });
  },
);

Deno.test("freeSpace() of a missing path rejects with ENOENT", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.remove(dir);
  await assert.rejects(freeSpace(dir), (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "ENOENT");
    return true;
  });
});

/** Runs a script from stdin under `deno run <permissions>`; returns [stdout, stderr, code]. */
async function runWith(permissions: readonly string[], script: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-config", ...permissions, "-"],
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const output = await child.output();
  const text = new TextDecoder();
  return [text.decode(output.stdout), text.decode(output.stderr), output.code] as const;
}

const FREE_SPACE_URL = new URL("../../../src/core/store/free_space.ts", import.meta.url).href;
const SCRIPT = `import { freeSpace } from ${JSON.stringify(FREE_SPACE_URL)};
console.log(JSON.stringify(await freeSpace(${
  JSON.stringify(fileURLToPath(new URL(".", import.meta.url)))
})));`;

Deno.test("freeSpace() works with the binary's permissions (statfs needs read and sys access)", async () => {
  const [stdout, stderr, code] = await runWith(CLI_PERMISSIONS, SCRIPT);
  assert.equal(code, 0, stderr);
  const space = JSON.parse(stdout);
  assert.ok(space.total > 0 && space.free >= 0 && space.free <= space.total, stdout);
  // Without --allow-sys the runtime refuses statfs: the binary must keep it.
  const narrowed = CLI_PERMISSIONS.filter((flag) => flag !== "--allow-sys");
  const [, refused, failed] = await runWith(narrowed, SCRIPT);
  assert.notEqual(failed, 0);
  assert.match(refused, /Requires sys access to "statfs"/);
});
