/**
 * Helpers shared by the test modules: error assertions and temp directories.
 *
 * @module
 */

import assert from "node:assert/strict";
import { TelemetryError } from "../../src/core/errors.ts";
import { denoFileSystem, type FileSystem } from "../../src/core/store/file_system.ts";

/**
 * Expects a promise to reject with a one-line TelemetryError of the given kind and code.
 *
 * @param promise The operation.
 * @param kind The expected kind.
 * @param code The expected code, or a list of accepted codes.
 * @returns The error, for further checks.
 */
export async function expectTelemetryError(
  promise: Promise<unknown>,
  kind: TelemetryError["kind"],
  code: TelemetryError["code"] | TelemetryError["code"][],
): Promise<TelemetryError> {
  let caught: unknown;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof TelemetryError, `expected a TelemetryError, got ${caught}`);
  assert.equal(caught.kind, kind, caught.message);
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(caught.code), `code ${caught.code} not in ${codes}: ${caught.message}`);
  assert.ok(!caught.message.includes("\n"), "error message is one line");
  return caught;
}

/**
 * Runs `fn` with a fresh temp directory, removed afterwards.
 *
 * @param fn The test body.
 * @returns What `fn` returned, once the directory is removed.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "telemetry-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Whether a path exists.
 *
 * @param path The path.
 * @returns False when it is not there; other errors are thrown.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Whether a path exists, synchronously; a path that cannot be looked up counts as missing.
 *
 * @param path The path.
 * @returns True when `Deno.statSync` finds it.
 */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The real file system, except that each call of `method` first records its
 * directory in `paths`.
 *
 * @param method The method to watch.
 * @param paths Receives the directory of each call, in order.
 * @returns The file system.
 */
export function recordingFs(
  method: "syncDir" | "removeOrphanedTemps",
  paths: string[],
): FileSystem {
  return {
    ...denoFileSystem,
    [method]: (path: string) => {
      paths.push(path);
      return denoFileSystem[method](path);
    },
  };
}
