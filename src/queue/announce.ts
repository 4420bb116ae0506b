/**
 * `telemetry announce`: re-sends the processing message of files already in
 * the store, for when the processing stage must run again. Each file is
 * audited first with the core of `verify` (one streaming read: gzip, JSON,
 * match id); only `ok` files are announced, the rest are reported with
 * their status. The message is the one `consume` sends (`processingBody`),
 * to the same queue, and a file counts as announced only once the broker
 * confirmed the message into the queue.
 *
 * @module
 */

import { DEFAULT_AUDIT_CONCURRENCY, DEFAULT_MAX_DECOMPRESSED_BYTES } from "../core/defaults.ts";
import { TelemetryError } from "../core/errors.ts";
import { runPool } from "../core/pool.ts";
import { auditFile } from "../verify/audit_file.ts";
import type { FileTarget } from "../verify/result.ts";
import type { VerifyProgress } from "../verify/run_verify.ts";
import type { ScanResult } from "../verify/scan.ts";
import type { VerifyStatus } from "../verify/status.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { processingBody } from "./messages.ts";
import { missingQueueLine } from "./broker.ts";
import {
  publishRun,
  type PublishTarget,
  type PublishTotals,
  publishTotals,
} from "./publish_target.ts";
import { topologyNames } from "./topology.ts";

/** What became of one file. */
export type AnnounceOutcome =
  /** The broker confirmed its processing message into the queue. */
  | "announced"
  /** Audited `ok`: would be announced (`--dry-run`). */
  | "would_announce"
  /** Not `ok` (or its match id is unknown): not announced. */
  | "not_announced"
  /** Its message was sent but not confirmed: it may or may not be in the queue. */
  | "unconfirmed";

/** One file's result. */
export interface AnnounceResult {
  /** The file (or, for a finding of the scan, the directory). */
  path: string;
  /** The match id, when known. */
  matchId: string | undefined;
  /** The outcome. */
  outcome: AnnounceOutcome;
  /** The audit status (`ok` for announced files); undefined when the match id is unknown. */
  status: VerifyStatus | undefined;
  /** Why it was not announced, or why the publish failed (one line); "" otherwise. */
  detail: string;
  /** Size of the file, when read. */
  bytes: number | undefined;
}

/** The totals of a run (`queue`: the processing queue). */
export interface AnnounceSummary extends PublishTotals {
  /** Files announced (confirmed). */
  announced: number;
  /** Files a dry run found `ok`. */
  wouldAnnounce: number;
  /** Files and findings not announced. */
  notAnnounced: number;
  /** Files left unaudited because the run stopped early. */
  notSent: number;
  /** Results not announced, by status (`no_match_id` for a file outside a `matchID=` directory). */
  reasons: Record<string, number>;
}

