/**
 * The units a size may be written in, for every flag that takes one
 * (`--max-bytes`, `--min-free-space`): bytes (none, or `B`), decimal
 * (`KB`, `MB`, `GB`, `TB`) and binary (`KiB`, `MiB`, `GiB`, `TiB`), with
 * `K`, `M`, `G`, `T` alone binary. Keys are lower case.
 *
 * @example
 * ```ts
 * import { SIZE_UNITS } from "./size_units.ts";
 * if (SIZE_UNITS["g"] !== 1024 ** 3 || SIZE_UNITS["gb"] !== 1000 ** 3) throw new Error("unexpected");
 * ```
 *
 * @module
 */

/** Bytes per unit, by the unit in lower case (`""` and `b` are bytes). */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};
