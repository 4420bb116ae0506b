/**
 * The download flags shared by `download` and `consume`, defined once (like
 * rclone's `AddFlags`), and their conversion to core settings.
 *
 * @module
 */

import { type Command, Option } from "commander";
import type { DownloadSettings } from "../core/download.ts";
import { DEFAULT_MAX_BYTES } from "../core/http/http_download.ts";
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/content/ingest.ts";
import { DEFAULT_DATA_DIR } from "../core/store/storage.ts";
import { DEFAULT_ALLOWED_HOSTS } from "../core/http/url_policy.ts";
import { collectList, parsePositiveInt, parseSeconds, parseSize } from "./parse.ts";

/** The parsed values of the shared download flags. */
export interface DownloadFlags {
  dataDir: string;
  allowHost?: string[] | undefined;
  allowHttp?: boolean | undefined;
  maxBytes: number;
  maxDecompressedBytes: number;
  headersTimeout: number;
  idleTimeout: number;
  attemptTimeout: number;
  attempts: number;
  backoff: number;
  maxRetryAfter: number;
  logFormat?: "text" | "json" | undefined;
}

/**
 * Adds the shared download flags to a command.
 *
 * @param command The command.
 * @returns The same command, with the flags.
 */
// deno-lint-ignore no-explicit-any
export function addDownloadOptions<C extends Command<any, any, any>>(command: C): C {
  command
    .addOption(
      new Option("--data-dir <dir>", "store root: files go to <dir>/matchID=<id>/raw.json.gz")
        .env("TELEMETRY_DATA_DIR")
        .default(DEFAULT_DATA_DIR),
    )
    .addOption(
      new Option(
        "--allow-host <host>",
        `also allow this host (repeatable, comma-separated; always allowed: ${
          DEFAULT_ALLOWED_HOSTS.join(", ")
        })`,
      ).env("TELEMETRY_ALLOWED_HOSTS").argParser(collectList),
    )
    .addOption(new Option("--allow-http", "allow plain http URLs (for tests and local mirrors)"))
    .addOption(
      new Option("--max-bytes <size>", "stop a transfer beyond this many bytes (e.g. 1G, 512MiB)")
        .argParser(parseSize).default(DEFAULT_MAX_BYTES, "1GiB"),
    )
    .addOption(
      new Option(
        "--max-decompressed-bytes <size>",
        "reject content that decompresses beyond this size",
      ).argParser(parseSize).default(DEFAULT_MAX_DECOMPRESSED_BYTES, "4GiB"),
    )
    .addOption(
      new Option("--headers-timeout <seconds>", "fail an attempt without response headers by then")
        .argParser(parseSeconds).default(30),
    )
    .addOption(
      new Option(
        "--idle-timeout <seconds>",
        "fail an attempt when no body bytes arrive for this long",
      )
        .argParser(parseSeconds).default(30),
    )
    .addOption(
      new Option("--attempt-timeout <seconds>", "fail an attempt that takes longer than this")
        .argParser(parseSeconds).default(120),
    )
    .addOption(
      new Option("--attempts <n>", "attempts per download, for transient failures")
        .argParser(parsePositiveInt).default(3),
    )
    .addOption(
      new Option("--backoff <seconds>", "wait backoff*2^attempt seconds between attempts")
        .argParser(parseSeconds).default(1),
    )
    .addOption(
      new Option("--max-retry-after <seconds>", "honour a server's Retry-After up to this long")
        .argParser(parseSeconds).default(60),
    )
    .addOption(
      new Option("--log-format <format>", "log lines as text or JSON (default: text on a TTY)")
        .choices(["text", "json"] as const),
    );
  return command;
}

/**
 * Converts the shared flags to core settings.
 *
 * @param flags The parsed flags.
 * @returns Settings for `downloadTelemetry`.
 */
export function toDownloadSettings(flags: DownloadFlags): Required<DownloadSettings> {
  const extraHosts = flags.allowHost ?? [];
  return {
    dataDir: flags.dataDir,
    policy: {
      allowHosts: [
        ...new Set([...DEFAULT_ALLOWED_HOSTS, ...extraHosts.map((h) => h.toLowerCase())]),
      ],
      allowHttp: flags.allowHttp === true,
    },
    maxBytes: flags.maxBytes,
    maxDecompressedBytes: flags.maxDecompressedBytes,
    timeouts: {
      headersMs: flags.headersTimeout * 1000,
      idleMs: flags.idleTimeout * 1000,
      totalMs: flags.attemptTimeout * 1000,
    },
    attempts: flags.attempts,
    backoffBaseMs: flags.backoff * 1000,
    maxRetryAfterMs: flags.maxRetryAfter * 1000,
  };
}
