/**
 * Audit of one stored telemetry file: one streaming read through the shared
 * {@linkcode ingest} pass, turned into exactly one status.
 *
 * @module
 */

import { type ErrorCode, TelemetryError } from "../core/errors.ts";
import { DEFAULT_MAX_DECOMPRESSED_BYTES, ingest } from "../core/content/ingest.ts";
import { isGzip } from "../core/content/gzip.ts";
import { quickCheck } from "../core/content/quick_check.ts";
import { fileIdentity, READ_CHUNK_SIZE, readFileStream, readWholeFileSync } from "./file_stream.ts";
import { canStartJson, hexHead, JSON_HEAD_BYTES } from "./json_head.ts";
import type { AuditResult, FileIdentity } from "./result.ts";
import type { FileStatus } from "./status.ts";

/**
 * The status a permanent error of each code gives an audited file.
 * `undefined`: the code is not about the content (it comes from downloading,
 * or from reading the file), so the file is `unreadable`. A new error code
 * does not compile until it is listed here.
 */
const STATUS_FOR_CODE = {
  bad_match_id: undefined,
  url_refused: undefined,
  bad_option: undefined,
  bad_job: undefined,
  data_dir: undefined,
  network: undefined,
  timeout: undefined,
  http_status: undefined,
  short_body: undefined,
  too_large: "too_large",
  too_many_redirects: undefined,
  truncated: "truncated",
  corrupt: "corrupt",
  invalid_json: "invalid_json",
  empty: "empty",
  not_telemetry: "not_telemetry",
  wrong_match: "wrong_match",
  no_match_id: undefined,
  io: undefined,
  aborted: undefined,
  permission: undefined,
  tls: undefined,
  store_full: undefined,
  store_read_only: undefined,
  store_io: undefined,
  store_permission: undefined,
} as const satisfies Record<ErrorCode, FileStatus | undefined>;

/** Options of {@linkcode auditFile}. */
export interface AuditFileOptions {
  /** The match id the content must belong to; not checked when undefined. */
  expectedMatchId?: string | undefined;
  /**
   * Stop with `too_large` beyond this many decompressed bytes.
   * @default {4 GiB}
   */
  maxDecompressedBytes?: number;
  /** Called with the count of file bytes read so far, as they are read. */
  onBytes?: (bytesRead: number) => void;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/**
 * Reads a file once, streaming, and gives it exactly one status: `ok`,
 * `double_gzip`, `not_gzip`, a content problem (`truncated`, `corrupt`,
 * `invalid_json`, `empty`, `not_telemetry`, `wrong_match`, `too_large`),
 * `not_regular` for a symlink, directory or special file (never followed
 * nor opened, so a FIFO cannot block the audit), or `unreadable` when the
 * file cannot be read at all. Memory stays flat.
 *
 * A file of at most 256 KiB (one read) is read whole, with sync calls, and
 * checked first by `quickCheck()`; when that cannot vouch for it, the same
 * bytes go through `ingest()` as a larger file does, so every status and
 * detail comes from `ingest()`.
 *
 * @param path The file.
 * @param options Expected match id, size cap, progress callback, clock.
 * @returns The result. It never rejects: an error that is not a content
 * problem (a read error, or an unexpected exception) becomes `unreadable`
 * with its message.
 * @throws {never} Failures are results.
 *
 * @example
 * ```ts ignore
 * import { auditFile } from "./audit_file.ts";
 * const result = await auditFile("/data/matchID=abc/raw.json.gz", { expectedMatchId: "abc" });
 * console.log(result.status, result.detail);
 * ```
 */
export async function auditFile(
  path: string,
  options: AuditFileOptions = {},
): Promise<AuditResult> {
  const {
    expectedMatchId,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    onBytes,
    now = () => performance.now(),
  } = options;
  const started = now();
  const elapsed = () => (now() - started) / 1000;
  const base = { path, matchId: expectedMatchId };
  // lstat before opening: a link is never followed, and opening a FIFO would block.
  // Sync calls: for a small file in the page cache they cost a fraction of
  // an async call, which waits for a thread of the pool.
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    return unreadable(base, err, elapsed());
  }
  if (!info.isFile) {
    const detail = await notRegularDetail(path, info);
    return { ...base, ...NO_SIZES, status: "not_regular", detail, seconds: elapsed() };
  }
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    return unreadable(base, err, elapsed());
  }
  let decompressed = 0;
  let identity: FileIdentity | undefined;
  let head: Uint8Array | undefined;
  try {
    const opened = file.statSync();
    if (!opened.isFile || opened.ino !== info.ino) {
      return {
        ...base,
        ...NO_SIZES,
        status: "unreadable",
        detail: "replaced by another file while it was being opened: not read (run verify again)",
        seconds: elapsed(),
      };
    }
    identity = fileIdentity(opened);
    const whole = opened.size <= READ_CHUNK_SIZE ? readWholeFileSync(file, opened.size) : undefined;
    let stream: ReadableStream<Uint8Array>;
    if (whole === undefined) {
      stream = readFileStream(file, {
        ...(onBytes === undefined ? {} : { onBytes }),
        onFirstChunk: (chunk) => head = chunk.slice(0, JSON_HEAD_BYTES),
      });
    } else {
      if (whole.length > 0) onBytes?.(whole.length);
      const quick = quickCheck(whole, { expectedMatchId, maxDecompressedBytes });
      if (quick !== undefined) {
        return success(base, identity, quick, elapsed());
      }
      // Not certainly fine: ingest() tells what is wrong, from the same one chunk
      // that readFileStream() gives for a file of this size.
      if (whole.length > 0) head = whole.slice(0, JSON_HEAD_BYTES);
      stream = ReadableStream.from(whole.length > 0 ? [whole] : []);
    }
    const result = await ingest(stream, {
      ...(expectedMatchId === undefined ? {} : { expectedMatchId }),
      maxDecompressedBytes,
      onContentBytes: (n) => decompressed = n,
    });
    return success(base, identity, result, elapsed());
  } catch (err) {
    const seconds = elapsed();
    if (!(err instanceof TelemetryError) || err.kind !== "permanent") {
      return unreadable(base, err, seconds);
    }
    const status = STATUS_FOR_CODE[err.code];
    if (status === undefined) return unreadable(base, err, seconds);
    const size = identity?.size;
    if (
      (status === "invalid_json" || status === "not_telemetry") && head !== undefined &&
      !isGzip(head) && !canStartJson(head)
    ) {
      // Not gzip, and not text that starts like JSON: random or binary bytes.
      const result: AuditResult = {
        ...base,
        status: "corrupt",
        detail: `neither gzip nor JSON: the file starts with bytes ${hexHead(head)}`,
        bytes: size,
        decompressedBytes: 0,
        seconds,
      };
      if (identity !== undefined) result.identity = identity;
      return result;
    }
    const result: AuditResult = {
      ...base,
      status,
      detail: size === 0 && status === "empty" ? "file is empty (0 bytes)" : err.message,
      bytes: size,
      decompressedBytes: err.offset ?? decompressed,
      seconds,
    };
    if (identity !== undefined) result.identity = identity;
    if (err.offset !== undefined) result.offset = err.offset;
    return result;
  } finally {
    file.close();
  }
}

