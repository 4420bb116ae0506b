/**
 * A dead letter as an operator sees it: what the worker wrote into its
 * headers when it gave up (`x-error`, `x-error-kind`, `x-attempts`,
 * `x-failed-at`, `x-worker-id`, `x-original-queue`; see `deadLetterHeaders`
 * in `messages.ts`), the filters of the `dlq` commands, and the NDJSON
 * record of `dlq export`.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";
import type { Failure } from "./messages.ts";

/** The values of `x-error-kind` the worker writes. */
export const DEAD_LETTER_KINDS = ["permanent", "usage", "transient", "redelivered"] as const;

/** One of {@linkcode DEAD_LETTER_KINDS}. */
export type DeadLetterKind = typeof DEAD_LETTER_KINDS[number];

/**
 * Every failure kind the worker can write is listed above (fails to compile
 * otherwise). A `fatal` failure stops the worker and leaves the job in its
 * queue, a `store` failure pauses it and puts the job back: neither is
 * ever dead-lettered.
 */
const everyKindListed: Exclude<Failure["kind"], "fatal" | "store"> extends DeadLetterKind ? true
  : never = true;
void everyKindListed;

/** The parts of a delivery a dead letter is read from (a subset of amqp-client's `AMQPMessage`). */
export interface DeadLetterMessage {
  /** The raw body. */
  body: Uint8Array | null;
  /** The message properties, with the headers. */
  properties: { headers?: Record<string, unknown> | undefined; [key: string]: unknown };
}

/** What the worker recorded about one failed job. `null` where a header or field is missing. */
export interface DeadLetterInfo {
  /** `match_id` of the JSON body. */
  matchId: string | null;
  /** `x-error-kind`. */
  kind: string | null;
  /** `x-error-code`. */
  code: string | null;
  /** `x-error`: one line. */
  error: string | null;
  /** `x-attempts`: deliveries before it was dead-lettered. */
  attempts: number | null;
  /** `x-failed-at`, as written (ISO 8601). */
  failedAt: string | null;
  /** `x-worker-id`. */
  worker: string | null;
  /** `x-original-queue`. */
  originalQueue: string | null;
}

/** Which dead letters a `dlq` command acts on; an absent field does not filter. */
export interface DeadLetterFilter {
  /** `x-error-kind` is one of these. */
  kinds?: readonly string[] | undefined;
  /** The body's `match_id` is one of these. */
  matchIds?: readonly string[] | undefined;
  /** `x-error` contains this text (case-insensitive). */
  errorContains?: string | undefined;
  /** Failed at least this many milliseconds ago (`x-failed-at`). */
  olderThanMs?: number | undefined;
  /** Failed less than this many milliseconds ago (`x-failed-at`). */
  newerThanMs?: number | undefined;
}

const decoder = new TextDecoder();

/**
 * Reads what the worker recorded about a dead letter.
 *
 * @param message The delivery.
 * @returns Its match id and `x-*` headers; a body that is not a JSON object gives `matchId: null`.
 *
 * @example
 * ```ts
 * import { describeDeadLetter } from "./dead_letter.ts";
 * const info = describeDeadLetter({
 *   body: new TextEncoder().encode('{"match_id":"abc"}'),
 *   properties: { headers: { "x-error-kind": "permanent", "x-attempts": 1 } },
 * });
 * if (info.matchId !== "abc" || info.kind !== "permanent") throw new Error("unexpected");
 * ```
 */
export function describeDeadLetter(message: DeadLetterMessage): DeadLetterInfo {
  const headers = message.properties.headers ?? {};
  const attempts = Number(headers["x-attempts"]);
  return {
    matchId: matchIdOf(message.body),
    kind: text(headers["x-error-kind"]),
    code: text(headers["x-error-code"]),
    error: text(headers["x-error"]),
    attempts: headers["x-attempts"] === undefined || !Number.isFinite(attempts) ? null : attempts,
    failedAt: text(headers["x-failed-at"]),
    worker: text(headers["x-worker-id"]),
    originalQueue: text(headers["x-original-queue"]),
  };
}

