/**
 * Telling a file that is neither gzip nor JSON (random bytes, a binary
 * file) from broken JSON, by its first bytes: `verify` calls the first
 * `corrupt`, and keeps `invalid_json` for text that starts like JSON.
 *
 * @module
 */

/** Bytes of a file's head that {@linkcode canStartJson} looks at. */
export const JSON_HEAD_BYTES = 64;

/** JSON whitespace: space, tab, line feed, carriage return. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** What a JSON value starts with: `[ { "`, a digit or minus, `t`rue, `f`alse, `n`ull. */
const VALUE_START = new Set(Array.from('[{"-0123456789tfn', (c) => c.charCodeAt(0)));

const BOM = [0xef, 0xbb, 0xbf];

/**
 * Whether the first bytes of a file can be the start of JSON text: after
 * optional whitespace (and a UTF-8 byte order mark) comes the first byte of
 * a JSON value, and no control byte (other than whitespace) is among the
 * first {@linkcode JSON_HEAD_BYTES} bytes, as none can be in JSON text.
 *
 * @param head The first bytes of the file (more than needed is fine).
 * @returns False when the bytes cannot start JSON text; true otherwise,
 * including when they are only whitespace or empty.
 *
 * @example
 * ```ts
 * import { canStartJson } from "./json_head.ts";
 * const text = new TextEncoder().encode('  [{"_T":"LogMatchDefinition"');
 * if (!canStartJson(text) || canStartJson(new Uint8Array([0xcd, 0x12, 0x00]))) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function canStartJson(head: Uint8Array): boolean {
  const bytes = head.subarray(0, JSON_HEAD_BYTES);
  if (bytes.some(isControl)) return false;
  let at = BOM.every((b, i) => bytes[i] === b) ? BOM.length : 0;
  while (at < bytes.length && WHITESPACE.has(bytes[at]!)) at++;
  return at === bytes.length || VALUE_START.has(bytes[at]!);
}

/**
 * The first bytes of a file in hex, for a one-line detail.
 *
 * @param head The first bytes.
 * @param count How many to show.
 * @returns e.g. `cd 5a 10 ff`.
 *
 * @example
 * ```ts
 * import { hexHead } from "./json_head.ts";
 * if (hexHead(new Uint8Array([0xcd, 0x5a, 1]), 2) !== "cd 5a") throw new Error("unexpected");
 * ```
 */
export function hexHead(head: Uint8Array, count = 8): string {
  return Array.from(head.subarray(0, count), (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function isControl(byte: number): boolean {
  return (byte < 0x20 && !WHITESPACE.has(byte)) || byte === 0x7f;
}
