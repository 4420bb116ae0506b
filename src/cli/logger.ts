/**
 * One line per event on stderr: `key=value` text on a TTY, JSON lines
 * otherwise (under systemd), so operators can grep either.
 *
 * @module
 */

import type { LogFields, Logger, LogLevel } from "../core/log.ts";
import { writeAllSync } from "./write_all.ts";

/** How log lines look. */
export type LogFormat = "text" | "json";

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Line format. @default {"json" unless stderr is a terminal} */
  format?: LogFormat;
  /** Receives each finished line (without newline). @default {write to stderr} */
  write?: (line: string) => void;
  /** The clock. @default {() => new Date()} */
  now?: () => Date;
  /** Lines below this level are dropped. @default {"info"} */
  level?: LogLevel;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * The default log format: human-readable on a terminal, JSON lines otherwise.
 *
 * @returns `text` when stderr is a TTY.
 */
export function defaultLogFormat(): LogFormat {
  return Deno.stderr.isTerminal() ? "text" : "json";
}

/**
 * Creates a logger.
 *
 * @param options Format, output and clock.
 * @returns The logger.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const lines: string[] = [];
 * const log = createLogger({ format: "json", write: (l) => lines.push(l) });
 * log.info("job", { match_id: "abc", outcome: "downloaded", bytes: 12 });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const {
    format = defaultLogFormat(),
    write = writeStderr,
    now = () => new Date(),
    level: minLevel = "info",
  } = options;
  function log(level: LogLevel, event: string, fields: LogFields = {}) {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    write(formatLine({ time: now(), level, event, fields, format }));
  }
  return {
    log,
    info: (event, fields) => log("info", event, fields),
    warn: (event, fields) => log("warn", event, fields),
    error: (event, fields) => log("error", event, fields),
  };
}

/**
 * Formats one log line.
 *
 * @param line Time, level, event, fields and format.
 * @returns The line without newline.
 */
export function formatLine(
  line: { time: Date; level: LogLevel; event: string; fields: LogFields; format: LogFormat },
): string {
  const { time, level, event, fields, format } = line;
  const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
  if (format === "json") {
    return JSON.stringify({
      time: time.toISOString(),
      level,
      event,
      ...Object.fromEntries(defined),
    });
  }
  const parts = defined.map(([k, v]) => `${k}=${quoteValue(v)}`);
  return [time.toISOString(), level.toUpperCase().padEnd(5), event, ...parts].join(" ");
}

function quoteValue(value: string | number | boolean | null | undefined): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function writeStderr(line: string): void {
  writeAllSync(Deno.stderr, line + "\n");
}
