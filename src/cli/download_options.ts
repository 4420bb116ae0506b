/**
 * The download flags shared by `download` and `consume`, defined once (like
 * rclone's `AddFlags`), and their conversion to core settings. Every
 * default comes from the core module that applies it, and every flag keeps
 * its name on the way down (`--attempts` is `retry.attempts`).
 *
 * @module
 */

import { Command, InvalidArgumentError, Option, type OptionValues } from "commander";
import type { DownloadSettings } from "../core/download.ts";
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from "../core/defaults.ts";
import { DEFAULT_RETRY } from "../core/http/retry.ts";
import { DEFAULT_ALLOWED_HOSTS, type UrlPolicy } from "../core/http/url_policy.ts";
import { DEFAULT_DATA_DIR } from "../core/store/storage.ts";
import {
  DEFAULT_FREE_SPACE_FLOOR,
  type FreeSpaceFloor,
  parseMinFreeSpace,
} from "../core/store/free_space.ts";
import { collectHosts, parsePositiveInt, parseSeconds, parseSize } from "./parse.ts";

/**
 * The shared download flags, defined once, on a command of their own so
 * that commander infers their types ({@linkcode DownloadFlags}).
 *
 * @returns A command holding only these flags.
 */
function downloadOptionsCommand() {
  return new Command()
    .addOption(
      new Option("--data-dir <dir>", "store root: files go to <dir>/matchID=<id>/raw.json.gz")
        .env("TELEMETRY_DATA_DIR")
        .default(DEFAULT_DATA_DIR),
    )
    .addOption(
      new Option(
        "--allow-host <host[:port]>",
        `also allow this host or host:port; a bare host allows only port 443 (80 with ` +
          `--allow-http) (repeatable, comma-separated; always allowed: ${
            DEFAULT_ALLOWED_HOSTS.join(", ")
          })`,
      ).env("TELEMETRY_ALLOWED_HOSTS").argParser(collectHosts),
    )
    .addOption(new Option("--allow-http", "allow plain http URLs (for tests and local mirrors)"))
    .addOption(
      new Option("--max-bytes <size>", "stop a transfer beyond this many bytes (e.g. 1G, 512MiB)")
        .argParser(parseSize).default(DEFAULT_LIMITS.maxBytes, "1GiB"),
    )
    .addOption(
      new Option(
        "--max-decompressed-bytes <size>",
        "reject content that decompresses beyond this size",
      ).argParser(parseSize).default(DEFAULT_LIMITS.maxDecompressedBytes, "4GiB"),
    )
    .addOption(
      new Option("--headers-timeout <seconds>", "fail an attempt without response headers by then")
        .argParser(parseSeconds).default(DEFAULT_TIMEOUTS.headersMs / 1000),
    )
    .addOption(
      new Option(
        "--idle-timeout <seconds>",
        "fail an attempt when no body bytes arrive for this long",
      )
        .argParser(parseSeconds).default(DEFAULT_TIMEOUTS.idleMs / 1000),
    )
    .addOption(
      new Option("--attempt-timeout <seconds>", "fail an attempt that takes longer than this")
        .argParser(parseSeconds).default(DEFAULT_TIMEOUTS.attemptMs / 1000),
    )
    .addOption(
      new Option("--attempts <n>", "attempts per download, for transient failures")
        .argParser(parsePositiveInt).default(DEFAULT_RETRY.attempts),
    )
    .addOption(
      new Option("--backoff <seconds>", "wait backoff*2^attempt seconds between attempts")
        .argParser(parseSeconds).default(DEFAULT_RETRY.backoffMs / 1000),
    )
    .addOption(
      new Option("--max-retry-after <seconds>", "honour a server's Retry-After up to this long")
        .argParser(parseSeconds).default(DEFAULT_RETRY.maxRetryAfterMs / 1000),
    )
    .addOption(
      new Option(
        "--min-free-space <size>",
        "keep this much free on the data dir's file system (bytes such as 1GiB, or a percentage " +
          "such as 5%; 0 turns it off): below it no download starts",
      ).argParser(parseFloorFlag).default(DEFAULT_FREE_SPACE_FLOOR, "1GiB"),
    )
    .addOption(
      new Option(
        "--log-format <format>",
        "log lines as text on a TTY, else json",
      ).choices(["text", "json"] as const),
    );
}

/** `--min-free-space`, with commander's kind of error for a bad value. */
function parseFloorFlag(value: string): FreeSpaceFloor {
  try {
    return parseMinFreeSpace(value);
  } catch (err) {
    const why = (err as Error).message.replace(/^invalid --min-free-space .*?: /, "");
    throw new InvalidArgumentError(why);
  }
}

