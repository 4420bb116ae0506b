/**
 * Reading the newline-delimited JSON jobs of `download --jobs` and `enqueue --jobs`:
 * one line reader for both, linear in the size of the file, with a cap on
 * the length of a line.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";
import { parseJobJson } from "../core/job.ts";
import { fsErrorReason } from "../core/store/fs_error.ts";

/**
 * The longest line a jobs file may have, in bytes (newline excluded): a job
 * is a few hundred bytes, so a longer line is not one (a telemetry file
 * given as `--jobs`, say), and is refused without being held in memory.
 */
export const MAX_JOB_LINE_BYTES = 1024 * 1024;

/** One line of a jobs file: a job, or why the line is not one. */
export interface JobLine {
  /** 1-based line number. */
  line: number;
  /** `telemetry_url` of the line ("" when missing). */
  url: string;
  /** `match_id` of the line, when present. */
  matchId?: string;
  /** Set when the line is not a valid job. */
  error?: TelemetryError;
}

/**
 * Parses one line of a jobs file with {@linkcode parseJobJson} (`match_id`
 * optional: `download` can read it from the content).
 *
 * @param text The line, without newline.
 * @param line Its 1-based number.
 * @returns The job, or the reason it is not one (kind `usage`, code `bad_job`).
 */
export function parseJobLine(text: string, line: number): JobLine {
  const { job, fault } = parseJobJson(text, { requireMatchId: false });
  const { matchId } = job ?? fault;
  const known = matchId === undefined ? {} : { matchId };
  if (fault !== undefined) return { line, url: "", ...known, error: badJob(fault.message) };
  return { line, url: job.url, ...known };
}

/**
 * Streams the jobs of a file (or stdin for `-`), one line at a time, skipping blank lines.
 *
 * @param source A path, or `-` for stdin.
 * @returns The jobs, lazily; a line longer than {@linkcode MAX_JOB_LINE_BYTES}
 * is a job with an `error` (code `bad_job`).
 */
export async function* readJobs(source: string): AsyncGenerator<JobLine> {
  for await (const { line, text, error } of await openJobLines(source)) {
    yield error === undefined ? parseJobLine(text, line) : { line, url: "", error };
  }
}

/** One non-blank line of a jobs file, as text. */
export interface SourceLine {
  /** 1-based line number (blank lines count). */
  line: number;
  /** The line, without its newline and a leading byte order mark; "" when `error` is set. */
  text: string;
  /**
   * Set when the line was refused unread: longer than the limit (kind
   * `usage`, code `bad_job`, the message names the limit).
   */
  error?: TelemetryError | undefined;
}

/** The lines of an open jobs file: iterate once; {@linkcode JobLines.close} when stopping early. */
export interface JobLines extends AsyncIterable<SourceLine> {
  /** Closes the file, whether the lines were read or not. */
  close(): Promise<void>;
}

/** Options of {@linkcode openJobLines}. */
export interface JobLinesOptions {
  /** The longest line, in bytes, newline excluded. @default {MAX_JOB_LINE_BYTES} */
  maxLineBytes?: number;
}

/**
 * Opens a jobs file (or stdin for `-`) now, so an unreadable file is an
 * error before any work starts, and streams its non-blank lines as text
 * (`enqueue` validates each one as the queue worker will). Lines end in
 * `\n` or `\r\n`; a byte order mark at the start of a line (the file's
 * first, or that of a file appended to another) is dropped; a line longer
 * than `maxLineBytes` comes with an `error` instead of its text, and its
 * bytes are skipped, never held. Time and memory are linear in the file's
 * size, whatever the length of its lines.
 *
 * @param source A path, or `-` for stdin.
 * @param options The line length limit.
 * @returns The lines, lazily.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when the file
 * cannot be opened or is a directory.
 *
 * @example
 * ```ts ignore
 * import { openJobLines } from "./jobs_file.ts";
 * const lines = await openJobLines("jobs.ndjson");
 * for await (const { line, text, error } of lines) console.log(line, error?.message ?? text);
 * ```
 */