/** Settings of {@linkcode runAnnounce}. */
export interface AnnounceSettings {
  /** Broker and queue names (`names.publishQueue` is where messages go). */
  broker: BrokerSettings;
  /** `worker_id` of the messages. */
  workerId: string;
  /** Audit only; no broker needed. @default {false} */
  dryRun?: boolean;
  /** Files audited at once. @default {DEFAULT_AUDIT_CONCURRENCY} */
  concurrency?: number;
  /** Decompressed size cap per file (`too_large` beyond). @default {4 GiB} */
  maxDecompressedBytes?: number;
  /** How long each publish may wait for its confirm, in milliseconds. @default {DEFAULT_CONFIRM_TIMEOUT_MS} */
  confirmTimeoutMs?: number;
  /** How long the connect may take, in milliseconds. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
}

/** Callbacks, signal and clock of {@linkcode runAnnounce}. */
export interface AnnounceHooks {
  /** Receives every result (an announced file once confirmed). */
  onResult: (result: AnnounceResult) => void;
  /** Receives progress as files are read. */
  onProgress?: (progress: VerifyProgress) => void;
  /** Stops auditing new files (Ctrl-C); what was sent is still confirmed and reported. */
  signal?: AbortSignal | undefined;
  /** The clock, for `downloaded_at` when a file's mtime is unknown. @default {() => new Date()} */
  now?: () => Date;
  /** The audit of one file; tests may wrap it. @default {auditFile} */
  audit?: typeof auditFile;
}

/**
 * Audits what a scan found and announces the `ok` files.
 *
 * @param scan The files and findings of `scanPaths` (from `src/verify/scan.ts`).
 * @param settings Broker, worker id, dry run, audit settings, deadlines.
 * @param hooks Where results and progress go; the stop signal.
 * @returns The totals; a broker failure mid-run is its `error`.
 * @throws {TelemetryError} Only when the broker cannot be used at the start
 * (unreachable, refused, queue missing): nothing was audited or sent.
 *
 * @example
 * ```ts ignore
 * import { runAnnounce } from "./announce.ts";
 * import { scanPaths } from "../verify/scan.ts";
 * const scan = await scanPaths([], { dataDir: "/opt/pewstats-platform/data/telemetry", matchIds: ["abc"] });
 * const summary = await runAnnounce(scan, { broker, workerId: "ops" }, { onResult: console.log });
 * ```
 */
export async function runAnnounce(
  scan: ScanResult,
  settings: AnnounceSettings,
  hooks: AnnounceHooks,
): Promise<AnnounceSummary> {
  const {
    broker,
    workerId,
    dryRun = false,
    concurrency = DEFAULT_AUDIT_CONCURRENCY,
    maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
    confirmTimeoutMs,
    connectTimeoutMs,
  } = settings;
  const { onResult, onProgress, signal, now = () => new Date(), audit = auditFile } = hooks;
  const queue = broker.names.publishQueue;
  const summary: AnnounceSummary = {
    ...publishTotals(queue, dryRun),
    reasons: {},
    announced: 0,
    wouldAnnounce: 0,
    notAnnounced: 0,
    notSent: 0,
  };
  const report = (result: AnnounceResult) => {
    if (result.outcome === "announced") summary.announced++;
    else if (result.outcome === "would_announce") summary.wouldAnnounce++;
    else if (result.outcome === "unconfirmed") summary.unconfirmed++;
    else {
      summary.notAnnounced++;
      const reason = result.status ?? "no_match_id";
      summary.reasons[reason] = (summary.reasons[reason] ?? 0) + 1;
    }
    onResult(result);
  };
  const options = { broker, confirmTimeoutMs, connectTimeoutMs, signal };
  try {
    await publishRun(summary, async (target) => {
      for (const finding of scan.findings) {
        // A temp file is a write in progress (or a crash's leftover): nothing to announce.
        if (finding.status === "stray_temp") continue;
        report({
          path: finding.path,
          matchId: finding.matchId,
          outcome: "not_announced",
          status: finding.status,
          detail: finding.detail,
          bytes: undefined,
        });
      }
      const stopped = () => signal?.aborted === true || target?.publisher.failure !== undefined;
      const progress: VerifyProgress = {
        files: 0,
        totalFiles: scan.files.length,
        bytes: 0,
        totalBytes: scan.files.reduce((sum, f) => sum + (f.size ?? 0), 0),
      };
      onProgress?.({ ...progress });
      await runPool(scan.files, {
        concurrency,
        worker: async (file) => {
          if (stopped()) {
            summary.notSent++;
            return;
          }
          const sent = await announceFile(file, {
            target,
            audit,
            maxDecompressedBytes,
            report,
            message: { workerId, environment: broker.env, queue, now },
            onBytes: (delta) => {
              progress.bytes += delta;
              onProgress?.({ ...progress });
            },
          });
          if (!sent) summary.notSent++;
          progress.files++;
          onProgress?.({ ...progress });
        },
      });
    }, options);
  } catch (err) {
    throw missingPublishQueue(err, broker);
  }
  if (summary.error === undefined && signal?.aborted && summary.notSent > 0) {
    summary.error = "interrupted";
  }
  return summary;
}

/**
 * The error of a `--publish-queue` that does not exist. The line of
 * `openPublishTarget` suggests `telemetry consume`, which declares the
 * processing queue of its env; a queue of another name belongs to whoever
 * reads it, and the hint says so instead.
 */
function missingPublishQueue(err: unknown, broker: BrokerSettings): unknown {
  const queue = broker.names.publishQueue;
  const standard = topologyNames(broker.env).publishQueue;
  const missing = err instanceof TelemetryError && err.message === missingQueueLine(queue, broker);
  if (!missing || queue === standard) return err;
  return new TelemetryError(
    err.kind,
    err.code,
    `queue ${queue} does not exist on ${broker.redactedUrl}: it is not the processing queue ` +
      `of --env ${broker.env} (${standard}); whoever owns ${queue} must declare it ` +
      `(or pass the right --publish-queue)`,
    { cause: err },
  );
}

/**
 * Audits one file and, when it is `ok`, sends its message.
 *
 * @returns False when its message could not be sent: a publish had failed, or the run was stopped.
 */
async function announceFile(
  file: FileTarget,
  context: {
    target: PublishTarget | undefined;
    audit: typeof auditFile;
    maxDecompressedBytes: number;
    report: (result: AnnounceResult) => void;
    message: { workerId: string; environment: string; queue: string; now: () => Date };
    onBytes: (delta: number) => void;
  },
): Promise<boolean> {
  const { target, audit: auditOne, maxDecompressedBytes, report, message, onBytes } = context;
  const base = { path: file.path, matchId: file.matchId };
  if (file.matchId === undefined) {
    report({
      ...base,
      outcome: "not_announced",
      status: undefined,
      detail: "not inside a matchID=<id> directory: its match id is unknown",
      bytes: file.size,
    });
    return true;
  }
  let read = 0;
  const audit = await auditOne(file.path, {
    expectedMatchId: file.matchId,
    maxDecompressedBytes,
    onBytes: (total) => {
      onBytes(total - read);
      read = total;
    },
  });
  const result = { ...base, status: audit.status, bytes: audit.bytes };
  if (audit.status !== "ok") {
    report({ ...result, outcome: "not_announced", detail: audit.detail });
    return true;
  }
  if (target === undefined) {
    report({ ...result, outcome: "would_announce", detail: "" });
    return true;
  }
  const mtimeMs = audit.identity?.mtimeMs;
  const body = processingBody({ matchId: file.matchId, url: "", body: {} }, {
    result: {
      outcome: "already_exists",
      matchId: file.matchId,
      path: file.path,
      bytes: audit.bytes ?? 0,
      seconds: 0,
      attempts: 0,
    },
    workerId: message.workerId,
    environment: message.environment,
    queue: message.queue,
    // downloaded_at: when the file was stored, which its mtime records.
    now: mtimeMs === null || mtimeMs === undefined ? message.now() : new Date(mtimeMs),
  });
  return await target.publish(body, (error) => {
    report(
      error === undefined
        ? { ...result, outcome: "announced", detail: "" }
        : { ...result, outcome: "unconfirmed", detail: error.message },
    );
  });
}
