/**
 * Reading the newline-delimited JSON jobs of `download --jobs`.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";

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
 * @returns The job, or the reason it is not one.
 */
export function parseJobLine(text: string, line: number): JobLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { line, url: "", error: usage(`line ${line}: not JSON`) };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { line, url: "", error: usage(`line ${line}: expected a JSON object`) };
  }
  const record = value as Record<string, unknown>;
  const url = record["telemetry_url"];
  const matchId = record["match_id"];
  if (typeof url !== "string" || url === "") {
    return { line, url: "", error: usage(`line ${line}: missing "telemetry_url"`) };
  }
  if (matchId !== undefined && matchId !== null && typeof matchId !== "string") {
    return { line, url, error: usage(`line ${line}: "match_id" must be a string`) };
  }
  return typeof matchId === "string" ? { line, url, matchId } : { line, url };
}

/**
 * Streams the jobs of a file (or stdin for `-`), one line at a time, skipping blank lines.
 *
 * @param source A path, or `-` for stdin.
 * @returns The jobs, lazily.
 */
export async function* readJobs(source: string): AsyncGenerator<JobLine> {
  const input = source === "-" ? Deno.stdin.readable : (await openJobs(source)).readable;
  const lines = input.pipeThrough(new TextDecoderStream()).pipeThrough(new LineStream());
  let number = 0;
  for await (const text of lines) {
    number++;
    if (text.trim() === "") continue;
    yield parseJobLine(text, number);
  }
}

async function openJobs(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
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

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
