/**
 * The defaults of the download settings, which the flags show in `--help`.
 * They live here, apart from the code that applies them, so that building
 * a command's flags loads no HTTP, gzip or JSON code.
 *
 * @module
 */

/** Default cap of bytes received per attempt (1 GiB). */
export const DEFAULT_MAX_BYTES = 1024 ** 3;

/** Default cap of decompressed bytes (4 GiB): stops decompression bombs. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 4 * 1024 ** 3;

/** The defaults of the HTTP timeouts (`HttpTimeouts`), in milliseconds. */
export const DEFAULT_TIMEOUTS: { headersMs: number; idleMs: number; attemptMs: number } = {
  headersMs: 30_000,
  idleMs: 30_000,
  attemptMs: 120_000,
};

/** The defaults of the download limits (`DownloadLimits`). */
export const DEFAULT_LIMITS: { maxBytes: number; maxDecompressedBytes: number } = {
  maxBytes: DEFAULT_MAX_BYTES,
  maxDecompressedBytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
};

/** Dead letters `status` reads at most to count them by kind (`--max-dlq-scan`). */
export const DEFAULT_MAX_DLQ_SCAN = 10_000;