/** The parsed shared flags, as commander infers them from their definitions. */
export type DownloadFlags = ReturnType<ReturnType<typeof downloadOptionsCommand>["opts"]>;

/**
 * Adds the shared download flags to a command. The returned command's
 * option type includes them, so `.action()` sees every flag typed.
 *
 * @param command The command.
 * @returns The same command, typed with the added flags.
 */
export function addDownloadOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>): Command<Args, Opts & DownloadFlags, Globals> {
  for (const option of downloadOptionsCommand().options) command.addOption(option);
  // The one place the type is widened by hand: it adds exactly the options
  // whose inferred type DownloadFlags is.
  return command as unknown as Command<Args, Opts & DownloadFlags, Globals>;
}

/**
 * Adds some of the shared download flags to a command that downloads
 * nothing but checks jobs or the store the same way (`enqueue` takes the
 * URL policy and the data dir): the same definitions, environment variables
 * and defaults as `download` and `consume`.
 *
 * @param command The command.
 * @param names The flags to add, by attribute name (`allowHost` for `--allow-host`).
 * @returns The same command, typed with the added flags.
 */
export function addSomeDownloadOptions<
  K extends keyof DownloadFlags,
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(
  command: Command<Args, Opts, Globals>,
  names: readonly K[],
): Command<Args, Opts & Pick<DownloadFlags, K>, Globals> {
  const wanted = new Set<string>(names);
  for (const option of downloadOptionsCommand().options) {
    if (wanted.has(option.attributeName())) command.addOption(option);
  }
  // Widened by hand like addDownloadOptions: exactly the options named.
  return command as unknown as Command<Args, Opts & Pick<DownloadFlags, K>, Globals>;
}

/**
 * The URL policy of `--allow-host` and `--allow-http`: the hosts PUBG
 * serves telemetry from, plus the extra ones; the one place it is built, so
 * every command that checks a URL checks it the same way.
 *
 * @param flags The `--allow-host` and `--allow-http` flags.
 * @returns The policy.
 *
 * @example
 * ```ts
 * import { toUrlPolicy } from "./download_options.ts";
 * const policy = toUrlPolicy({ allowHost: ["Mirror.example"] });
 * if (!policy.allowHosts.includes("mirror.example") || policy.allowHttp) throw new Error("unexpected");
 * ```
 */
export function toUrlPolicy(flags: Pick<DownloadFlags, "allowHost" | "allowHttp">): UrlPolicy {
  const extraHosts = flags.allowHost ?? [];
  return {
    allowHosts: [
      ...new Set([...DEFAULT_ALLOWED_HOSTS, ...extraHosts.map((h) => h.toLowerCase())]),
    ],
    allowHttp: flags.allowHttp === true,
  };
}

/**
 * Converts the shared flags to core settings: seconds become milliseconds,
 * nothing is renamed.
 *
 * @param flags The parsed flags (`minFreeSpace` defaults to the flag's default).
 * @returns Settings for `downloadTelemetry`, every field filled.
 *
 * @example
 * ```ts
 * import { toDownloadSettings } from "./download_options.ts";
 * const settings = toDownloadSettings({
 *   dataDir: "/data", maxBytes: 1e9, maxDecompressedBytes: 4e9, headersTimeout: 30,
 *   idleTimeout: 30, attemptTimeout: 120, attempts: 3, backoff: 1, maxRetryAfter: 60,
 * });
 * if (settings.retry.backoffMs !== 1000) throw new Error("unexpected");
 * ```
 */
export function toDownloadSettings(
  flags: Omit<DownloadFlags, "minFreeSpace"> & Partial<Pick<DownloadFlags, "minFreeSpace">>,
): Required<DownloadSettings> {
  return {
    dataDir: flags.dataDir,
    policy: toUrlPolicy(flags),
    limits: { maxBytes: flags.maxBytes, maxDecompressedBytes: flags.maxDecompressedBytes },
    timeouts: {
      headersMs: flags.headersTimeout * 1000,
      idleMs: flags.idleTimeout * 1000,
      attemptMs: flags.attemptTimeout * 1000,
    },
    retry: {
      attempts: flags.attempts,
      backoffMs: flags.backoff * 1000,
      maxRetryAfterMs: flags.maxRetryAfter * 1000,
    },
    minFreeSpace: flags.minFreeSpace ?? DEFAULT_FREE_SPACE_FLOOR,
  };
}
