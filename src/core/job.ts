/**
 * The one parser of a download job, `{"match_id": …, "telemetry_url": …}`,
 * wherever it comes from: a queue message (`consume`), a line of a jobs
 * file (`download --jobs`, `enqueue`). It says what is wrong in the same
 * words for all of them; each caller maps the fault to its own error
 * (a dead letter, a refused line).
 *
 * @module
 */

/** A job's fields; its object is kept whole for the optional fields (`map_name`, …). */
export interface JobFields {
  /** `match_id`, unchecked beyond being a non-empty string; absent when optional and not given. */
  matchId?: string;
  /** `telemetry_url`, a non-empty string, unchecked (the URL policy checks it). */
  url: string;
  /** The whole object. */
  body: Record<string, unknown>;
}

/** Why a text is not a job. */
export interface JobFault {
  /** `bad_body`: not JSON, or not a JSON object; `missing_field`: a field is absent, not a string or empty. */
  code: "bad_body" | "missing_field";
  /** One line, the same whichever caller parsed the job. */
  message: string;
  /** The job's `match_id`, when it had a non-empty string one. */
  matchId?: string;
}

/** A job, or why the text is not one. */
export type ParsedJob =
  | { job: JobFields; fault?: undefined }
  | { job?: undefined; fault: JobFault };

/** Options of {@linkcode parseJobJson}. */
export interface ParseJobOptions {
  /** Whether `match_id` must be given (a queue message) or may be left out (a line of `download --jobs`). @default {true} */
  requireMatchId?: boolean;
}

const decoder = new TextDecoder();

/**
 * Parses a job: a JSON object with a non-empty string `telemetry_url` and
 * a non-empty string `match_id` (which may be absent, or null, when not
 * required).
 *
 * @param input The JSON, as bytes (a message body; null is an empty one) or text (a line).
 * @param options Whether `match_id` is required.
 * @returns The job's fields, or the fault.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJobJson } from "./job.ts";
 * const { job } = parseJobJson('{"match_id":"abc","telemetry_url":"https://h/x"}');
 * assert.equal(job?.url, "https://h/x");
 * const { fault } = parseJobJson('{"telemetry_url":"https://h/x"}');
 * assert.deepEqual(fault, { code: "missing_field", message: 'the job has no "match_id"' });
 * assert.equal(parseJobJson('{"telemetry_url":"https://h/x"}', { requireMatchId: false }).fault, undefined);
 * ```
 */
export function parseJobJson(
  input: Uint8Array | string | null,
  options: ParseJobOptions = {},
): ParsedJob {
  const { requireMatchId = true } = options;
  let value: unknown;
  try {
    value = JSON.parse(typeof input === "string" ? input : decoder.decode(input ?? undefined));
  } catch {
    return { fault: { code: "bad_body", message: "the job is not valid JSON" } };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { fault: { code: "bad_body", message: "the job is not a JSON object" } };
  }
  const body = value as Record<string, unknown>;
  const matchId = body["match_id"];
  const given = matchId !== undefined && matchId !== null;
  const matchFault = given || requireMatchId ? fieldFault("match_id", matchId) : undefined;
  if (matchFault !== undefined) return { fault: { code: "missing_field", message: matchFault } };
  const known = typeof matchId === "string" ? { matchId } : {};
  const urlFault = fieldFault("telemetry_url", body["telemetry_url"]);
  if (urlFault !== undefined) {
    return { fault: { code: "missing_field", message: urlFault, ...known } };
  }
  return { job: { ...known, url: body["telemetry_url"] as string, body } };
}

/** What is wrong with a field that must be a non-empty string, or undefined when nothing is. */
function fieldFault(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return `the job has no "${name}"`;
  if (typeof value !== "string") return `the job's "${name}" is not a string`;
  if (value === "") return `the job's "${name}" is empty`;
  return undefined;
}
