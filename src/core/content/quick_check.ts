/**
 * A fast check of content held whole in memory, for `verify` over very many
 * small files: synchronous, no streams and no per-chunk promises, one
 * `inflateRawSync` call per gzip member (`raw_inflate.ts`).
 *
 * It only ever answers "certainly fine". Any doubt (an error of any kind, a
 * limit reached, an unusual header, gzip inside a large layer) gives
 * `undefined`, and the caller then runs {@linkcode ingest} over the same
 * bytes, which gives the status and the detail. So a bad file is always
 * judged by `ingest()` alone, and a good one gets the same counts and layers
 * it would get there.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { decodeGzipPrefix, isGzip } from "./gzip.ts";
import { GZIP_TRAILER_BYTES, parseGzipHeader, readGzipTrailer } from "./gzip_header.ts";
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  MAX_GZIP_LAYERS,
  PREFIX_PROBE_MAX_BYTES,
} from "./ingest.ts";
import { checkFirstEvent } from "./first_event_check.ts";
import { JsonValidator } from "./json_validator.ts";
import { inflateRawWhole } from "./raw_inflate.ts";
import { concatBytes } from "./byte_streams.ts";

/**
 * Decompressed bytes of one layer beyond which {@linkcode quickCheck} gives
 * up (and `ingest()` streams the file with flat memory): 16 MiB.
 */
export const QUICK_CHECK_MAX_LAYER_BYTES = 16 * 1024 * 1024;

/** Longest member header accepted here; a longer one is left to `ingest()`. */
const MAX_HEADER_BYTES = 1024;

/** Options of {@linkcode quickCheck}. */
export interface QuickCheckOptions {
  /** When set, a `LogMatchDefinition` first event must belong to this match. */
  expectedMatchId?: string | undefined;
  /**
   * Decompressed size cap, as in `ingest()`.
   * @default {4 GiB}
   */
  maxDecompressedBytes?: number;
}

/** What {@linkcode quickCheck} found in content that is certainly fine. */
export interface QuickCheckResult {
  /** Gzip layers around the content: 0 plain, 1 normal, 2+ nested. */
  gzipLayers: number;
  /** Bytes of decompressed JSON content. */
  contentBytes: number;
  /** Top-level events in the content. */
  events: number;
}

/**
 * Checks stored bytes the way `ingest()` without a sink does (gzip layers,
 * CRC and length of every member, nothing after the last member, JSON
 * telemetry of the expected match), in one synchronous pass.
 *
 * @param bytes The whole stored file.
 * @param options Expected match id and size cap.
 * @returns The layers and counts when the content is certainly fine;
 * undefined when it is not, or when this check cannot tell: run `ingest()`.
 *
 * @example
 * ```ts
 * import { quickCheck } from "./quick_check.ts";
 * import { gzipSync } from "node:zlib";
 * const json = new TextEncoder().encode('[{"_T":"LogMatchDefinition","MatchId":"m.x.abc"}]');
 * const result = quickCheck(gzipSync(json), { expectedMatchId: "abc" });
 * if (result?.gzipLayers !== 1 || result.events !== 1) throw new Error("unexpected");
 * if (quickCheck(json.subarray(0, 10)) !== undefined) throw new Error("unexpected");
 * ```
 */
export function quickCheck(
  bytes: Uint8Array,
  options: QuickCheckOptions = {},
): QuickCheckResult | undefined {
  const { expectedMatchId, maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES } = options;
  const limit = Math.min(maxDecompressedBytes, QUICK_CHECK_MAX_LAYER_BYTES);
  let content = bytes;
  let gzipLayers = 0;
  // The layers are peeled as ingest() peels them: while a layer holds gzip.
  while (isGzip(content)) {
    gzipLayers++;
    const layer = content;
    const inner = gunzipMembers(layer, limit);
    if (inner === undefined) return undefined;
    content = inner;
    if (!isGzip(inner)) break;
    // ingest() decides from the start of a layer (decodeGzipPrefix on its
    // first 256 KiB): agree with it, or let it decide.
    if (layer.length > PREFIX_PROBE_MAX_BYTES || !isGzip(decodeGzipPrefix(layer) ?? inner)) {
      return undefined;
    }
    if (gzipLayers >= MAX_GZIP_LAYERS) return undefined;
  }
  if (content.length > limit) return undefined;
  try {
    const validator = new JsonValidator();
    validator.push(content);
    const summary = validator.end();
    checkFirstEvent(summary.first, expectedMatchId);
    return { gzipLayers, contentBytes: summary.bytes, events: summary.events };
  } catch {
    return undefined;
  }
}

/**
 * The output of every member of one gzip layer, concatenated; undefined on
 * anything `GunzipStream` would reject (or might: a long header), or beyond
 * `limit` bytes of output.
 */
function gunzipMembers(layer: Uint8Array, limit: number): Uint8Array | undefined {
  const outputs: Uint8Array[] = [];
  let total = 0;
  let at = 0;
  while (at < layer.length) {
    const header = parseGzipHeader(layer.subarray(at, at + MAX_HEADER_BYTES));
    if (header.state !== "complete") return undefined;
    // The last member's trailer gives its size: the output is allocated once.
    const sizeHint = layer.length >= GZIP_TRAILER_BYTES
      ? readGzipTrailer(layer.subarray(layer.length - GZIP_TRAILER_BYTES)).size
      : 0;
    const inflated = inflateRawWhole(layer.subarray(at + header.length), {
      maxOutputBytes: limit - total,
      sizeHint,
    });
    if (inflated === undefined) return undefined;
    const { output, used } = inflated;
    const trailerAt = at + header.length + used;
    if (trailerAt + GZIP_TRAILER_BYTES > layer.length) return undefined;
    const trailer = readGzipTrailer(layer.subarray(trailerAt, trailerAt + GZIP_TRAILER_BYTES));
    if (trailer.crc !== crc32(output) >>> 0 || trailer.size !== output.length % 2 ** 32) {
      return undefined;
    }
    total += output.length;
    if (total > limit) return undefined;
    outputs.push(output);
    at = trailerAt + GZIP_TRAILER_BYTES;
  }
  return concatBytes(outputs, total);
}
