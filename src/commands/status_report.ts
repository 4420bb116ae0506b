/**
 * What `telemetry status` found, judged and rendered: the problems that
 * make it exit 1 (the broker cannot be read, nothing consumes the job
 * queue, too many dead letters, the worker's `/healthz` not answering 200,
 * a worker paused on a store fault among them), the warnings that do not
 * (the store's free space below the worker's default floor), and the screen
 * or JSON object an operator reads.
 *
 * @module
 */

import type { HealthAnswer } from "../core/http/health_probe.ts";
import {
  belowFloor,
  DEFAULT_FREE_SPACE_FLOOR,
  formatBytes,
  formatFloor,
  type FreeSpace,
} from "../core/store/free_space.ts";
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
  /** The store census and free space, their errors, or null when not asked (`--no-store`). */
  store: StoreReport | null;
  /** The worker's `/healthz`, or null without `--metrics-url`. */
  worker: HealthAnswer | null;
  /** `--max-dlq`, or null. */
  maxDlq: number | null;
}

/** What `status` read of the store. */
export interface StoreReport {
  /** The data dir, as given. */
  dataDir: string;
  /** The census, when the data dir could be walked. */
  stats?: StoreStats;
  /** Why it could not. */
  error?: string;
  /** The free space of its file system, when it could be read. */
  space?: FreeSpace;
  /** Why it could not. */
  spaceError?: string;
}

/** The start of the body of a `/healthz` that reports the worker paused on a store fault. */
const PAUSED_BODY = "unhealthy: store paused: ";

/**
 * Why the worker is paused, from its `/healthz` answer (503
 * `unhealthy: store paused: <reason>`); undefined when it is not.
 *
 * @param worker The `/healthz` answer.
 * @returns The reason, or undefined.
 *
 * @example
 * ```ts
 * import { pauseReason } from "./status_report.ts";
 * const answer = { url: "u", status: 503, body: "unhealthy: store paused: disk full" };
 * if (pauseReason(answer) !== "disk full") throw new Error("unexpected");
 * ```
 */
export function pauseReason(worker: HealthAnswer): string | undefined {
  const body = worker.body ?? "";
  if (worker.status !== 503 || !body.startsWith(PAUSED_BODY)) return undefined;
  return body.slice(PAUSED_BODY.length);
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
 * const q = (name: string, consumers: number) =>
 *   ({ name, exists: true, messages: 0, consumers, type: "classic" });
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
    } else if (input.unavailable !== undefined) {
      problems.push(`queue ${input.name} exists but is unavailable: ${input.unavailable}`);
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
      if (role !== "input" && queue.unavailable !== undefined) {
        warnings.push(
          `queue ${queue.name} (${ROLE_LABELS[role]}) is unavailable: ${queue.unavailable}`,
        );
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
    if (broker.typeError !== undefined) warnings.push(`queue types not read: ${broker.typeError}`);
  }
  if (worker !== null) {
    const paused = pauseReason(worker);
    if (worker.status === null) {
      problems.push(`the worker's ${worker.url} did not answer: ${worker.error ?? "no answer"}`);
    } else if (paused !== undefined) {
      problems.push(
        `the worker's ${worker.url} reports it is paused on the store: ${paused} ` +
          `(it takes no jobs until the store takes writes again)`,
      );
    } else if (worker.status !== 200) {
      problems.push(
        `the worker's ${worker.url} answered ${worker.status}${
          worker.body ? `: ${worker.body}` : ""
        }`,
      );
    }
  }
  if (store?.error !== undefined) warnings.push(store.error);
  else if (store?.spaceError !== undefined) warnings.push(store.spaceError);
  const space = store?.space;
  if (store !== null && space !== undefined && belowFloor(space, DEFAULT_FREE_SPACE_FLOOR)) {
    warnings.push(
      `${spaceText(space)} on the file system of ${store.dataDir}: below consume's default ` +
        `--min-free-space ${formatFloor(DEFAULT_FREE_SPACE_FLOOR)}, where a worker pauses`,
    );
  }
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
  const lines = [`env ${env}  broker ${brokerText(broker)}  at ${report.at.toISOString()}`, ""];
  if (broker.failure !== undefined) {
    lines.push(`broker: ${broker.failure.kind}`);
  } else {
    const rows = QUEUE_ROLES.map((role) => queueRow(ROLE_LABELS[role], broker.queues[role]));
    lines.push(...table([["queue", "name", "messages", "consumers", "type"], ...rows]));
    lines.push(`dead letters by kind: ${kindsText(report)}`);
  }
  if (store !== null) lines.push(`store: ${storeText(store)}`);
  if (store?.space !== undefined) lines.push(`store free space: ${spaceText(store.space)}`);
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
      node: broker.node ?? null,
      nodes: broker.nodes ?? [broker.url],
      reachable: broker.failure === undefined,
      error: broker.failure?.message ?? null,
    },
    queues: Object.fromEntries(
      QUEUE_ROLES.map((role) => {
        const { name, exists, messages, consumers, type, unavailable } = broker.queues[role];
        return [role, {
          name,
          exists,
          messages,
          consumers,
          type,
          unavailable: unavailable ?? null,
        }];
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
      free_bytes: store.space?.free ?? null,
      total_bytes: store.space?.total ?? null,
    },
    worker: worker === null ? null : {
      url: worker.url,
      reachable: worker.status !== null,
      status: worker.status,
      body: worker.body,
      error: worker.error ?? null,
      paused: worker.status === null ? null : pauseReason(worker) !== undefined,
      pause_reason: pauseReason(worker) ?? null,
    },
  };
}

/** The node read (and which of the listed ones), or the nodes listed when none answered. */
function brokerText(broker: BrokerStatus): string {
  const nodes = broker.nodes ?? [];
  if (nodes.length < 2) return broker.url;
  if (broker.node === undefined) return `${nodes.join(",")} (${nodes.length} nodes)`;
  const index = nodes.indexOf(broker.node);
  return `${broker.node} (node ${index + 1} of ${nodes.length})`;
}

function queueRow(label: string, queue: QueueState): string[] {
  if (queue.exists === false) return [label, queue.name, "missing", "-", "-"];
  if (queue.unavailable !== undefined) return [label, queue.name, "unavailable", "-", "-"];
  const { name, messages, consumers, type } = queue;
  return [label, name, String(messages ?? "-"), String(consumers ?? "-"), type ?? "-"];
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

/** `3.1 GiB free of 50.0 GiB (6%)`. */
function spaceText(space: FreeSpace): string {
  const share = space.total > 0 ? ` (${Math.floor((space.free / space.total) * 100)}%)` : "";
  return `${formatBytes(space.free)} free of ${formatBytes(space.total)}${share}`;
}

function storeText(store: StoreReport): string {
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
  const paused = pauseReason(worker);
  if (paused !== undefined) return `${worker.url}: ${worker.status} paused on the store: ${paused}`;
  return `${worker.url}: ${worker.status}${worker.body ? ` ${worker.body}` : ""}`;
}

/** Left-aligned text columns, the counts (third and fourth) right-aligned. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  return rows.map((row) =>
    row.map((cell, i) => {
      const width = widths[i] ?? 0;
      return i === 2 || i === 3 ? cell.padStart(width) : cell.padEnd(width);
    }).join("  ").trimEnd()
  );
}
