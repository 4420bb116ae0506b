/**
 * The logging interface the core and the queue write to. The CLI decides
 * how lines look (`src/cli/logger.ts`); tests pass a logger that collects.
 *
 * @module
 */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields of a log line. Values are printed as they are: never put credentials here. */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/** Writes log lines. */
export interface Logger {
  /** Logs one event. */
  log(level: LogLevel, event: string, fields?: LogFields): void;
  /** Logs at info level. */
  info(event: string, fields?: LogFields): void;
  /** Logs at warn level. */
  warn(event: string, fields?: LogFields): void;
  /** Logs at error level. */
  error(event: string, fields?: LogFields): void;
}
