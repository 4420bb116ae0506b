/**
 * The one place where a delivery is settled, by the rule table
 * {@linkcode SETTLE_RULES}: outcome × delivery count → where the message
 * goes, with which headers, then ack, nack with requeue, or leave unacked.
 * Every path acks only after a confirmed publish, and never on a dead
 * channel.
 *
 * @module
 */

import type { AMQPMessage } from "amqp-client";
import type { DownloadResult } from "../core/download.ts";
import { errorLine } from "../core/errors.ts";
import type { ConsumeConfig } from "./config.ts";
import {
  deadLetterHeaders,
  type Failure,
  type Job,
  processingBody,
  retryHeaders,
} from "./messages.ts";
import type { PublishProperties } from "./publisher.ts";
import type { Session } from "./session.ts";

/** What processing a delivery came to, before settling. */
export type JobOutcome =
  | { type: "stored"; job: Job; result: DownloadResult }
  | { type: "failed"; job: Job | undefined; failure: Failure }
  | { type: "aborted"; job: Job | undefined; reason?: string }
  | { type: "crashed"; job: Job; starts: number };

/** How a delivery was settled (the `outcome` of the job's log line). */
export interface Settlement {
  /**
   * `downloaded`, `already_exists`, `retry`, `dead_lettered`, `requeued`
   * (given back to its queue, uncounted: a store fault), or `unacked` (left
   * for redelivery).
   */
  outcome: "downloaded" | "already_exists" | "retry" | "dead_lettered" | "requeued" | "unacked";
  /** This delivery's number (1 for the first). */
  attempt: number;
  /** Why it failed or was left unacked. */
  error?: string;
  /** The failure's kind, for failed jobs. */
  kind?: Failure["kind"];
}

/** Where a settled delivery goes. */
export type Destination = "processing" | "retry" | "dead_letter" | "none";

/** One row of {@linkcode SETTLE_RULES}: a case, and what settling it does. */
export interface SettleRule {
  /** What the job came to. */
  outcome: string;
  /** Which deliveries the row covers. */
  deliveries: string;
  /** The queue a message goes to (`none`: nothing is published). */
  to: Destination;
  /** What is published: the body and its headers. */
  publishes: string;
  /**
   * Then: `ack`; `nack, requeue` (back to its place in its queue at once);
   * or `leave unacked` (the broker redelivers it when the channel closes).
   */
  then: "ack" | "nack, requeue" | "leave unacked";
  /** The `outcome` of the job's log line. */
  logged: string;
}

/** The name of each row of {@linkcode SETTLE_RULES}. */
export type SettleRuleName =
  | "stored"
  | "transient_retry"
  | "transient_exhausted"
  | "rejected"
  | "crashed"
  | "store_fault"
  | "interrupted"
  | "publish_failed";

/**
 * The delivery rule, one row per case: outcome × delivery count → where the
 * message goes, with which headers, then ack or leave unacked. `settle()`
 * follows it through {@linkcode ruleFor}; the consume docs show it as it is
 * (a test compares them).
 */
export const SETTLE_RULES: Readonly<Record<SettleRuleName, SettleRule>> = {
  stored: {
    outcome: "stored (downloaded, or already there)",
    deliveries: "any",
    to: "processing",
    publishes: "the processing message (JSON, with `environment`, `queue_target`, the path)",
    then: "ack",
    logged: "`downloaded` / `already_exists`",
  },
  transient_retry: {
    outcome: "transient failure",
    deliveries: "below `--max-deliveries`",
    to: "retry",
    publishes:
      "the original body; `x-attempts` = this delivery, `x-last-error`, expiration `--retry-delay`",
    then: "ack",
    logged: "`retry`",
  },
  transient_exhausted: {
    outcome: "transient failure",
    deliveries: "`--max-deliveries`",
    to: "dead_letter",
    publishes:
      "the original body; `x-error` `gave up after N deliveries: …` and the other `x-error*` headers",
    then: "ack",
    logged: "`dead_lettered`",
  },
  rejected: {
    outcome: "permanent or usage failure",
    deliveries: "any",
    to: "dead_letter",
    publishes: "the original body; `x-error`, `x-error-kind`, `x-error-code`, `x-attempts`, …",
    then: "ack",
    logged: "`dead_lettered`",
  },
  crashed: {
    outcome: "started and never finished (start marks of workers that died)",
    deliveries: "`--max-deliveries`",
    to: "dead_letter",
    publishes:
      "the original body; `x-error-kind` `redelivered`, `x-error` `started N times and never finished: …`",
    then: "ack",
    logged: "`dead_lettered`",
  },
  store_fault: {
    outcome:
      "a store fault (full, below `--min-free-space`, read-only, I/O error): the worker pauses",
    deliveries: "any",
    to: "none",
    publishes: "nothing",
    then: "nack, requeue",
    logged: "`requeued`",
  },
  interrupted: {
    outcome: "stopped on purpose (our stop, a lost session, a fatal error of the worker)",
    deliveries: "any",
    to: "none",
    publishes: "nothing",
    then: "leave unacked",
    logged: "`unacked`",
  },
  publish_failed: {
    outcome: "the publish or the ack failed (returned, nacked, no confirm in `--confirm-timeout`)",
    deliveries: "any",
    to: "none",
    publishes: "(the publish that failed); the session is ended",
    then: "leave unacked",
    logged: "`unacked`",
  },
};

