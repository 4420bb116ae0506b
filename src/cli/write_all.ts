/**
 * Writes a whole buffer to a synchronous writer such as `Deno.stdout` or
 * `Deno.stderr`, which may take fewer bytes than asked for per call.
 *
 * @module
 */

/** Anything with a synchronous `writeSync`, like `Deno.stdout` and `Deno.stderr`. */
export interface SyncWriter {
  /** Writes some of `p` and returns how many bytes it took. */
  writeSync(p: Uint8Array): number;
}

const encoder = new TextEncoder();

/**
 * Writes all of `data` to `target`, looping on partial writes. Text is
 * written as UTF-8.
 *
 * @param target Where to write, e.g. `Deno.stderr`.
 * @param data The bytes, or text to encode as UTF-8.
 * @throws {Deno.errors.WriteZero} When `target` takes no bytes at all.
 *
 * @example Write through a writer that takes two bytes per call
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAllSync } from "./write_all.ts";
 * const chunks: string[] = [];
 * const decoder = new TextDecoder();
 * const target = {
 *   writeSync(p: Uint8Array): number {
 *     chunks.push(decoder.decode(p.subarray(0, 2)));
 *     return Math.min(2, p.length);
 *   },
 * };
 * writeAllSync(target, "done\n"); // in the CLI: writeAllSync(Deno.stderr, line)
 * assert.deepEqual(chunks, ["do", "ne", "\n"]);
 * ```
 */
export function writeAllSync(target: SyncWriter, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let offset = 0;
  while (offset < bytes.length) {
    const written = target.writeSync(bytes.subarray(offset));
    if (written <= 0) throw new Deno.errors.WriteZero("Cannot write: the target took 0 bytes");
    offset += written;
  }
}
