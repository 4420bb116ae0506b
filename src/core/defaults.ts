/**
 * The defaults that a flag shows in `--help` and the code behind it applies
 * too, each defined once. They live here, apart from that code, so that
 * building a command's flags loads no HTTP, gzip, JSON or AMQP code. A
 * default that only one module applies lives beside it instead.
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

/** Downloads at once: `download --jobs` and `consume` (its prefetch too), `--concurrency`. */
export const DEFAULT_DOWNLOAD_CONCURRENCY = 4;

/** Files audited at once: `verify --jobs` and `announce --concurrency`, one per CPU core. */
export const DEFAULT_AUDIT_CONCURRENCY: number = navigator.hardwareConcurrency;

/** How long a publish may wait for the broker's confirm, in milliseconds (`--confirm-timeout`). */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 30_000;

/** Bytes kept free on the store's file system, 1 GiB (`--min-free-space`; `free_space.ts`). */
export const DEFAULT_MIN_FREE_SPACE = 1024 ** 3;
