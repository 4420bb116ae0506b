/**
 * The duration flags of the operator commands (`--older-than 2h`,
 * `--newer-than 30m`): a number and a unit, parsed to milliseconds.
 *
 * @module
 */

import { InvalidArgumentError } from "commander";

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `45s`, `30m`, `2h`, `7d` or `1w` (fractions
 * allowed: `1.5h`).
 *
 * @param value The flag value.
 * @returns Milliseconds, a positive integer.
 * @throws {InvalidArgumentError} When it is not a positive number followed by s, m, h, d or w.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * if (parseDuration("2h") !== 7_200_000) throw new Error("unexpected");
 * ```
 */
export function parseDuration(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/i.exec(value);
  const unit = UNIT_MS[(match?.[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) {
    throw new InvalidArgumentError("expected a duration such as 45s, 30m, 2h, 7d or 1w");
  }
  const ms = Math.round(Number(match[1]) * unit);
  if (ms < 1) throw new InvalidArgumentError("expected a duration longer than 0");
  return ms;
}
