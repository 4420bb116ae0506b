/**
 * Download one match's telemetry into the store: the core shared by
 * `download` and `consume`.
 *
 * Flow: check the URL and match id; if `raw.json.gz` exists the job is done;
 * else, with retries for transient failures, open the URL, stream the body
 * through {@linkcode ingest} into a temp file, and commit it atomically only
 * when the content is valid and belongs to the match.
 *
 * @module
 */

import { dirname } from "node:path";
import { type AtomicFile, createAtomicFile } from "./store/atomic_file.ts";
import { TelemetryError } from "./errors.ts";
import { denoFileSystem, type FileSystem } from "./store/file_system.ts";
import { type HttpGet, nodeHttpGet } from "./http/http_client.ts";
import {
  DEFAULT_MAX_BYTES,
  type HttpTimeouts,
  openDownload,
  type OpenedDownload,
} from "./http/http_download.ts";
import { DEFAULT_MAX_DECOMPRESSED_BYTES, ingest, type IngestResult } from "./content/ingest.ts";
import { parseMatchId } from "./store/match_id.ts";
import { realSleep, retry, type RetryEvent, type Sleep } from "./http/retry.ts";
import { rawPath } from "./store/storage.ts";
import type { OpenValidation } from "./content/validator_pool.ts";
import { checkUrl, DEFAULT_ALLOWED_HOSTS, type UrlPolicy } from "./http/url_policy.ts";

/** Settings a user configures once for every download (flags of `download` and `consume`). */
export interface DownloadSettings {
  /** The data dir of the store. */
  dataDir: string;
  /** Allowed hosts and schemes. */
  policy: UrlPolicy;
  /** Cap on bytes received. @default {1 GiB} */
  maxBytes?: number;
  /** Cap on decompressed bytes. @default {4 GiB} */
  maxDecompressedBytes?: number;
  /** Timeouts of each attempt. */
  timeouts?: HttpTimeouts;
  /** Attempts in all. @default {3} */
  attempts?: number;
  /** The wait after attempt n is `backoffBaseMs * 2^n`. @default {1000} */
  backoffBaseMs?: number;
  /** Cap on a server's `Retry-After`. @default {60000} */
  maxRetryAfterMs?: number;
}

/** Progress of the transfer of one attempt. */
export interface DownloadProgress {
  /** Bytes received so far in this attempt. */
  bytes: number;
  /** Bytes expected (Content-Length), when known. */
  total: number | undefined;
  /** The attempt (1-based). */
  attempt: number;
}

/** Options of {@linkcode downloadTelemetry}. */
export interface DownloadOptions extends DownloadSettings {
  /** The match id; when absent it is taken from the `LogMatchDefinition` event. */
  matchId?: string;
  /** Download even when `raw.json.gz` exists. @default {false} */
  force?: boolean;
  /** Aborts the download; no partial file is left. */
  signal?: AbortSignal;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Called before each retry. */
  onRetry?: (event: RetryEvent) => void;
  /** The wait between attempts. @default {realSleep} */
  sleep?: Sleep;
  /** The clock, in milliseconds. @default {performance.now} */
  now?: () => number;
  /** The HTTP GET. @default {nodeHttpGet} */
  httpGet?: HttpGet;
  /** The file system. @default {denoFileSystem} */
  fs?: FileSystem;
  /** Where the JSON is validated (see `IngestOptions.openValidation`). @default {inline} */
  openValidation?: OpenValidation;
}

/** The outcome of {@linkcode downloadTelemetry}. */
export interface DownloadResult {
  /** `downloaded`, or `already_exists` when the file was there. */
  outcome: "downloaded" | "already_exists";
  /** The match id. */
  matchId: string;
  /** Absolute path of `raw.json.gz`. */
  path: string;
  /** Size of the stored file. */
  bytes: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Attempts made (0 when already present). */
  attempts: number;
  /** Events in the content (downloaded only). */
  events?: number;
  /** Bytes of JSON content (downloaded only). */
  contentBytes?: number;
  /** Gzip layers the server's bytes had: 0 plain JSON, 1 gzip, 2+ nested (downloaded only). */
  gzipLayers?: number;
}

/**
 * Downloads telemetry into `<data-dir>/matchID=<id>/raw.json.gz`, atomically.
 *
 * @param url The telemetry URL (untrusted: checked against the policy).
 * @param options Settings, match id, and injected clock, sleep, HTTP and file system.
 * @returns The outcome with the stored path and size.
 * @throws {TelemetryError} `usage` for a bad match id or refused URL;
 * `transient` when retries ran out on transient failures; `permanent` for
 * HTTP errors that retrying cannot fix and for invalid content.
 *
 * @example
 * ```ts ignore
 * import { downloadTelemetry } from "./download.ts";
 * const result = await downloadTelemetry("https://telemetry-cdn.pubg.com/…-telemetry.json", {
 *   dataDir: "/opt/pewstats-platform/data/telemetry",
 *   policy: { allowHosts: ["telemetry-cdn.pubg.com"], allowHttp: false },
 *   matchId: "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c",
 * });
 * console.log(result.outcome, result.path);
 * ```
 */
