/**
 * The single pass that turns a byte stream (a download, or a stored file)
 * into exactly one layer of gzip, while checking the content.
 *
 * The compression is decided from the first bytes, never from a name:
 * - not gzip: the bytes are the content; they are gzipped with
 *   `CompressionStream` (in a worker, see `parallel_gzip.ts`) on their way to
 *   the sink;
 * - gzip: the bytes go to the sink exactly as they are, and are decompressed
 *   only to be validated;
 * - gzip inside gzip (any depth): the outer layers are peeled and the
 *   innermost gzip is what goes to the sink.
 *
 * In the same pass the decompressed content must be complete gzip (CRC and
 * length) and a well-formed, non-empty JSON array of objects whose first
 * event, when it is `LogMatchDefinition`, belongs to the expected match.
 *
 * @module
 */

import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../defaults.ts";
import { ByteLimitStream, CopyToSinkStream, CountingStream } from "./byte_streams.ts";
import { decodeGzipPrefix, GunzipStream, isGzip } from "./gzip.ts";
import type { ValidationSummary } from "./json_validator.ts";
import { matchIdFromTelemetry } from "../store/match_id.ts";
import { checkFirstEvent, FirstEventCheck } from "./first_event_check.ts";
import { createReleaser } from "./memory.ts";
import { ParallelGzipStream } from "./parallel_gzip.ts";
import { peekUntil } from "./peek_stream.ts";
import { inlineValidation, type OpenValidation } from "./validation_thread.ts";

export { DEFAULT_MAX_DECOMPRESSED_BYTES };

/** The deepest nesting of gzip layers that is peeled. */
export const MAX_GZIP_LAYERS = 8;

/** How many bytes of a gzip layer are read to learn whether it holds gzip. */
export const PREFIX_PROBE_MAX_BYTES = 256 * 1024;

/** Options of {@linkcode ingest}. */
export interface IngestOptions {
  /**
   * Where the single-gzip bytes go; closed on success. On failure it may be
   * left errored or open: the caller discards what it received. Without a sink nothing is compressed: the pass only audits.
   */
  sink?: WritableStream<Uint8Array>;
  /**
   * When set, a `LogMatchDefinition` first event must carry a `MatchId`
   * ending with `.<expectedMatchId>`.
   */
  expectedMatchId?: string;
  /**
   * Fail with `too_large` beyond this many decompressed bytes.
   * @default {4 GiB}
   */
  maxDecompressedBytes?: number;
  /** Called with the count of decompressed content bytes as they are validated. */
  onContentBytes?: (total: number) => void;
  /**
   * Where the JSON is validated: inline by default; a long-running process
   * passes a {@linkcode ValidationThread}'s `open` to validate on another core.
   * @default {inlineValidation}
   */
  openValidation?: OpenValidation;
}

/** What {@linkcode ingest} found. */
export interface IngestResult {
  /** Gzip layers around the content in the input: 0 plain, 1 normal, 2+ nested. */
  gzipLayers: number;
  /** Bytes given to the sink (the single-gzip size; without a sink, the innermost gzip's size, or 0 for plain input). */
  storedBytes: number;
  /** Bytes of decompressed JSON content. */
  contentBytes: number;
  /** Top-level events in the content. */
  events: number;
  /** `_T` of the first event, when it is a string. */
  firstEventType?: string;
  /** `MatchId` of a first `LogMatchDefinition`, when present. */
  telemetryMatchId?: string;
  /** The API match id: the last dot-separated part of `telemetryMatchId`. */
  matchId?: string;
}

/**
 * Reads the whole input once: normalizes it to one gzip layer into the sink
 * and validates the content. The caller decides whether to commit what the
 * sink received.
 *
 * @param input The bytes, as served or as stored.
 * @param options Sink, expected match id, size cap.
 * @returns What was found (and stored).
 * @throws {TelemetryError} kind `permanent` with code `truncated`, `corrupt`,
 * `invalid_json`, `empty`, `not_telemetry`, `wrong_match` or `too_large`. An
 * error of the input stream itself (e.g. a network error) is rethrown as is.
 *
 * @example
 * ```ts
 * import { ingest } from "./ingest.ts";
 * const json = new TextEncoder().encode('[{"_T":"LogMatchDefinition","MatchId":"m.x.abc"}]');
 * const result = await ingest(ReadableStream.from([json]), { expectedMatchId: "abc" });
 * if (result.events !== 1 || result.gzipLayers !== 0) throw new Error("unexpected");
 * ```
 */
