/**
 * Start marks: the record a worker leaves in a match's directory when it
 * starts a job, so that every worker sharing the store can tell how often a
 * job was started and never finished (its worker died: `kill -9`, out of
 * memory, a crash).
 *
 * One file per start, `matchID=<id>/.start.<random>`, written and fsynced
 * before the download starts. The worker removes its own mark when the job
 * ends in any way it controls (stored, failed, given back on a stop or a lost
 * connection), and every mark of the match once the job's delivery is
 * settled (its count then travels in the message, or the job is done). So a
 * mark that is left over is a start whose worker died. One file per start
 * (instead of a counter) means two workers never overwrite each other's
 * record.
 *
 * A power loss may forget a start (the directory is not fsynced after the
 * mark is created); nothing ever counts a start that did not happen.
 *
 * @module
 */

import { join } from "node:path";
import { denoFileSystem, writeFully } from "./file_system.ts";
import { matchDir } from "./storage.ts";

const { removeIfExists } = denoFileSystem;

/** The name prefix of a start mark. */
export const START_MARK_PREFIX = ".start.";

/** What a start mark holds: who started the job, and when. */
export interface StartRecord {
  /** The worker's id (`--worker-id`). */
  worker: string;
  /** When the start was recorded (ISO 8601). */
  startedAt: string;
}

/** A start this process recorded: end it with {@linkcode endStart}. */
export interface StartMark {
  /** The mark's path. */
  path: string;
  /** The match directory. */
  dir: string;
  /** Whether recording the start created the match directory. */
  createdDir: boolean;
}

/**
 * Whether a file name is a start mark.
 *
 * @param name A file name (not a path).
 * @returns True for `.start.<random>`.
 */
export function isStartMarkName(name: string): boolean {
  return name.startsWith(START_MARK_PREFIX) && name.length > START_MARK_PREFIX.length;
}

/**
 * How many starts of a match's job are recorded and not finished.
 *
 * @param dataDir The data dir.
 * @param matchId The job's match id (validated).
 * @returns The number of start marks in its directory (0 when there is none).
 * @throws The file system's error when the directory cannot be read.
 */
export async function countStarts(dataDir: string, matchId: string): Promise<number> {
  let count = 0;
  try {
    for await (const entry of Deno.readDir(matchDir(dataDir, matchId))) {
      if (entry.isFile && isStartMarkName(entry.name)) count++;
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  return count;
}

/**
 * Records a start: creates the match directory if needed, then a new mark,
 * written and fsynced.
 *
 * @param dataDir The data dir.
 * @param matchId The job's match id (validated).
 * @param record Who starts the job, and when.
 * @returns The mark, to end with {@linkcode endStart} when the job ends.
 * @throws The file system's error (a full disk, say); then no mark is left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countStarts, endStart, markStart } from "./start_marks.ts";
 * const dataDir = await Deno.makeTempDir();
 * const mark = await markStart(dataDir, "abc", { worker: "w-1", startedAt: "2026-01-01T00:00:00Z" });
 * assert.equal(await countStarts(dataDir, "abc"), 1);
 * await endStart(mark, { settled: false });
 * assert.equal(await countStarts(dataDir, "abc"), 0);
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 */
export async function markStart(
  dataDir: string,
  matchId: string,
  record: StartRecord,
): Promise<StartMark> {
  const dir = matchDir(dataDir, matchId);
  const createdDir = await makeDir(dir);
  const random = crypto.getRandomValues(new Uint8Array(6));
  const name = START_MARK_PREFIX +
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  const path = join(dir, name);
  const bytes = new TextEncoder().encode(JSON.stringify(record) + "\n");
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
    try {
      await writeFully(file, bytes);
      await file.sync();
    } finally {
      file.close();
    }
  } catch (err) {
    await removeIfExists(path);
    if (createdDir) await Deno.remove(dir).catch(() => {});
    throw err;
  }
  return { path, dir, createdDir };
}

/**
 * Ends a start this process recorded. `settled: false` (the job ended in a
 * way its worker controlled but the delivery goes back to the queue: a stop,
 * a lost connection): only this mark goes. `settled: true` (the delivery is
 * acked: its count now travels in the message, or the job is done): every
 * mark of the match goes. Then the match directory goes too when recording
 * the start created it and it is empty (nothing was stored).
 *
 * @param mark The mark from {@linkcode markStart}.
 * @param options Whether the delivery was settled.
 * @returns How many marks were removed.
 * @throws The file system's error when the directory cannot be read.
 */
export async function endStart(mark: StartMark, options: { settled: boolean }): Promise<number> {
  let removed = 1;
  if (options.settled) removed = await removeMarks(mark.dir);
  else await removeIfExists(mark.path);
  if (mark.createdDir) await Deno.remove(mark.dir).catch(() => {}); // not empty: keep it
  return removed;
}

/**
 * Removes every start mark of a match whose delivery was settled without a
 * start of this process (a job dead-lettered for the starts that never
 * finished).
 *
 * @param dataDir The data dir.
 * @param matchId The job's match id (validated).
 * @returns How many marks were removed.
 * @throws The file system's error when the directory cannot be read.
 */
export async function clearStarts(dataDir: string, matchId: string): Promise<number> {
  return await removeMarks(matchDir(dataDir, matchId));
}

async function removeMarks(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!isStartMarkName(entry.name)) continue;
      await removeIfExists(join(dir, entry.name));
      removed++;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

async function makeDir(dir: string): Promise<boolean> {
  try {
    await Deno.mkdir(dir);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.mkdir(dir, { recursive: true }); // the data dir itself is missing
  return true;
}
