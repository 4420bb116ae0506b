/**
 * The header and trailer of one gzip member (RFC 1952), read by
 * {@linkcode GunzipStream} around the raw deflate data it inflates, so that
 * it knows where each member starts and ends.
 *
 * @module
 */

import { crc32 } from "node:zlib";

/** The largest member header accepted (a file name or comment may make it long). */
export const MAX_GZIP_HEADER_BYTES = 64 * 1024;

/** Bytes of a member trailer: CRC-32 and length of the member's output, little-endian. */
export const GZIP_TRAILER_BYTES = 8;

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED_FLAGS = 0xe0;
const DEFLATE = 8;

/** What {@linkcode parseGzipHeader} found in the bytes of a member start. */
export type GzipHeaderParse =
  /** The header needs more bytes than these. */
  | { readonly state: "incomplete" }
  /** The header is valid and `length` bytes long. */
  | { readonly state: "complete"; readonly length: number }
  /** The bytes are not a valid gzip header; `reason` says why, in zlib's words. */
  | { readonly state: "invalid"; readonly reason: string };

/**
 * Reads a gzip member header: magic, method (deflate), flags, and the
 * optional extra field, file name, comment and header CRC.
 *
 * @param bytes The bytes from the start of the member (any amount).
 * @returns Whether the header is complete, and its length, or why it is invalid.
 *
 * @example
 * ```ts
 * import { parseGzipHeader } from "./gzip_header.ts";
 * import { gzipSync } from "node:zlib";
 * const header = parseGzipHeader(gzipSync(new Uint8Array(1)));
 * if (header.state !== "complete" || header.length !== 10) throw new Error("unexpected");
 * ```
 */
export function parseGzipHeader(bytes: Uint8Array): GzipHeaderParse {
  if (magicMismatch(bytes) !== undefined) return invalid("incorrect header check");
  if (bytes.length < 10) return INCOMPLETE;
  if (bytes[2] !== DEFLATE) return invalid("unknown compression method");
  const flags = bytes[3]!;
  if ((flags & RESERVED_FLAGS) !== 0) return invalid("unknown header flags set");
  let at = 10;
  if ((flags & FEXTRA) !== 0) {
    if (bytes.length < at + 2) return INCOMPLETE;
    at += 2 + littleEndian(bytes, at, 2);
  }
  for (const field of [FNAME, FCOMMENT]) {
    if ((flags & field) === 0) continue;
    const end = at < bytes.length ? bytes.indexOf(0, at) : -1;
    if (end === -1) return INCOMPLETE;
    at = end + 1;
  }
  if ((flags & FHCRC) !== 0) {
    if (bytes.length < at + 2) return INCOMPLETE;
    if ((crc32(bytes.subarray(0, at)) & 0xffff) !== littleEndian(bytes, at, 2)) {
      return invalid("header crc mismatch");
    }
    at += 2;
  }
  return bytes.length < at ? INCOMPLETE : { state: "complete", length: at };
}

/**
 * Where bytes stop matching the gzip magic `1f 8b`.
 *
 * @param bytes The first bytes of a member (fewer than 2 are checked as far as they go).
 * @returns The index (0 or 1) of the first byte that differs, or undefined when none does.
 *
 * @example
 * ```ts
 * import { magicMismatch } from "./gzip_header.ts";
 * if (magicMismatch(new Uint8Array([0x1f, 0x00])) !== 1) throw new Error("unexpected");
 * ```
 */
export function magicMismatch(bytes: Uint8Array): number | undefined {
  if (bytes.length > 0 && bytes[0] !== 0x1f) return 0;
  if (bytes.length > 1 && bytes[1] !== 0x8b) return 1;
  return undefined;
}

/** What a member trailer holds. */
export interface GzipTrailer {
  /** CRC-32 of the member's output. */
  crc: number;
  /** Length of the member's output, modulo 2^32. */
  size: number;
}

/**
 * Reads a member trailer.
 *
 * @param bytes The {@linkcode GZIP_TRAILER_BYTES} bytes after the deflate data.
 * @returns The CRC-32 and the length it records.
 *
 * @example
 * ```ts
 * import { readGzipTrailer } from "./gzip_header.ts";
 * const trailer = readGzipTrailer(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]));
 * if (trailer.crc !== 1 || trailer.size !== 2) throw new Error("unexpected");
 * ```
 */
export function readGzipTrailer(bytes: Uint8Array): GzipTrailer {
  return { crc: littleEndian(bytes, 0, 4), size: littleEndian(bytes, 4, 4) };
}

const INCOMPLETE = { state: "incomplete" } as const;

function invalid(reason: string): GzipHeaderParse {
  return { state: "invalid", reason };
}

function littleEndian(bytes: Uint8Array, at: number, length: number): number {
  let value = 0;
  for (let i = length - 1; i >= 0; i--) value = value * 256 + bytes[at + i]!;
  return value;
}
