/**
 * What `telemetry status` found, judged and rendered: the problems that
 * make it exit 1 (the broker cannot be read, nothing consumes the job
 * queue, too many dead letters, the worker's `/healthz` not answering 200),
 * the warnings that do not, and the screen or JSON object an operator reads.
 *
 * @module
 */

import type { HealthAnswer } from "../core/http/health_probe.ts";
import type { StoreStats } from "../core/store/store_stats.ts";
import { plural } from "../cli/plural.ts";
import { QUEUE_ROLES, type QueueRole, type QueueState } from "../queue/status.ts";
import type { BrokerStatus } from "../queue/status.ts";

/** Everything one run of `status` found. */
export interface StatusReport {
  /** The environment. */
  env: string;
  /** When the report was made. */
  at: Date;
  /** The queues and dead letters. */
  broker: BrokerStatus;
  /** The store census, its error, or null when not asked (`--no-store`). */
  store: { dataDir: string; stats?: StoreStats; error?: string } | null;
  /** The worker's `/healthz`, or null without `--metrics-url`. */
  worker: HealthAnswer | null;
  /** `--max-dlq`, or null. */
  maxDlq: number | null;
}

/** The verdict on a report. */
export interface Assessment {
  /** No problem found. */
  healthy: boolean;
  /** What makes the run exit 1, one line each. */
  problems: string[];
  /** What an operator should look at, without failing the check. */
  warnings: string[];
}

const ROLE_LABELS: Record<QueueRole, string> = {
  input: "input",
  retry: "retry",
  dead_letter: "dead letters",
  processing: "processing",
};

/**
 * Judges a report: the problems (exit 1) and the warnings.
 *
 * @param report What the run found.
 * @returns The verdict.
 *
 * @example
 * ```ts
 * import { assessStatus } from "./status_report.ts";
 * const q = (name: string, consumers: number) => ({ name, exists: true, messages: 0, consumers });
 * const verdict = assessStatus({
 *   env: "prod", at: new Date(), maxDlq: null, store: null, worker: null,
 *   broker: {
 *     url: "amqp://guest:***@127.0.0.1/", deadLetters: null,
 *     queues: { input: q("match.telemetry.prod", 0), retry: q("r", 0), dead_letter: q("d", 0), processing: q("p", 0) },
 *   },
 * });
 * if (verdict.healthy || !verdict.problems[0]?.startsWith("nothing consumes")) throw new Error("unexpected");
 * ```
 */
export function assessStatus(report: StatusReport): Assessment {
  const { env, broker, store, worker, maxDlq } = report;
  const problems: string[] = [];
  const warnings: string[] = [];
  if (broker.failure !== undefined) {
    problems.push(broker.failure.message);
  } else {
    const input = broker.queues.input;
    if (input.exists === false) {
      problems.push(
        `queue ${input.name} does not exist, so nothing consumes it ` +
          `('telemetry consume --env ${env}' declares it when it starts)`,
      );
    } else if (input.consumers === 0) {
      const waiting = input.messages ?? 0;
      problems.push(
        `nothing consumes ${input.name} (${plural(waiting, "job")} waiting)`,
      );
    }
    for (const role of QUEUE_ROLES) {
      const queue = broker.queues[role];
      if (role !== "input" && queue.exists === false) {
        warnings.push(`queue ${queue.name} (${ROLE_LABELS[role]}) does not exist`);
      }
    }
    const dlq = broker.queues.dead_letter;
    if (maxDlq !== null && (dlq.messages ?? 0) > maxDlq) {
      problems.push(
        `${plural(dlq.messages ?? 0, "dead letter")} in ${dlq.name}, more than --max-dlq ${maxDlq}`,
      );
    }
    if (broker.deadLetters?.error !== undefined) {
      warnings.push(`dead letters not counted by kind: ${broker.deadLetters.error}`);
    }
  }
  if (worker !== null) {
    if (worker.status === null) {
      problems.push(`the worker's ${worker.url} did not answer: ${worker.error ?? "no answer"}`);
    } else if (worker.status !== 200) {
      problems.push(
        `the worker's ${worker.url} answered ${worker.status}${
          worker.body ? `: ${worker.body}` : ""
        }`,
      );
    }
  }
  if (store?.error !== undefined) warnings.push(store.error);
  const stats = store?.stats;
  if (stats !== undefined && stats.staleTempFiles > 0) {
    warnings.push(
      `${plural(stats.staleTempFiles, "temp file")} older than 1 h in ${stats.dataDir}: ` +
        `left by a crash ('telemetry verify --fix' removes ${
          stats.staleTempFiles === 1 ? "it" : "them"
        })`,
    );
  }
  if (stats !== undefined && stats.unreadable > 0) {
    warnings.push(
      `${plural(stats.unreadable, "entry", "entries")} of ${stats.dataDir} could not be read`,
    );
  }
  return { healthy: problems.length === 0, problems, warnings };
}

/**
 * The screen: queues, dead letters by kind, store, worker, warnings, verdict.
 *
 * @param report What the run found.
 * @param assessment Its verdict.
 * @returns The lines to print (problems themselves go to stderr, one line each).
 */