export async function openJobLines(
  source: string,
  options: JobLinesOptions = {},
): Promise<JobLines> {
  const { maxLineBytes = MAX_JOB_LINE_BYTES } = options;
  const input = source === "-" ? Deno.stdin.readable : (await openJobs(source)).readable;
  // One reader, held here: close() cancels it even while a read waits
  // (a pipe that sends nothing more), which ends the lines and the file.
  const reader = input.pipeThrough(new JobLineStream(maxLineBytes)).getReader();
  const lines = readLines(reader);
  return {
    [Symbol.asyncIterator]: () => lines,
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}

async function* readLines(
  reader: ReadableStreamDefaultReader<SourceLine>,
): AsyncGenerator<SourceLine> {
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stopped early (the caller broke out of its loop): close the file.
    await reader.cancel().catch(() => {});
  }
}

async function openJobs(path: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    if (!(await file.stat()).isDirectory) return file;
  } catch (err) {
    file?.close();
    throw usage(`cannot read --jobs ${path}: ${fsErrorReason(err)}`);
  }
  file.close();
  throw usage(`--jobs ${path} is a directory, not a file of jobs`);
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits bytes into the non-blank lines of a jobs file, numbered. Each
 * chunk is scanned once for newlines; the part of a line that spans chunks
 * is kept as a list of pieces and joined once, at its end, so a line costs
 * time in proportion to its length. A line beyond the limit is reported as
 * soon as it is, and the rest of it skipped.
 */
class JobLineStream extends TransformStream<Uint8Array, SourceLine> {
  /** The pieces of the line read so far (it started in an earlier chunk). */
  #pieces: Uint8Array[] = [];
  /** Their total length. */
  #size = 0;
  /** The number of the line being read. */
  #line = 1;
  /** The line being read was refused: drop its bytes up to its newline. */
  #skipping = false;
  // Not streaming: each decode starts afresh, and drops a BOM at the line's start.
  readonly #decoder = new TextDecoder();
  readonly #maxLineBytes: number;

  /** @param maxLineBytes The longest line, in bytes, newline excluded. */
  constructor(maxLineBytes: number) {
    super({
      transform: (chunk, controller) => this.#transform(chunk, controller),
      flush: (controller) => this.#end(controller),
    });
    this.#maxLineBytes = maxLineBytes;
  }

  #transform(chunk: Uint8Array, controller: TransformStreamDefaultController<SourceLine>): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      const stop = newline === -1 ? chunk.length : newline;
      if (!this.#skipping) {
        if (this.#size + stop - start > this.#maxLineBytes + 1) {
          // Longer than the limit even if its last byte is the CR of a CRLF.
          this.#refuse(controller);
        } else if (newline === -1) {
          // The line goes on in the next chunk: keep a copy of its start.
          if (stop > start) this.#keep(chunk.slice(start, stop));
        } else if (this.#size === 0) {
          this.#emit(chunk.subarray(start, stop), controller);
        } else {
          this.#keep(chunk.subarray(start, stop));
          this.#emit(this.#joined(), controller);
        }
      }
      if (newline === -1) return;
      this.#next();
      start = newline + 1;
    }
  }

  #end(controller: TransformStreamDefaultController<SourceLine>): void {
    if (!this.#skipping && this.#size > 0) this.#emit(this.#joined(), controller);
  }

  #keep(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.#size += piece.length;
  }

  #joined(): Uint8Array {
    if (this.#pieces.length === 1) return this.#pieces[0]!;
    const bytes = new Uint8Array(this.#size);
    let at = 0;
    for (const piece of this.#pieces) {
      bytes.set(piece, at);
      at += piece.length;
    }
    return bytes;
  }

  /** Starts the next line. */
  #next(): void {
    this.#pieces = [];
    this.#size = 0;
    this.#skipping = false;
    this.#line++;
  }

  #emit(bytes: Uint8Array, controller: TransformStreamDefaultController<SourceLine>): void {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR
      ? bytes.length - 1
      : bytes.length;
    if (end > this.#maxLineBytes) {
      this.#refuse(controller);
      return;
    }
    const text = this.#decoder.decode(bytes.subarray(0, end));
    if (text.trim() !== "") controller.enqueue({ line: this.#line, text });
  }

  #refuse(controller: TransformStreamDefaultController<SourceLine>): void {
    controller.enqueue({
      line: this.#line,
      text: "",
      error: new TelemetryError(
        "usage",
        "bad_job",
        `the line is longer than ${this.#maxLineBytes} bytes, the limit of a job line ` +
          `(a job is a few hundred bytes: is this a jobs file?)`,
      ),
    });
    this.#pieces = [];
    this.#size = 0;
    this.#skipping = true;
  }
}

function badJob(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_job", message);
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
