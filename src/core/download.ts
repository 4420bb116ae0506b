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
import { abortedError, TelemetryError } from "./errors.ts";
import { denoFileSystem, type FileSystem } from "./store/file_system.ts";
import { type HttpGet, nodeHttpGet } from "./http/http_client.ts";
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from "./defaults.ts";
import { type HttpTimeouts, openDownload, type OpenedDownload } from "./http/http_download.ts";
import { ingest, type IngestResult } from "./content/ingest.ts";
import { parseMatchId } from "./store/match_id.ts";
import {
  DEFAULT_RETRY,
  realSleep,
  retry,
  type RetryEvent,
  type RetrySettings,
  type Sleep,
} from "./http/retry.ts";
import { rawPath } from "./store/storage.ts";
import type { OpenValidation } from "./content/validation_thread.ts";
import { checkUrl, DEFAULT_ALLOWED_HOSTS, type UrlPolicy } from "./http/url_policy.ts";
import {
  DEFAULT_FREE_SPACE_FLOOR,
  type FreeSpace,
  type FreeSpaceFloor,
} from "./store/free_space.ts";
import { floorFault } from "./store/store_fault.ts";

/** Caps on what one download may be: the `--max-bytes` and `--max-decompressed-bytes` flags. */
export interface DownloadLimits {
  /** Cap on bytes received. @default {1 GiB} */
  maxBytes?: number;
  /** Cap on decompressed bytes. @default {4 GiB} */
  maxDecompressedBytes?: number;
}

export { DEFAULT_LIMITS };

/**
 * Settings a user configures once for every download: the shared flags of
 * `download` and `consume`, grouped by the module that applies them, with
 * the same names from the flags down to the code that uses them.
 */
export interface DownloadSettings {
  /** The data dir of the store (`--data-dir`). */
  dataDir: string;
  /** Allowed hosts and schemes (`--allow-host`, `--allow-http`). */
  policy?: UrlPolicy;
  /** Size caps. */
  limits?: DownloadLimits;
  /** Timeouts of each attempt. */
  timeouts?: HttpTimeouts;
  /** Attempts and backoff. */
  retry?: RetrySettings;
  /**
   * The free space to keep on the store (`--min-free-space`): below it no
   * download starts, and a download whose gzip length is known does not
   * start when it would go below it (a `store_full` store fault).
   * @default {DEFAULT_FREE_SPACE_FLOOR}
   */
  minFreeSpace?: FreeSpaceFloor;
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
  /** Reads the store's free space. @default {freeSpace} */
  freeSpace?: (path: string) => Promise<FreeSpace>;
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
 * HTTP errors that retrying cannot fix and for invalid content; `store`
 * (a `StoreFaultError`) when the store is full, below `minFreeSpace`,
 * read-only, failing or refuses the write: never retried, nothing left.
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
    policy = { allowHosts: DEFAULT_ALLOWED_HOSTS, allowHttp: false },
    retry: retrySettings = DEFAULT_RETRY,
    signal,
    onRetry,
    sleep = realSleep,
    now = () => performance.now(),
  } = options;
  const started = now();
  const seconds = () => Math.round(now() - started) / 1000;
  const matchId = options.matchId === undefined ? undefined : parseMatchId(options.matchId);
  // A refused URL is a usage error before anything touches the disk or the network.
  checkUrl(url, policy);
  const job: Job = { url, matchId, policy, options, seconds };

  if (matchId !== undefined && options.force !== true) {
    const existing = await existingResult(options.dataDir, matchId, options.fs ?? denoFileSystem);
    if (existing !== undefined) return { ...existing, seconds: seconds() };
  }
  // Below the floor, nothing is downloaded: before any request.
  await checkFloor(job, 0);
  return await retry((attempt) => downloadAttempt(job, attempt), {
    ...retrySettings,
    // An abort during the backoff ends the download like an abort during an attempt.
    sleep: (ms, sleepSignal) =>
      sleep(ms, sleepSignal).catch((err) => {
        throw signal?.aborted ? abortedError(err) : err;
      }),
    ...(signal === undefined ? {} : { signal }),
    ...(onRetry === undefined ? {} : { onRetry }),
  });
}

/** One download, as every attempt sees it. */
interface Job {
  url: string;
  /** The match id the caller gave, if any. */
  matchId: string | undefined;
  policy: UrlPolicy;
  options: DownloadOptions;
  /** Seconds since the download started. */
  seconds: () => number;
}

/**
 * One attempt, in order: open the URL, ingest the body into a temp file,
 * commit it. The request and the temp file are prepared at the same time,
 * so the disk work overlaps the server's answer.
 */
