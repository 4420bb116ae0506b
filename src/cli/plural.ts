/**
 * Counts in the words of the CLI's output: `1 file`, `2 files`.
 *
 * @module
 */

/**
 * A count and its noun, singular for exactly 1.
 *
 * @param count The count.
 * @param singular The noun for one (`file`, `temp file`).
 * @param pluralForm The noun for any other count. @default {`${singular}s`}
 * @returns `"<count> <noun>"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plural } from "./plural.ts";
 * assert.equal(plural(1, "problem"), "1 problem");
 * assert.equal(plural(0, "problem"), "0 problems");
 * assert.equal(plural(2, "match", "matches"), "2 matches");
 * ```
 */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
