/**
 * Byte helpers for the tests and the benchmarks.
 *
 * @module
 */

/**
 * The parts, one after the other, in a new array.
 *
 * @param parts Byte arrays.
 * @returns Their concatenation.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * const all = concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]));
 * if (all.join() !== "1,2,3") throw new Error("unexpected");
 * ```
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