async function downloadAttempt(job: Job, attempt: number): Promise<DownloadResult> {
  const { options } = job;
  const fs = options.fs ?? denoFileSystem;
  const opening = openAttempt(job, attempt);
  // Beside its final place when the id is known; otherwise in the data dir
  // until the content names the match.
  const tempDir = job.matchId === undefined
    ? options.dataDir
    : dirname(rawPath(options.dataDir, job.matchId));
  // In a match's own directory, temp files of a download that died with its
  // process go first (never a scan of the whole data dir).
  const removeOrphans = job.matchId !== undefined;
  const file = await createAtomicFile(tempDir, { fs, removeOrphans, dataDir: options.dataDir })
    .catch(async (err) => {
      await closeWhenOpen(opening);
      throw err;
    });
  let download: OpenedDownload | undefined;
  try {
    download = await opening;
    // A gzip body of a known length is stored at about that size: one that
    // would not fit above the floor is not taken.
    if (download.contentLength !== undefined && download.contentEncoding === "gzip") {
      await checkFloor(job, download.contentLength);
    }
    const found = await ingest(download.body, {
      sink: file.writable,
      maxDecompressedBytes: options.limits?.maxDecompressedBytes ??
        DEFAULT_LIMITS.maxDecompressedBytes,
      ...(options.openValidation === undefined ? {} : { openValidation: options.openValidation }),
      ...(job.matchId === undefined ? {} : { expectedMatchId: job.matchId }),
    });
    return await commit(job, { file, found, attempt, fs });
  } catch (err) {
    await file.abort().catch(() => {});
    if (job.matchId !== undefined) await fs.removeDirIfEmpty(tempDir);
    if (options.signal?.aborted) throw abortedError(err);
    throw download === undefined ? err : cutTransferOr(err, download);
  } finally {
    download?.close();
  }
}

/**
 * Throws a `store_full` store fault when the store's free space is below
 * the floor, or would be after `extraBytes` more. A free space that cannot
 * be read (the data dir is missing: the write creates it) checks nothing.
 */
async function checkFloor(job: Job, extraBytes: number): Promise<void> {
  const { dataDir, minFreeSpace: floor = DEFAULT_FREE_SPACE_FLOOR, freeSpace } = job.options;
  const fault = await floorFault(dataDir, {
    floor,
    extraBytes,
    ...(freeSpace === undefined ? {} : { freeSpace }),
  });
  if (fault !== undefined) throw fault;
}

/**
 * A body with no length ends when the connection closes, so content that
 * ends too early there is a transfer cut short (transient, like a cut
 * chunked body), not a bad file.
 */
function cutTransferOr(err: unknown, download: OpenedDownload): unknown {
  if (download.lengthKnown || !(err instanceof TelemetryError) || !err.endOfInput) return err;
  return new TelemetryError(
    "transient",
    "short_body",
    `connection from ${download.url.host} closed before the content was complete ` +
      `(no Content-Length or chunked encoding): ${err.message}`,
    { cause: err },
  );
}

/** Starts the request of an attempt; its failure is handled where it is awaited. */
function openAttempt(job: Job, attempt: number): Promise<OpenedDownload> {
  const { options } = job;
  const { onProgress, signal, timeouts = DEFAULT_TIMEOUTS } = options;
  const opening = openDownload(job.url, {
    policy: job.policy,
    timeouts,
    maxBytes: options.limits?.maxBytes ?? DEFAULT_LIMITS.maxBytes,
    httpGet: options.httpGet ?? nodeHttpGet,
    ...(signal === undefined ? {} : { signal }),
    ...(onProgress === undefined
      ? {}
      : { onBytes: (bytes, total) => onProgress({ bytes, total, attempt }) }),
  });
  opening.catch(() => {}); // awaited (or closed) by the attempt
  return opening;
}

/** Releases a download that was opening when the attempt failed. */
async function closeWhenOpen(opening: Promise<OpenedDownload>): Promise<void> {
  const download = await opening.catch(() => undefined);
  await download?.body.cancel().catch(() => {});
  download?.close();
}

/** Commits valid content under its match, unless a file for that match appeared meanwhile. */
async function commit(
  job: Job,
  attempted: { file: AtomicFile; found: IngestResult; attempt: number; fs: FileSystem },
): Promise<DownloadResult> {
  const { file, found, attempt, fs } = attempted;
  const { dataDir, force } = job.options;
  const matchId = job.matchId ?? matchIdFromContent(found);
  if (job.matchId === undefined && force !== true) {
    const existing = await existingResult(dataDir, matchId, fs);
    if (existing !== undefined) {
      await file.abort();
      return { ...existing, attempts: attempt, seconds: job.seconds() };
    }
  }
  const path = rawPath(dataDir, matchId);
  await file.commit(path);
  return {
    outcome: "downloaded",
    matchId,
    path,
    bytes: file.bytesWritten,
    seconds: job.seconds(),
    attempts: attempt,
    events: found.events,
    contentBytes: found.contentBytes,
    gzipLayers: found.gzipLayers,
  };
}

/**
 * The result for a match whose file is already stored, or undefined. The
 * file may have been renamed into place by a run that crashed before its
 * directory fsync: the directories are made durable again before the
 * caller reports (and `consume` acknowledges) the job as done.
 */
async function existingResult(
  dataDir: string,
  matchId: string,
  fs: FileSystem,
): Promise<Omit<DownloadResult, "seconds"> | undefined> {
  const path = rawPath(dataDir, matchId);
  const size = await fs.fileSize(path);
  if (size === undefined) return undefined;
  await Promise.all([fs.syncDir(dirname(path)), fs.syncDir(dirname(dirname(path)))]);
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