/**
 * The row of {@linkcode SETTLE_RULES} an outcome falls in, before publishing
 * (`publish_failed` is decided by the publish itself).
 *
 * @param outcome What the job came to.
 * @param context The delivery's number and `--max-deliveries`.
 * @returns The row's name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ruleFor } from "./settle.ts";
 * const failure = { kind: "transient", code: "network", message: "reset" } as const;
 * assert.equal(ruleFor({ type: "failed", job: undefined, failure }, { attempt: 1, maxDeliveries: 5 }), "transient_retry");
 * assert.equal(ruleFor({ type: "failed", job: undefined, failure }, { attempt: 5, maxDeliveries: 5 }), "transient_exhausted");
 * ```
 */
export function ruleFor(
  outcome: JobOutcome,
  context: { attempt: number; maxDeliveries: number },
): Exclude<SettleRuleName, "publish_failed"> {
  switch (outcome.type) {
    case "stored":
      return "stored";
    case "aborted":
      return "interrupted";
    case "crashed":
      return "crashed";
    case "failed":
      // Never dead-lettered: the store is at fault, not the job.
      if (outcome.failure.kind === "store") return "store_fault";
      if (outcome.failure.kind !== "transient") return "rejected";
      return context.attempt < context.maxDeliveries ? "transient_retry" : "transient_exhausted";
  }
}

/**
 * {@linkcode SETTLE_RULES} as a Markdown table, for the consume docs.
 *
 * @returns The table, one line per row.
 */
