/**
 * Reading the newline-delimited JSON jobs of `download --jobs` and `enqueue --jobs`.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";
import { fsErrorReason } from "../core/store/fs_error.ts";

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
 * Parses one line of a jobs file.
 *
 * @param text The line, without newline.
 * @param line Its 1-based number.
 * @returns The job, or the reason it is not one (kind `usage`, code `bad_job`).
 */
export function parseJobLine(text: string, line: number): JobLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { line, url: "", error: badJob("the job is not JSON") };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { line, url: "", error: badJob("the job is not a JSON object") };
  }
  const record = value as Record<string, unknown>;
  const url = record["telemetry_url"];
  const matchId = record["match_id"];
  if (matchId !== undefined && matchId !== null && typeof matchId !== "string") {
    return { line, url: "", error: badJob('the job\'s "match_id" is not a string') };
  }
  const known = typeof matchId === "string" ? { matchId } : {};
  if (typeof url !== "string" || url === "") {
    return { line, url: "", ...known, error: badJob('the job has no "telemetry_url"') };
  }
  return { line, url, ...known };
}

/**
 * Streams the jobs of a file (or stdin for `-`), one line at a time, skipping blank lines.
 *
 * @param source A path, or `-` for stdin.
 * @returns The jobs, lazily.
 */
export async function* readJobs(source: string): AsyncGenerator<JobLine> {
  for await (const { line, text } of await openJobLines(source)) yield parseJobLine(text, line);
}

/** One non-blank line of a jobs file, as text. */
export interface SourceLine {
  /** 1-based line number (blank lines count). */
  line: number;
  /** The line, without its newline. */
  text: string;
}

/** The lines of an open jobs file: iterate once; {@linkcode JobLines.close} when stopping early. */
export interface JobLines extends AsyncIterable<SourceLine> {
  /** Closes the file, whether the lines were read or not. */
  close(): Promise<void>;
}

/**
 * Opens a jobs file (or stdin for `-`) now, so an unreadable file is an
 * error before any work starts, and streams its non-blank lines as text
 * (`enqueue` validates each one as the queue worker will).
 *
 * @param source A path, or `-` for stdin.
 * @returns The lines, lazily.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, when the file cannot be opened.
 *
 * @example
 * ```ts ignore
 * import { openJobLines } from "./jobs_file.ts";
 * const lines = await openJobLines("jobs.ndjson");
 * for await (const { line, text } of lines) console.log(line, text);
 * ```
 */
export async function openJobLines(source: string): Promise<JobLines> {
  const input = source === "-" ? Deno.stdin.readable : (await openJobs(source)).readable;
  // One reader, held here: close() cancels it even while a read waits
  // (a pipe that sends nothing more), which ends the lines and the file.
  const reader = input.pipeThrough(new TextDecoderStream()).pipeThrough(new LineStream())
    .getReader();
  const lines = nonBlankLines(reader);
  return {
    [Symbol.asyncIterator]: () => lines,
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}

async function* nonBlankLines(
  reader: ReadableStreamDefaultReader<string>,
): AsyncGenerator<SourceLine> {
  let number = 0;
  try {
    for (;;) {
      const { value: text, done } = await reader.read();
      if (done) return;
      number++;
      if (text.trim() === "") continue;
      yield { line: number, text };
    }
  } finally {
    // Stopped early (the caller broke out of its loop): close the file.
    await reader.cancel().catch(() => {});
  }
}

async function openJobs(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true });
  } catch (err) {
    const reason = fsErrorReason(err);
    throw new TelemetryError("usage", "bad_option", `cannot read --jobs ${path}: ${reason}`);
  }
}

/** Splits text into lines (`\n` or `\r\n`). */
class LineStream extends TransformStream<string, string> {
  constructor() {
    let rest = "";
    super({
      transform(chunk, controller) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        for (const part of parts) controller.enqueue(part.replace(/\r$/, ""));
      },
      flush(controller) {
        if (rest !== "") controller.enqueue(rest.replace(/\r$/, ""));
      },
    });
  }
}

function badJob(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_job", message);
}
