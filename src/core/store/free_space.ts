/**
 * Free space of the store, and the floor below which a worker stops writing
 * to it (`--min-free-space`): a size (`1GiB`, `500MB`), a share of the file
 * system (`5%`), or `0` for no floor.
 *
 * The free space is what an unprivileged writer may still use (`df`'s
 * "Avail": `statfs` `f_bavail`), not the blocks reserved for root. Reading
 * it needs read access to the path and the `statfs` sys permission: the
 * binary has both (`--allow-read`, `--allow-sys` in `scripts/permissions.ts`).
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { DEFAULT_MIN_FREE_SPACE } from "../defaults.ts";
import { TelemetryError } from "../errors.ts";
import { SIZE_UNITS } from "../size_units.ts";

/** The space of the file system that holds a path, in bytes. */
export interface FreeSpace {
  /** Bytes an unprivileged writer may still use. */
  free: number;
  /** The size of the file system. */
  total: number;
}

/**
 * How much free space a worker keeps: none (`off`), a number of bytes, or a
 * percentage of the file system's size.
 */
export type FreeSpaceFloor =
  | { readonly type: "off" }
  | { readonly type: "bytes"; readonly bytes: number }
  | { readonly type: "percent"; readonly percent: number };

/** The floor of `--min-free-space` when it is not given: {@linkcode DEFAULT_MIN_FREE_SPACE} bytes. */
export const DEFAULT_FREE_SPACE_FLOOR: FreeSpaceFloor = {
  type: "bytes",
  bytes: DEFAULT_MIN_FREE_SPACE,
};

/**
 * The free and total space of the file system that holds `path`.
 *
 * @param path An existing file or directory (the data dir).
 * @returns Free bytes (for an unprivileged writer) and total bytes.
 * @throws The `statfs` error (`ENOENT` for a missing path, `NotCapable`
 * without the `statfs` sys permission).
 *
 * @example
 * ```ts
 * import { freeSpace } from "./free_space.ts";
 * const space = await freeSpace(".");
 * if (!(space.free <= space.total)) throw new Error("unexpected");
 * ```
 */
export async function freeSpace(path: string): Promise<FreeSpace> {
  const stats = await statfs(path);
  return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
}

/**
 * Parses `--min-free-space`: a size (`1073741824`, `1GiB`, `500MB`, `1.5G`;
 * K, M, G, T alone are binary), a percentage of the file system (`5%`, below
 * 100), or `0` (with or without a unit) for no floor.
 *
 * @param value The flag value.
 * @returns The floor.
 * @throws {TelemetryError} kind `usage`, code `bad_option`: one line naming the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMinFreeSpace } from "./free_space.ts";
 * assert.deepEqual(parseMinFreeSpace("5%"), { type: "percent", percent: 5 });
 * assert.deepEqual(parseMinFreeSpace("1GiB"), { type: "bytes", bytes: 1024 ** 3 });
 * assert.deepEqual(parseMinFreeSpace("0"), { type: "off" });
 * ```
 */
export function parseMinFreeSpace(value: string): FreeSpaceFloor {
  const text = value.trim();
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (percent !== null) {
    const share = Number(percent[1]);
    if (share === 0) return { type: "off" };
    if (share < 100) return { type: "percent", percent: share };
    throw badFloor(value, "a percentage must be below 100%");
  }
  const size = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text);
  const unit = SIZE_UNITS[(size?.[2] ?? "").toLowerCase()];
  if (size === null || unit === undefined) {
    throw badFloor(value, "expected a size such as 1GiB or 500MB, a percentage such as 5%, or 0");
  }
  const bytes = Math.ceil(Number(size[1]) * unit);
  if (bytes === 0) return { type: "off" };
  if (!Number.isSafeInteger(bytes)) throw badFloor(value, "the size is too large");
  return { type: "bytes", bytes };
}

/**
 * The floor in bytes on a file system of `total` bytes (a percentage is
 * rounded up; no floor is 0).
 *
 * @param floor The floor.
 * @param total The file system's size in bytes.
 * @returns Bytes to keep free.
 *
 * @example
 * ```ts
 * import { floorBytes } from "./free_space.ts";
 * if (floorBytes({ type: "percent", percent: 5 }, 1000) !== 50) throw new Error("unexpected");
 * ```
 */
export function floorBytes(floor: FreeSpaceFloor, total: number): number {
  switch (floor.type) {
    case "off":
      return 0;
    case "bytes":
      return floor.bytes;
    case "percent":
      return Math.ceil((total * floor.percent) / 100);
  }
}

/**
 * Whether the free space is below the floor, or would be after writing
 * `extraBytes` more: a worker pauses before downloading anything when
 * `belowFloor(space, floor)`, and does not start a download of a known
 * length `n` when `belowFloor(space, floor, n)`. With no floor, only a
 * write that cannot fit at all (`extraBytes > free`) is below it.
 *
 * @param space The free space now.
 * @param floor The floor.
 * @param extraBytes Bytes about to be written. @default {0}
 * @returns True when `free - extraBytes` is below the floor.
 *
 * @example
 * ```ts
 * import { belowFloor } from "./free_space.ts";
 * const space = { free: 100, total: 1000 };
 * if (belowFloor(space, { type: "bytes", bytes: 50 })) throw new Error("unexpected");
 * if (!belowFloor(space, { type: "bytes", bytes: 50 }, 60)) throw new Error("unexpected");
 * ```
 */
export function belowFloor(space: FreeSpace, floor: FreeSpaceFloor, extraBytes = 0): boolean {
  return space.free - extraBytes < floorBytes(floor, space.total);
}

/**
 * Bytes in binary units with one decimal (`8.0 MiB`), plain below 1 KiB
 * (`0 B`); the same rendering as `status`.
 *
 * @param bytes A byte count.
 * @returns The rendered size.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./free_space.ts";
 * if (formatBytes(8 * 1024 * 1024) !== "8.0 MiB") throw new Error("unexpected");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = "B";
  for (const next of ["KiB", "MiB", "GiB", "TiB", "PiB"]) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/**
 * A floor in words: `1.0 GiB`, `5%`, `off`.
 *
 * @param floor The floor.
 * @returns The rendered floor.
 */
export function formatFloor(floor: FreeSpaceFloor): string {
  switch (floor.type) {
    case "off":
      return "off";
    case "bytes":
      return formatBytes(floor.bytes);
    case "percent":
      return `${floor.percent}%`;
  }
}

function badFloor(value: string, why: string): TelemetryError {
  return new TelemetryError(
    "usage",
    "bad_option",
    `invalid --min-free-space ${JSON.stringify(value)}: ${why}`,
  );
}