export async function downloadTelemetry(
  url: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const {
    dataDir,
    policy = { allowHosts: DEFAULT_ALLOWED_HOSTS, allowHttp: false },
    maxBytes = DEFAULT_MAX_BYTES,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    timeouts = {},
    attempts = 3,
    backoffBaseMs = 1000,
    maxRetryAfterMs = 60_000,
    force = false,
    signal,
    onProgress,
    onRetry,
    sleep = realSleep,
    now = () => performance.now(),
    httpGet = nodeHttpGet,
    fs = denoFileSystem,
    openValidation,
  } = options;
  const started = now();
  const seconds = () => Math.round(now() - started) / 1000;
  const givenId = options.matchId === undefined ? undefined : parseMatchId(options.matchId);
  // A refused URL is a usage error before anything touches the disk or the network.
  checkUrl(url, policy);

  if (givenId !== undefined && !force) {
    const existing = await existingResult(dataDir, givenId, fs);
    if (existing !== undefined) return { ...existing, seconds: seconds() };
  }

  return await retry(async (attempt) => {
    const opening = openDownload(url, {
      policy,
      timeouts,
      maxBytes,
      httpGet,
      ...(signal === undefined ? {} : { signal }),
      ...(onProgress === undefined
        ? {}
        : { onBytes: (bytes, total) => onProgress({ bytes, total, attempt }) }),
    });
    opening.catch(() => {}); // handled below, once the temp file is ready
    // While the server answers, prepare the temp file: beside its final place
    // when the id is known; otherwise in the data dir until the content names
    // the match.
    const tempDir = givenId === undefined ? dataDir : dirname(rawPath(dataDir, givenId));
    let file: AtomicFile;
    try {
      file = await createAtomicFile(tempDir, { fs });
    } catch (err) {
      const download = await opening.catch(() => undefined);
      download?.close();
      await download?.body.cancel().catch(() => {});
      throw err;
    }
    let download: OpenedDownload | undefined;
    try {
      download = await opening;
      const found: IngestResult = await ingest(download.body, {
        sink: file.writable,
        maxDecompressedBytes,
        ...(openValidation === undefined ? {} : { openValidation }),
        ...(givenId === undefined ? {} : { expectedMatchId: givenId }),
      });
      const matchId = givenId ?? matchIdFromContent(found);
      const path = rawPath(dataDir, matchId);
      if (givenId === undefined && !force) {
        const existing = await existingResult(dataDir, matchId, fs);
        if (existing !== undefined) {
          await file.abort();
          return { ...existing, attempts: attempt, seconds: seconds() };
        }
      }
      await file.commit(path);
      return {
        outcome: "downloaded" as const,
        matchId,
        path,
        bytes: file.bytesWritten,
        seconds: seconds(),
        attempts: attempt,
        events: found.events,
        contentBytes: found.contentBytes,
        gzipLayers: found.gzipLayers,
      };
    } catch (err) {
      await file.abort().catch(() => {});
      if (givenId !== undefined) await fs.removeDirIfEmpty(tempDir);
      throw signal?.aborted
        ? new TelemetryError("transient", "aborted", "download aborted", { cause: err })
        : err;
    } finally {
      download?.close();
    }
  }, {
    maxAttempts: attempts,
    baseDelayMs: backoffBaseMs,
    maxRetryAfterMs,
    // An abort during the backoff ends the download like an abort during an attempt.
    sleep: (ms, sleepSignal) =>
      sleep(ms, sleepSignal).catch((err) => {
        throw signal?.aborted
          ? new TelemetryError("transient", "aborted", "download aborted", { cause: err })
          : err;
      }),
    ...(signal === undefined ? {} : { signal }),
    ...(onRetry === undefined ? {} : { onRetry }),
  });
}

async function existingResult(
  dataDir: string,
  matchId: string,
  fs: FileSystem,
): Promise<Omit<DownloadResult, "seconds"> | undefined> {
  const path = rawPath(dataDir, matchId);
  const size = await fs.fileSize(path);
  if (size === undefined) return undefined;
  return { outcome: "already_exists", matchId, path, bytes: size, attempts: 0 };
}

function matchIdFromContent(found: IngestResult): string {
  if (found.matchId === undefined) {
    throw new TelemetryError(
      "usage",
      "no_match_id",
      "the telemetry has no LogMatchDefinition MatchId to take the match id from; pass --match-id",
    );
  }
  return parseMatchId(found.matchId);
}