export function settleRulesMarkdown(): string {
  const lines = [
    "| outcome | deliveries | published to | what | then | job line |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const queues: Record<Destination, string> = {
    processing: "`match.processing.telemetry.{env}`",
    retry: "`match.telemetry.retry.{env}`",
    dead_letter: "`dlq.telemetry.{env}`",
    none: "-",
  };
  for (const rule of Object.values(SETTLE_RULES)) {
    const cells = [
      rule.outcome,
      rule.deliveries,
      queues[rule.to],
      rule.publishes,
      rule.then,
      rule.logged,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** The headers in which a quorum queue counts the returns of a message. */
const BROKER_COUNT_HEADERS = ["x-delivery-count", "x-acquired-count"] as const;

/**
 * How many times a quorum queue has given a message back (a worker died or
 * stopped, a connection or node was lost), from the headers it sets on a
 * redelivery: `x-delivery-count` (RabbitMQ 3.x to 4.2 count every return in
 * it), or `x-acquired-count` (RabbitMQ 4.3 and later, which count only
 * failed deliveries in the other). Neither header: never given back.
 *
 * @param headers The delivery's headers.
 * @returns The returns (0 for a first delivery).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { brokerReturns } from "./settle.ts";
 * assert.equal(brokerReturns(undefined), 0);
 * assert.equal(brokerReturns({ "x-delivery-count": 2 }), 2);
 * assert.equal(brokerReturns({ "x-delivery-count": 0, "x-acquired-count": 3 }), 3);
 * ```
 */
export function brokerReturns(headers: Record<string, unknown> | undefined): number {
  let returns = 0;
  for (const name of BROKER_COUNT_HEADERS) {
    const value = Number(headers?.[name] ?? 0);
    if (Number.isInteger(value) && value > returns) returns = value;
  }
  return returns;
}

/**
 * Settles one delivery by its row of {@linkcode SETTLE_RULES}.
 *
 * @param message The delivery.
 * @param context The outcome, the delivery's number (earlier deliveries
 * plus unfinished starts, plus 1), the session it arrived on, the
 * configuration, the clock, and a signal that gives up a publish still
 * waiting (shutdown).
 * @returns How it was settled; never throws.
 */
export async function settle(
  message: AMQPMessage,
  context: {
    outcome: JobOutcome;
    attempt: number;
    session: Session;
    config: ConsumeConfig;
    now: () => Date;
    signal?: AbortSignal;
  },
): Promise<Settlement> {
  const { outcome, attempt, session, config, now, signal } = context;
  const rule = ruleFor(outcome, { attempt, maxDeliveries: config.maxDeliveries });
  if (outcome.type === "aborted") {
    const error = outcome.reason ?? "not finished: stopping or channel closed";
    return { outcome: "unacked", attempt, error };
  }
  if (!session.alive) return { outcome: "unacked", attempt, error: "channel closed" };
  if (rule === "store_fault" && outcome.type === "failed") {
    return await requeue(message, { session, attempt, failure: outcome.failure });
  }
  const { queue, body, properties, settled } = outcome.type === "stored"
    ? processingMessage(outcome, { attempt, config, now })
    : failureMessage(message, {
      rule,
      failure: outcome.type === "crashed" ? crashed(outcome.starts, attempt) : outcome.failure,
      attempt,
      config,
      now,
    });
  try {
    // While the broker blocks publishing, the publish waits for the end of
    // the alarm (or of the session, or of the worker's patience).
    await session.publisher.send(
      { queue, body, properties },
      signal === undefined ? {} : { signal },
    );
  } catch (err) {
    // The channel can no longer be trusted: end the session so the message is redelivered.
    session.fail(`publish to ${queue} failed: ${errorLine(err)}`);
    return { outcome: "unacked", attempt, error: errorLine(err) };
  }
  if (!session.alive) return { outcome: "unacked", attempt, error: "channel closed" };
  try {
    await message.ack();
  } catch (err) {
    session.fail(`ack failed: ${errorLine(err)}`);
    return { outcome: "unacked", attempt, error: errorLine(err) };
  }
  return settled;
}

/**
 * The `store_fault` row: the delivery goes back to its place in its queue
 * (`basic.nack` with requeue), for this worker once its store is usable
 * again or for any healthy worker meanwhile. Nothing is published, so it
 * works while the broker blocks publishers too, and no delivery is counted:
 * the worker removes this start's mark, and the broker's redelivered flag
 * is never read.
 */
async function requeue(
  message: AMQPMessage,
  context: { session: Session; attempt: number; failure: Failure },
): Promise<Settlement> {
  const { session, attempt, failure } = context;
  try {
    await message.nack(true);
  } catch (err) {
    session.fail(`nack failed: ${errorLine(err)}`);
    return { outcome: "unacked", attempt, error: errorLine(err) };
  }
  return { outcome: "requeued", attempt, error: failure.message, kind: failure.kind };
}

/** What one row publishes, and the settlement it logs once acked. */
interface Settling {
  queue: string;
  body: Uint8Array | string;
  properties: PublishProperties;
  settled: Settlement;
}

/** The `stored` row: the processing message. */
function processingMessage(
  outcome: Extract<JobOutcome, { type: "stored" }>,
  context: { attempt: number; config: ConsumeConfig; now: () => Date },
): Settling {
  const { attempt, config, now } = context;
  const queue = config.names.publishQueue;
  const body = processingBody(outcome.job, {
    result: outcome.result,
    workerId: config.workerId,
    environment: config.env,
    queue,
    now: now(),
  });
  return {
    queue,
    body,
    properties: { contentType: "application/json" }, // the body we build is JSON
    settled: { outcome: outcome.result.outcome, attempt },
  };
}

/** The failure rows: the original body to the retry queue or the DLQ. */
function failureMessage(
  message: AMQPMessage,
  context: {
    rule: SettleRuleName;
    failure: Failure;
    attempt: number;
    config: ConsumeConfig;
    now: () => Date;
  },
): Settling {
  const { rule, failure, attempt, config, now } = context;
  const body = message.body ?? new Uint8Array();
  if (SETTLE_RULES[rule].to === "retry") {
    return {
      queue: config.names.retryQueue,
      body,
      properties: {
        ...copyProperties(message),
        headers: retryHeaders(withoutBrokerCounts(message.properties.headers), {
          attempts: attempt,
          failure,
        }),
        // The wait in the retry queue, per message: see declareTopology().
        expiration: String(config.retryDelayMs),
      },
      settled: { outcome: "retry", attempt, error: failure.message, kind: failure.kind },
    };
  }
  const final = rule === "transient_exhausted"
    ? { ...failure, message: `gave up after ${attempt} deliveries: ${failure.message}` }
    : failure;
  return {
    queue: config.names.deadLetterQueue,
    body,
    properties: {
      ...copyProperties(message),
      headers: deadLetterHeaders(message.properties.headers, {
        failure: final,
        attempts: attempt,
        queue: config.names.queue,
        workerId: config.workerId,
        now: now(),
      }),
    },
    settled: { outcome: "dead_lettered", attempt, error: final.message, kind: final.kind },
  };
}

/**
 * The failure of a job whose last `starts` starts never finished: each time,
 * the worker died during it (killed, out of memory, a crash), since every
 * other way a job ends removes its start mark.
 */
function crashed(starts: number, attempts: number): Failure {
  const died = "the worker died during the job (killed, out of memory or crashed)";
  const earlier = attempts - starts;
  return {
    kind: "redelivered",
    code: "redelivered",
    message: earlier === 0
      ? `started ${starts} times and never finished: each time ${died}`
      : `gave up after ${attempts} deliveries: the last ${starts} started and never finished: ${died}`,
  };
}

/**
 * The headers without the broker's counts of this delivery: a quorum queue
 * sets them only on a redelivery, so a copy would pass for a count of the
 * retried message's first delivery.
 */
function withoutBrokerCounts(
  headers: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (headers === undefined) return undefined;
  const copy = { ...headers };
  for (const name of BROKER_COUNT_HEADERS) delete copy[name];
  return copy;
}

function copyProperties(message: AMQPMessage): PublishProperties {
  // user-id would be checked against our login; expiration would drop a DLQ entry.
  const { headers: _h, userId: _u, expiration: _e, ...rest } = message.properties;
  return rest;
}
