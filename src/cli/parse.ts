/**
 * Parsers for flag values; they throw commander's `InvalidArgumentError`, so
 * a bad value becomes a one-line usage error (exit 2).
 *
 * @module
 */

import { InvalidArgumentError } from "commander";
import { errorLine } from "../core/errors.ts";
import { parseAllowedHost } from "../core/http/url_policy.ts";
import { SIZE_UNITS } from "../core/size_units.ts";

/**
 * Parses a byte size: `1073741824`, `512MiB`, `1G` (K, M, G, T alone are
 * binary; the units of `SIZE_UNITS` in `src/core/size_units.ts`).
 *
 * @param value The flag value.
 * @returns Bytes, a positive integer.
 * @throws {InvalidArgumentError} When it is not a positive size.
 */
export function parseSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) {
    throw new InvalidArgumentError(`expected a size such as 1073741824, 512MiB or 1G`);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < 1) throw new InvalidArgumentError("expected a size of at least 1 byte");
  return bytes;
}

/**
 * Parses a positive integer.
 *
 * @param value The flag value.
 * @returns The integer.
 * @throws {InvalidArgumentError} When it is not a positive integer.
 */
export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new InvalidArgumentError("expected a positive integer");
  }
  return Number(value);
}

/**
 * Parses a non-negative integer (0 allowed).
 *
 * @param value The flag value.
 * @returns The integer.
 * @throws {InvalidArgumentError} When it is not a whole number of 0 or more.
 */
export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError("expected a whole number, 0 or more");
  }
  return Number(value);
}

/**
 * Parses a non-negative number of seconds (fractions allowed).
 *
 * @param value The flag value.
 * @returns Seconds.
 * @throws {InvalidArgumentError} When it is not a number of seconds.
 */
export function parseSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value.trim())) {
    throw new InvalidArgumentError("expected a number of seconds such as 30 or 0.5");
  }
  return Number(value);
}

/**
 * Parses a TCP port (0 lets the system choose one).
 *
 * @param value The flag value.
 * @returns The port.
 * @throws {InvalidArgumentError} When it is not a number from 0 to 65535.
 */
export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) {
    throw new InvalidArgumentError("expected a port number from 0 to 65535");
  }
  return Number(value);
}

/**
 * Collects a repeatable, comma-separable list flag (`--allow-host a --allow-host b,c`).
 *
 * @param value This occurrence's value.
 * @param previous The values so far.
 * @returns The values so far plus this one's.
 */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return [...(previous ?? []), ...items];
}

/**
 * Collects `--allow-host` values (repeatable, comma-separated), each checked
 * to be `host` or `host:port`; an empty item is refused too.
 *
 * @param value This occurrence's value.
 * @param previous The hosts so far.
 * @returns The hosts so far plus this one's, normalized.
 * @throws {InvalidArgumentError} When an item is not `host` or `host:port`.
 */
export function collectHosts(value: string, previous: string[] | undefined): string[] {
  const hosts = value.split(",").map((item) => {
    try {
      return parseAllowedHost(item);
    } catch (err) {
      throw new InvalidArgumentError(errorLine(err));
    }
  });
  return [...(previous ?? []), ...hosts];
}