export function statusText(report: StatusReport, assessment: Assessment): string[] {
  const { env, broker, store, worker } = report;
  const lines = [`env ${env}  broker ${broker.url}  at ${report.at.toISOString()}`, ""];
  if (broker.failure !== undefined) {
    lines.push(`broker: ${broker.failure.kind}`);
  } else {
    const rows = QUEUE_ROLES.map((role) => queueRow(ROLE_LABELS[role], broker.queues[role]));
    lines.push(...table([["queue", "name", "messages", "consumers"], ...rows]));
    lines.push(`dead letters by kind: ${kindsText(report)}`);
  }
  if (store !== null) lines.push(`store: ${storeText(store)}`);
  if (worker !== null) lines.push(`worker: ${workerText(worker)}`);
  lines.push("");
  for (const warning of assessment.warnings) lines.push(`warning: ${warning}`);
  const count = assessment.problems.length;
  lines.push(
    assessment.healthy ? "status: healthy" : `status: unhealthy (${plural(count, "problem")})`,
  );
  return lines;
}

/**
 * The JSON object of `--json`: the same data as the screen, raw numbers.
 *
 * @param report What the run found.
 * @param assessment Its verdict.
 * @returns An object ready for `JSON.stringify`.
 */
export function statusJson(report: StatusReport, assessment: Assessment): Record<string, unknown> {
  const { env, broker, store, worker, maxDlq } = report;
  const kinds = broker.deadLetters;
  const stats = store?.stats;
  return {
    env,
    at: report.at.toISOString(),
    healthy: assessment.healthy,
    problems: assessment.problems,
    warnings: assessment.warnings,
    broker: {
      url: broker.url,
      reachable: broker.failure === undefined,
      error: broker.failure?.message ?? null,
    },
    queues: Object.fromEntries(
      QUEUE_ROLES.map((role) => {
        const { name, exists, messages, consumers } = broker.queues[role];
        return [role, { name, exists, messages, consumers }];
      }),
    ),
    dead_letters: {
      queue: broker.queues.dead_letter.name,
      messages: broker.queues.dead_letter.messages,
      max: maxDlq,
      by_kind: kinds?.byKind ?? null,
      scanned: kinds?.scanned ?? 0,
      complete: kinds?.complete ?? broker.queues.dead_letter.messages === 0,
      error: kinds?.error ?? null,
    },
    store: store === null ? null : {
      data_dir: stats?.dataDir ?? store.dataDir,
      matches: stats?.matches ?? null,
      bytes: stats?.bytes ?? null,
      without_file: stats?.withoutFile ?? null,
      irregular: stats?.irregular ?? null,
      temp_files: stats?.tempFiles ?? null,
      temp_bytes: stats?.tempBytes ?? null,
      stale_temp_files: stats?.staleTempFiles ?? null,
      unreadable: stats?.unreadable ?? null,
      seconds: stats === undefined ? null : Math.round(stats.seconds * 1000) / 1000,
      error: store.error ?? null,
    },
    worker: worker === null ? null : {
      url: worker.url,
      reachable: worker.status !== null,
      status: worker.status,
      body: worker.body,
      error: worker.error ?? null,
    },
  };
}

function queueRow(label: string, queue: QueueState): string[] {
  if (queue.exists === false) return [label, queue.name, "missing", "-"];
  return [label, queue.name, String(queue.messages ?? "-"), String(queue.consumers ?? "-")];
}

function kindsText(report: StatusReport): string {
  const { deadLetters: kinds, queues } = report.broker;
  const total = queues.dead_letter.messages;
  if (kinds === null) return total === null ? "-" : "none";
  const counts = Object.entries(kinds.byKind).sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind} ${n}`).join(", ");
  const part = kinds.complete ? "" : ` (the first ${kinds.scanned} of ${total ?? "?"})`;
  if (kinds.error !== undefined && kinds.scanned === 0) return "not counted (see warning)";
  return `${counts || "none"}${part}`;
}

function storeText(store: NonNullable<StatusReport["store"]>): string {
  const stats = store.stats;
  if (stats === undefined) return `${store.dataDir}: not read (see warning)`;
  const temp = stats.tempFiles === 0
    ? "no temp files"
    : `${plural(stats.tempFiles, "temp file")} (${
      formatBytes(stats.tempBytes)
    }, ${stats.staleTempFiles} older than 1 h)`;
  return `${stats.dataDir}: ${plural(stats.matches, "match", "matches")}, ` +
    `${formatBytes(stats.bytes)}; ${temp}; ` +
    `${plural(stats.withoutFile, "match dir")} without raw.json.gz (${stats.seconds.toFixed(1)} s)`;
}

function workerText(worker: HealthAnswer): string {
  if (worker.status === null) return `${worker.url}: no answer: ${worker.error ?? "-"}`;
  return `${worker.url}: ${worker.status}${worker.body ? ` ${worker.body}` : ""}`;
}

/** Left-aligned text columns, numbers right-aligned. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  return rows.map((row) =>
    row.map((cell, i) => {
      const width = widths[i] ?? 0;
      return i >= 2 ? cell.padStart(width) : cell.padEnd(width);
    }).join("  ").trimEnd()
  );
}

/**
 * Bytes in binary units with one decimal (`2.4 GiB`), plain below 1 KiB.
 *
 * @param bytes A byte count.
 * @returns The rendered size.
 */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}
