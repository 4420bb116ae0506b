/**
 * Keeping memory flat while streaming.
 *
 * Every chunk of a stream is a fresh `Uint8Array` whose bytes live outside
 * the JavaScript heap. V8 collects them only when the external memory has
 * grown by tens of megabytes, so a 400 MB download would otherwise sit at
 * 150+ MB of RSS holding dead chunks. A minor GC (a scavenge of the young
 * generation, about a millisecond) frees them; the binary runs with
 * `--v8-flags=--expose-gc` (scripts/permissions.ts) so the core can ask for
 * one every few megabytes. Without the flag this does nothing.
 *
 * @module
 */

/** Content bytes between two collections. */
export const RELEASE_EVERY_BYTES = 4 * 1024 * 1024;

type GcFunction = (options?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

/**
 * Frees dead stream chunks now, when the runtime allows it.
 *
 * @returns True when a collection ran.
 */
export function releaseDeadChunks(): boolean {
  const gc = (globalThis as { gc?: GcFunction }).gc;
  if (gc === undefined) return false;
  gc({ type: "minor" });
  return true;
}

/**
 * A byte counter that calls {@linkcode releaseDeadChunks} every
 * {@linkcode RELEASE_EVERY_BYTES} bytes.
 *
 * @returns A function to call with each chunk's length.
 */
export function createReleaser(): (bytes: number) => void {
  let sinceLast = 0;
  return function count(bytes: number) {
    sinceLast += bytes;
    if (sinceLast >= RELEASE_EVERY_BYTES) {
      sinceLast = 0;
      releaseDeadChunks();
    }
  };
}
