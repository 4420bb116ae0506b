/**
 * Error kinds shared by every command.
 *
 * Callers branch on {@linkcode TelemetryError.kind}, never on the message:
 * - `transient`: worth retrying later (network errors, timeouts, 5xx, 429).
 * - `permanent`: retrying cannot help (403/404, invalid content, wrong match).
 * - `usage`: the input given to the tool is invalid (bad match id, URL refused
 *   by policy, bad flag). A command exits 2; the queue worker dead-letters it.
 * - `fatal`: the tool cannot work as it is set up here, whatever the job (a
 *   permission the binary lacks, a server certificate it does not trust).
 *   Never retried; a command exits 1; the queue worker stops (exit 1, so the
 *   unit restarts and alerts) and leaves the job in the queue untouched.
 * - `store`: the store is unusable right now (full, below `--min-free-space`,
 *   read-only, an I/O error, a permission on the data dir); the job is not at
 *   fault, so it waits. The code says what to fix (`store_full`,
 *   `store_read_only`, `store_io`, `store_permission`). A command exits 1;
 *   the queue worker pauses, puts the job back uncounted, and resumes when
 *   its probe of the store passes (`src/core/store/store_fault.ts`).
 *
 * @module
 */

/** How a caller should react to a failure. */
export type ErrorKind = "transient" | "permanent" | "usage" | "fatal" | "store";

/**
 * Machine-readable reason of a failure. The audit statuses of `verify`
 * (`truncated`, `corrupt`, `invalid_json`, ...) are a subset.
 */
export type ErrorCode =
  | "bad_match_id"
  | "url_refused"
  | "bad_option"
  | "bad_job"
  | "data_dir"
  | "network"
  | "timeout"
  | "http_status"
  | "short_body"
  | "too_large"
  | "too_many_redirects"
  | "truncated"
  | "corrupt"
  | "invalid_json"
  | "empty"
  | "not_telemetry"
  | "wrong_match"
  | "no_match_id"
  | "io"
  | "aborted"
  | "permission"
  | "tls"
  | "store_full"
  | "store_read_only"
  | "store_io"
  | "store_permission";

/** Options of {@linkcode TelemetryError}. */
export interface TelemetryErrorOptions {
  /** The underlying error, kept for debugging. */
  cause?: unknown;
  /** Seconds the server asked us to wait before retrying (`Retry-After`). */
  retryAfterSeconds?: number;
  /** Byte offset in the decompressed content where the problem was found. */
  offset?: number;
  /**
   * The content ended before it was complete (a cut gzip stream, JSON that
   * stops mid-document): what a transfer cut short looks like.
   */
  endOfInput?: boolean;
}

/**
 * An error whose `name` is the name of its class (`BrokerError: …`), for
 * the error classes callers branch on with `instanceof`.
 *
 * @example
 * ```ts
 * import { NamedError } from "./errors.ts";
 * class QuotaError extends NamedError {}
 * if (new QuotaError("over quota").name !== "QuotaError") throw new Error("unexpected");
 * ```
 */
export class NamedError extends Error {
  /**
   * @param message One line saying what went wrong.
   * @param options The underlying error.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The one error class of the core: a one-line message plus a kind and a code.
 *
 * @example Branch on the kind
 * ```ts
 * import { TelemetryError } from "./errors.ts";
 * const err = new TelemetryError("transient", "timeout", "no response headers within 30 s");
 * if (err.kind !== "transient") throw new Error("unexpected");
 * ```
 */
export class TelemetryError extends NamedError {
  /** How the caller should react. */
  readonly kind: ErrorKind;
  /** Machine-readable reason. */
  readonly code: ErrorCode;
  /** Seconds the server asked to wait, when it said so. */
  readonly retryAfterSeconds: number | undefined;
  /** Byte offset in the decompressed content, for content errors. */
  readonly offset: number | undefined;
  /** Whether the content ended before it was complete. */
  readonly endOfInput: boolean;

  /**
   * @param kind How the caller should react.
   * @param code Machine-readable reason.
   * @param message One line saying what went wrong, where, and what to do.
   * @param options Cause, Retry-After and offset.
   */
  constructor(
    kind: ErrorKind,
    code: ErrorCode,
    message: string,
    options: TelemetryErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.offset = options.offset;
    this.endOfInput = options.endOfInput === true;
  }
}

/**
 * Returns true when `err` is a {@linkcode TelemetryError} of the given kind.
 *
 * @param err Any thrown value.
 * @param kind The kind to test for.
 * @returns Whether `err` has that kind.
 */
export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof TelemetryError && err.kind === kind;
}

/**
 * Renders any thrown value as one line, without a stack trace.
 *
 * @param err Any thrown value.
 * @returns A single-line description.
 */
export function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * The error of a download stopped by its caller's signal (Ctrl-C, SIGTERM,
 * shutdown): transient, since the job was not done. The one place this
 * error is built.
 *
 * @param cause Why it was aborted (the signal's reason), if known.
 * @returns The error.
 *
 * @example
 * ```ts
 * import { abortedError } from "./errors.ts";
 * if (abortedError().code !== "aborted") throw new Error("unexpected");
 * ```
 */
export function abortedError(cause?: unknown): TelemetryError {
  return new TelemetryError(
    "transient",
    "aborted",
    "download aborted",
    cause === undefined ? {} : { cause },
  );
}
