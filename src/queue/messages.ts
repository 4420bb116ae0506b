/**
 * The message formats of the telemetry stage: the inbound job, the outbound
 * processing message, and the headers of retried and dead-lettered messages.
 *
 * @module
 */

import type { DownloadResult } from "../core/download.ts";
import { errorLine, TelemetryError } from "../core/errors.ts";
import { parseJobJson } from "../core/job.ts";
import { parseMatchId } from "../core/store/match_id.ts";

/** A job taken from `match.telemetry.{env}`. */
export interface Job {
  /** The validated match id. */
  matchId: string;
  /** The telemetry URL, unchecked (the download checks it against the policy). */
  url: string;
  /** The whole body, for the optional fields copied into the processing message. */
  body: Record<string, unknown>;
}

/** Why a message could not even be read as a job. */
export class MessageError extends Error {
  /** Always `permanent`: the same body fails the same way every time. */
  readonly kind = "permanent";
  /** `bad_body` (not a JSON object) or `missing_field`. */
  readonly code: "bad_body" | "missing_field";

  /**
   * @param code Machine-readable reason.
   * @param message One line for logs and the `x-error` header.
   */
  constructor(code: "bad_body" | "missing_field", message: string) {
    super(message);
    this.name = "MessageError";
    this.code = code;
  }
}

/** The kind, code and one-line text of a failure, as written to the DLQ headers. */
export interface Failure {
  /**
   * `transient`, `permanent`, `usage`, `fatal` or `store`, as the error said;
   * `redelivered` when the job was started `--max-deliveries` times and
   * never finished (its worker died during it each time).
   */
  kind: "transient" | "permanent" | "usage" | "fatal" | "store" | "redelivered";
  /** Machine-readable reason. */
  code: string;
  /** One line. */
  message: string;
}

const DEAD_LETTER_KEYS = new Set(["x-death", "x-original-queue", "x-failed-at", "x-worker-id"]);

/**
 * The most header bytes copied from an inbound message into a retry or a
 * dead letter: a quarter of the frame size the worker asks for, so that the
 * headers the worker adds (each error line at most 1,000 characters) always
 * fit in one frame with room to spare.
 */
export const MAX_COPIED_HEADER_BYTES = 32 * 1024;

/**
 * Reads a job message body (or a line `enqueue` is about to queue) with
 * {@linkcode parseJobJson}, then checks the match id.
 *
 * @param body The raw body, or the JSON as text.
 * @returns The job.
 * @throws {MessageError} When the body is not a JSON object or lacks `match_id`/`telemetry_url`.
 * @throws {TelemetryError} kind `usage` when the match id is invalid.
 *
 * @example
 * ```ts
 * import { parseJob } from "./messages.ts";
 * const job = parseJob(new TextEncoder().encode('{"match_id":"abc","telemetry_url":"https://x/y"}'));
 * if (job.matchId !== "abc") throw new Error("unexpected");
 * ```
 */
export function parseJob(body: Uint8Array | string | null): Job {
  const { job, fault } = parseJobJson(body, { requireMatchId: true });
  if (fault !== undefined) throw new MessageError(fault.code, fault.message);
  return { matchId: parseMatchId(job.matchId), url: job.url, body: job.body };
}

/**
 * The processing message announcing a stored file.
 *
 * @param job The job.
 * @param context The download result, worker id, environment, target queue and clock.
 * @returns The JSON body.
 */
export function processingBody(
  job: Job,
  context: {
    result: DownloadResult;
    workerId: string;
    environment: string;
    queue: string;
    now: Date;
  },
): string {
  const { result, workerId, environment, queue, now } = context;
  return JSON.stringify({
    match_id: job.matchId,
    file_path: result.path,
    file_size_mb: Math.round(result.bytes / 1024 / 1024 * 10_000) / 10_000,
    map_name: job.body.map_name ?? null,
    game_mode: job.body.game_mode ?? null,
    match_datetime: job.body.match_datetime ?? null,
    downloaded_at: now.toISOString(),
    worker_id: workerId,
    environment,
    queue_target: queue,
  });
}

/**
 * The deliveries a message had before this one: `x-attempts`, or 0 for a
 * message replayed from the DLQ (it carries `x-error`), which starts over.
 *
 * @param headers The message headers.
 * @returns A non-negative integer.
 */
export function previousAttempts(headers: Record<string, unknown> | undefined): number {
  if (headers === undefined || headers["x-error"] !== undefined) return 0;
  const value = Number(headers["x-attempts"] ?? 0);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/**
 * Classifies a job failure.
 *
 * @param err What the job threw.
 * @returns Kind, code and one line; unknown errors count as transient, so
 * they go through the retry queue and, if they persist, to the DLQ.
 */
export function failureOf(err: unknown): Failure {
  if (err instanceof TelemetryError || err instanceof MessageError) {
    return { kind: err.kind, code: err.code, message: errorLine(err).slice(0, 1000) };
  }
  return { kind: "transient", code: "internal", message: errorLine(err).slice(0, 1000) };
}

/**
 * Headers of a message sent to the DLQ: the original ones plus the `x-error*` set.
 *
 * @param original The inbound headers.
 * @param context The failure, delivery count, source queue, worker and clock.
 * @returns The headers.
 */
export function deadLetterHeaders(
  original: Record<string, unknown> | undefined,
  context: { failure: Failure; attempts: number; queue: string; workerId: string; now: Date },
): Record<string, unknown> {
  const { failure, attempts, queue, workerId, now } = context;
  return {
    ...copyHeaders(original, () => true),
    "x-error": failure.message,
    "x-error-kind": failure.kind,
    "x-error-code": failure.code,
    "x-attempts": attempts,
    "x-original-queue": queue,
    "x-failed-at": now.toISOString(),
    "x-worker-id": workerId,
  };
}

/**
 * Headers of a message republished to the retry queue: `x-attempts` counts
 * deliveries so far; the headers of an earlier DLQ trip and `x-death` are dropped.
 *
 * @param original The inbound headers.
 * @param context The delivery count and the failure.
 * @returns The headers.
 */
export function retryHeaders(
  original: Record<string, unknown> | undefined,
  context: { attempts: number; failure: Failure },
): Record<string, unknown> {
  const headers = copyHeaders(
    original,
    (key) => !DEAD_LETTER_KEYS.has(key) && !key.startsWith("x-error"),
  );
  headers["x-attempts"] = context.attempts;
  headers["x-last-error"] = context.failure.message;
  return headers;
}

/**
 * Copies the inbound headers that `keep` accepts, in order, up to
 * {@linkcode MAX_COPIED_HEADER_BYTES} (measured as JSON, about what they
 * take on the wire). What does not fit is left out, and
 * `x-headers-dropped` says how many were.
 */
function copyHeaders(
  original: Record<string, unknown> | undefined,
  keep: (key: string) => boolean,
): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  let bytes = 0;
  let dropped = 0;
  for (const [key, value] of Object.entries(original ?? {})) {
    if (!keep(key) || key === "x-headers-dropped") continue;
    const size = key.length + jsonSize(value);
    if (bytes + size > MAX_COPIED_HEADER_BYTES) {
      dropped++;
      continue;
    }
    bytes += size;
    headers[key] = value;
  }
  if (dropped > 0) headers["x-headers-dropped"] = dropped;
  return headers;
}

function jsonSize(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return String(value).length; // a bigint
  }
}