/**
 * Whether a dead letter passes every filter given. A time filter never
 * matches a dead letter whose `x-failed-at` is missing or unreadable.
 *
 * @param info The dead letter.
 * @param filter The filters.
 * @param now The current time.
 * @returns Whether the command acts on it.
 *
 * @example
 * ```ts
 * import { matchesFilter } from "./dead_letter.ts";
 * const info = {
 *   matchId: "abc", kind: "transient", code: "http_status", error: "HTTP 503", attempts: 5,
 *   failedAt: "2026-01-01T00:00:00.000Z", worker: "w", originalQueue: "match.telemetry.prod",
 * };
 * const now = new Date("2026-01-02T00:00:00.000Z");
 * if (!matchesFilter(info, { kinds: ["transient"], olderThanMs: 3_600_000 }, now)) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function matchesFilter(info: DeadLetterInfo, filter: DeadLetterFilter, now: Date): boolean {
  const { kinds, matchIds, errorContains, olderThanMs, newerThanMs } = filter;
  if (kinds !== undefined && kinds.length > 0 && !kinds.includes(info.kind ?? "")) return false;
  if (matchIds !== undefined && matchIds.length > 0 && !matchIds.includes(info.matchId ?? "")) {
    return false;
  }
  if (
    errorContains !== undefined && errorContains !== "" &&
    !(info.error ?? "").toLowerCase().includes(errorContains.toLowerCase())
  ) {
    return false;
  }
  if (olderThanMs !== undefined || newerThanMs !== undefined) {
    const failedAt = info.failedAt === null ? NaN : Date.parse(info.failedAt);
    if (Number.isNaN(failedAt)) return false;
    const age = now.getTime() - failedAt;
    if (olderThanMs !== undefined && age < olderThanMs) return false;
    if (newerThanMs !== undefined && age >= newerThanMs) return false;
  }
  return true;
}

/**
 * Refuses a filter that cannot select anything: `--older-than` not shorter
 * than `--newer-than`, or an `--error-contains` without text.
 *
 * @param filter The filters, as the flags gave them.
 * @returns The same filter.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, naming the flags.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFilter } from "./dead_letter.ts";
 * assert.throws(() => checkFilter({ olderThanMs: 7_200_000, newerThanMs: 3_600_000 }), /nothing/);
 * ```
 */
export function checkFilter(filter: DeadLetterFilter): DeadLetterFilter {
  const { olderThanMs, newerThanMs, errorContains } = filter;
  const usage = (message: string) => new TelemetryError("usage", "bad_option", message);
  if (olderThanMs !== undefined && newerThanMs !== undefined && olderThanMs >= newerThanMs) {
    throw usage(
      "--older-than and --newer-than select nothing: --older-than must be the shorter duration " +
        "(e.g. --older-than 2h --newer-than 7d: failed between 7 days and 2 hours ago)",
    );
  }
  if (errorContains?.trim() === "") throw usage("--error-contains needs some text");
  return filter;
}

/**
 * Whether a filter selects anything less than every dead letter.
 *
 * @param filter The filters.
 * @returns True when at least one filter is set.
 */
export function isFiltered(filter: DeadLetterFilter): boolean {
  return (filter.kinds?.length ?? 0) > 0 || (filter.matchIds?.length ?? 0) > 0 ||
    (filter.errorContains ?? "") !== "" || filter.olderThanMs !== undefined ||
    filter.newerThanMs !== undefined;
}

/**
 * The NDJSON record of `dlq export`: the body (UTF-8 text, or base64 when
 * it is not valid UTF-8), the headers and the other properties. Dates
 * become ISO 8601 strings, byte arrays base64, 64-bit integers strings.
 *
 * @param message The delivery.
 * @returns An object ready for `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { exportRecord } from "./dead_letter.ts";
 * const record = exportRecord({
 *   body: new TextEncoder().encode('{"match_id":"abc"}'),
 *   properties: { contentType: "application/json", headers: { "x-attempts": 5 } },
 * });
 * if (record.body !== '{"match_id":"abc"}' || record.body_encoding !== "utf8") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function exportRecord(message: DeadLetterMessage): {
  body: string;
  body_encoding: "utf8" | "base64";
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
} {
  const bytes = message.body ?? new Uint8Array();
  let body: string;
  let encoding: "utf8" | "base64" = "utf8";
  try {
    body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    body = toBase64(bytes);
    encoding = "base64";
  }
  const { headers = {}, ...properties } = message.properties;
  return {
    body,
    body_encoding: encoding,
    headers: plain(headers) as Record<string, unknown>,
    properties: plain(properties) as Record<string, unknown>,
  };
}

/** A header or property value made JSON-safe. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return toBase64(value);
  if (typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = plain(item);
    }
    return out;
  }
  return value;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function matchIdOf(body: Uint8Array | null): string | null {
  if (body === null || body.length === 0) return null;
  try {
    const value: unknown = JSON.parse(decoder.decode(body));
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    return text((value as Record<string, unknown>).match_id);
  } catch {
    return null;
  }
}

function text(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return null;
}
