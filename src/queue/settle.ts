/**
 * The one place where a delivery is settled. Every path acks only after a
 * confirmed publish, and never on a dead channel:
 * - stored (downloaded or already there) → processing message → ack;
 * - transient, deliveries left → retry queue with `x-attempts` → ack;
 * - permanent, usage, or transient with no deliveries left → DLQ with the
 *   original body and `x-error*` headers → ack;
 * - started `--max-deliveries` times and never finished (its workers died
 *   during it: see the start marks in consumer.ts) → DLQ, kind `redelivered`;
 * - aborted by shutdown, stopped by a fatal error of the worker (a missing
 *   permission, an untrusted certificate), or any publish/ack failure → not
 *   acked: the broker redelivers it when the channel closes.
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
import { publishConfirmed, type PublishProperties } from "./publisher.ts";
import type { Session } from "./session.ts";

/** What processing a delivery came to, before settling. */
export type JobOutcome =
  | { type: "stored"; job: Job; result: DownloadResult }
  | { type: "failed"; job: Job | undefined; failure: Failure }
  | { type: "aborted"; job: Job | undefined; reason?: string }
  | { type: "crashed"; job: Job; starts: number };

/** How a delivery was settled (the `outcome` of the job's log line). */
export interface Settlement {
  /** `downloaded`, `already_exists`, `retry`, `dead_lettered`, or `unacked` (left for redelivery). */
  outcome: "downloaded" | "already_exists" | "retry" | "dead_lettered" | "unacked";
  /** This delivery's number (1 for the first). */
  attempt: number;
  /** Why it failed or was left unacked. */
  error?: string;
  /** The failure's kind, for failed jobs. */
  kind?: Failure["kind"];
}

/**
 * Settles one delivery according to its outcome.
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
  if (outcome.type === "aborted") {
    const error = outcome.reason ?? "not finished: stopping or channel closed";
    return { outcome: "unacked", attempt, error };
  }
  if (!session.alive) return { outcome: "unacked", attempt, error: "channel closed" };

  let queue: string;
  let body: Uint8Array | string;
  let properties: PublishProperties = {};
  let settled: Settlement;
  if (outcome.type === "stored") {
    queue = config.names.publishQueue;
    body = processingBody(outcome.job, {
      result: outcome.result,
      workerId: config.workerId,
      environment: config.env,
      queue,
      now: now(),
    });
    properties = { contentType: "application/json" }; // the body we build is JSON
    settled = { outcome: outcome.result.outcome, attempt };
  } else {
    const failure = outcome.type === "crashed" ? crashed(outcome.starts, attempt) : outcome.failure;
    const retry = failure.kind === "transient" && attempt < config.maxDeliveries;
    body = message.body ?? new Uint8Array();
    settled = {
      outcome: retry ? "retry" : "dead_lettered",
      attempt,
      error: failure.message,
      kind: failure.kind,
    };
    if (retry) {
      queue = config.names.retryQueue;
      properties = {
        ...copyProperties(message),
        headers: retryHeaders(message.properties.headers, { attempts: attempt, failure }),
        // The wait in the retry queue, per message: see declareTopology().
        expiration: String(config.retryDelayMs),
      };
    } else {
      queue = config.names.deadLetterQueue;
      const final = failure.kind === "transient"
        ? { ...failure, message: `gave up after ${attempt} deliveries: ${failure.message}` }
        : failure;
      settled.error = final.message;
      properties = {
        ...copyProperties(message),
        headers: deadLetterHeaders(message.properties.headers, {
          failure: final,
          attempts: attempt,
          queue: config.names.queue,
          workerId: config.workerId,
          now: now(),
        }),
      };
    }
  }

  try {
    await publishConfirmed(session.channel, {
      queue,
      body,
      properties,
      timeoutMs: config.confirmTimeoutMs,
      returned: session.returned,
      // While the broker blocks publishing, the publish waits for the end of
      // the alarm (or of the session, or of the worker's patience).
      flow: session.flow,
      signal: signal === undefined ? session.signal : AbortSignal.any([session.signal, signal]),
    });
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

function copyProperties(message: AMQPMessage): PublishProperties {
  // user-id would be checked against our login; expiration would drop a DLQ entry.
  const { headers: _h, userId: _u, expiration: _e, ...rest } = message.properties;
  return rest;
}