export async function ingest(
  input: ReadableStream<Uint8Array>,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const {
    sink,
    expectedMatchId,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    onContentBytes,
    openValidation = inlineValidation,
  } = options;
  let stream = input;
  let gzipLayers = 0;
  try {
    // One look at the first bytes decides each layer: plain content, the
    // gzip to store, or an outer gzip to peel because it holds gzip again.
    for (;;) {
      const probe = await peekUntil(stream, {
        done: enoughToDecide,
        maxBytes: PREFIX_PROBE_MAX_BYTES,
      });
      stream = probe.stream;
      if (!isGzip(probe.head)) break;
      gzipLayers++;
      const inner = decodeGzipPrefix(probe.head);
      if (inner === undefined || !isGzip(inner) || gzipLayers >= MAX_GZIP_LAYERS) break;
      stream = stream.pipeThrough(new GunzipStream({ maxOutputBytes: maxDecompressedBytes }));
    }
  } catch (err) {
    await stream.cancel(err).catch(() => {});
    throw err;
  }

  // Every chunk of content goes through check(): validated, counted, and
  // every few MiB the dead chunks are freed. The stages are few on purpose:
  // each one costs per chunk, for every download.
  const validation = openValidation();
  const release = createReleaser();
  // The match is known from the first event: another match's file is
  // refused there, which stops the transfer, rather than at the end.
  const firstEvent = expectedMatchId === undefined
    ? undefined
    : new FirstEventCheck(expectedMatchId);
  async function check(chunk: Uint8Array): Promise<void> {
    if (firstEvent !== undefined && !firstEvent.done) firstEvent.push(chunk);
    await validation.push(chunk);
    release(chunk.length);
    onContentBytes?.(validation.bytes);
  }
  let storedBytes: () => number;
  try {
    if (gzipLayers > 0) {
      // `stream` is the innermost gzip: stored as is, decompressed only to be checked.
      const store = sink === undefined ? new CountingStream() : new CopyToSinkStream(sink);
      storedBytes = () => store.bytes;
      await stream
        .pipeThrough(store)
        .pipeThrough(new GunzipStream({ maxOutputBytes: maxDecompressedBytes }))
        .pipeTo(new WritableStream({ write: check }));
    } else {
      const content = stream
        .pipeThrough(
          new ByteLimitStream(maxDecompressedBytes, { what: "content (--max-decompressed-bytes)" }),
        )
        .pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            async transform(chunk, controller) {
              await check(chunk);
              controller.enqueue(chunk);
            },
          }),
        );
      if (sink === undefined) {
        storedBytes = () => 0;
        await content.pipeTo(new WritableStream());
      } else {
        const stored = new CountingStream();
        storedBytes = () => stored.bytes;
        await content.pipeThrough(gzipStream()).pipeThrough(stored).pipeTo(sink);
      }
    }
  } catch (err) {
    // A problem earlier in the content wins, as it does with inline validation.
    try {
      await validation.flush();
    } finally {
      validation.drop();
    }
    throw err;
  }

  const summary = await validation.end();
  checkFirstEvent(summary.first, expectedMatchId);
  return toResult(summary, { gzipLayers, storedBytes: storedBytes() });
}

/** Whether the first bytes tell plain from gzip, and what a gzip layer holds. */
function enoughToDecide(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  return !isGzip(head) || (decodeGzipPrefix(head)?.length ?? 0) >= 2;
}

/**
 * `CompressionStream("gzip")`: in a worker when there is a second core, so
 * compressing overlaps receiving and validating; inline otherwise.
 */
function gzipStream(): TransformStream<Uint8Array, Uint8Array> {
  if (navigator.hardwareConcurrency > 1) return new ParallelGzipStream();
  // The DOM typing wants ArrayBuffer-backed input; every chunk here is one.
  return new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
}

function toResult(
  summary: ValidationSummary,
  counts: { gzipLayers: number; storedBytes: number },
): IngestResult {
  const result: IngestResult = {
    gzipLayers: counts.gzipLayers,
    storedBytes: counts.storedBytes,
    contentBytes: summary.bytes,
    events: summary.events,
  };
  const { type, matchId } = summary.first;
  if (type !== undefined) result.firstEventType = type;
  if (type === "LogMatchDefinition" && matchId !== undefined) {
    result.telemetryMatchId = matchId;
    const apiId = matchIdFromTelemetry(matchId);
    if (apiId !== undefined) result.matchId = apiId;
  }
  return result;
}