/** What a path that is not a regular file is, in a few words; a link says where it points. */
async function notRegularDetail(path: string, info: Deno.FileInfo): Promise<string> {
  if (info.isSymlink) {
    try {
      return `symbolic link to ${await Deno.readLink(path)}: not followed`;
    } catch {
      return "symbolic link: not followed";
    }
  }
  const kind = info.isDirectory
    ? "a directory"
    : info.isFifo
    ? "a FIFO (named pipe)"
    : info.isSocket
    ? "a socket"
    : info.isBlockDevice
    ? "a block device"
    : info.isCharDevice
    ? "a character device"
    : "a special file";
  return `${kind}, not a regular file: not opened`;
}

/** The result of a file whose content is valid telemetry. */
function success(
  base: { path: string; matchId: string | undefined },
  identity: FileIdentity,
  content: { gzipLayers: number; contentBytes: number; events: number },
  seconds: number,
): AuditResult {
  const layers = content.gzipLayers;
  const status: FileStatus = layers === 0 ? "not_gzip" : layers === 1 ? "ok" : "double_gzip";
  return {
    ...base,
    status,
    detail: successDetail(status, layers, content.events),
    bytes: identity.size,
    decompressedBytes: content.contentBytes,
    events: content.events,
    seconds,
    gzipLayers: layers,
    identity,
  };
}

function successDetail(status: FileStatus, layers: number, events: number): string {
  if (status === "not_gzip") return `plain JSON stored under the gzip name (${events} events)`;
  if (status === "double_gzip") return `gzip inside gzip: ${layers} gzip layers (${events} events)`;
  return "";
}

const NO_SIZES = { bytes: undefined, decompressedBytes: undefined } as const;

function unreadable(
  base: { path: string; matchId: string | undefined },
  err: unknown,
  seconds: number,
): AuditResult {
  const reason = err instanceof Error ? err.message : String(err);
  return {
    ...base,
    ...NO_SIZES,
    status: "unreadable",
    detail: `cannot read: ${reason.replace(/\s*\n\s*/g, " ")}`,
    seconds,
  };
}
