/**
 * `telemetry enqueue`: queues download jobs to `match.telemetry.{env}` the
 * way the match stage publishes them. Each line is validated exactly as the
 * worker will validate it (`parseJob`, then the URL policy), so nothing that
 * `consume` would dead-letter for its shape is ever queued. Publishes are
 * pipelined (a `Publisher`, through `publishRun`) and a job is
 * reported `queued` only once the broker confirmed it into the queue.
 *
 * @module
 */

import { errorLine, type TelemetryError } from "../core/errors.ts";
import { checkUrl, type UrlPolicy } from "../core/http/url_policy.ts";
import { denoFileSystem } from "../core/store/file_system.ts";
import { rawPath } from "../core/store/storage.ts";
import type { BrokerSettings } from "./broker_settings.ts";
import { type Failure, failureOf, type Job, parseJob } from "./messages.ts";
import { publishRun, type PublishTotals, publishTotals } from "./publish_target.ts";

/** What became of one job. */
export type EnqueueOutcome =
  /** Confirmed by the broker into the queue. */
  | "queued"
  /** Valid, and would be queued (`--dry-run`). */
  | "valid"
  /** Not a job `consume` would accept; not published. */
  | "refused"
  /** Its `raw.json.gz` is already stored (`--skip-stored`); not published. */
  | "skipped"
  /** Sent, but not confirmed into the queue: it may or may not be there. */
  | "unconfirmed";

/** One job's result. */
export interface EnqueueResult {
  /** Its line in the jobs file; undefined for the job given on the command line. */
  line: number | undefined;
  /** The outcome. */
  outcome: EnqueueOutcome;
  /** Its match id, when it had a valid one. */
  matchId: string | undefined;
  /** Why it was refused or not confirmed (one line). */
  error?: string;
  /**
   * Machine-readable reason of a refusal (`bad_body`, `missing_field`,
   * `bad_match_id`, `url_refused`; `bad_job` for a line longer than the limit).
   */
  code?: string;
  /** The stored file of a skipped job. */
  path?: string;
}

/** The totals of a run (`error`: broker lost, a publish failed, interrupted). */
export interface EnqueueSummary extends PublishTotals {
  /** Jobs confirmed into the queue. */
  queued: number;
  /** Jobs found valid by a dry run. */
  valid: number;
  /** Lines refused. */
  refused: number;
  /** Jobs left out because their file is stored. */
  skipped: number;
  /** Consumers of the queue when the run started (undefined in a dry run). */
  consumers: number | undefined;
  /**
   * When the run stopped early: the first line whose job is not known to be
   * queued. Every valid job before it was confirmed (or refused, or
   * skipped), so re-sending the file from this line on loses nothing; jobs
   * after it that were confirmed get queued twice, which the worker
   * tolerates (the second finds the file stored).
   */
  resumeLine: number | undefined;
}

/** One job to queue: a line of a jobs file, or the job given on the command line. */
export interface EnqueueInput {
  /** Its 1-based line number; undefined for the command-line job. */
  line?: number | undefined;
  /** The JSON object, as text. */
  text: string;
  /** Set when the line was refused before it was read as JSON (longer than the limit). */
  error?: TelemetryError | undefined;
}

/** Settings of {@linkcode runEnqueue}. */
export interface EnqueueSettings {
  /** Broker and queue names. */
  broker: BrokerSettings;
  /** The URL policy `consume` applies (from `--allow-host`, `--allow-http`). */
  policy: UrlPolicy;
  /** Validate and count only; no broker needed. @default {false} */
  dryRun?: boolean;
  /** With a data dir: leave out jobs whose `raw.json.gz` is stored there (`--skip-stored`). */
  skipStoredIn?: string | undefined;
  /** How long each publish may wait for its confirm, in milliseconds. @default {DEFAULT_CONFIRM_TIMEOUT_MS} */
  confirmTimeoutMs?: number;
  /** Publishes in flight at most. @default {DEFAULT_PUBLISH_WINDOW} */
  windowSize?: number;
  /** How long the connect may take, in milliseconds. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
}

/** Callbacks and signal of {@linkcode runEnqueue}. */
export interface EnqueueHooks {
  /** Receives every result, as it is known (a queued job once confirmed). */
  onResult: (result: EnqueueResult) => void;
  /** Receives the target queue once connected (before any job). */
  onConnected?: (target: { queue: string; consumers: number }) => void;
  /** Stops reading jobs (Ctrl-C); what was sent is still confirmed and reported. */
  signal?: AbortSignal | undefined;
}

/** A job line that passed {@linkcode validateJob}, or why it did not. */
export type JobCheck =
  | { job: Job; failure?: undefined }
  | { job?: undefined; failure: Failure; matchId: string | undefined };

/**
 * Validates a job line exactly as `consume` will: `parseJob` (a JSON
 * object, `match_id` and `telemetry_url` strings, a valid match id), then
 * the URL policy `consume` downloads with.
 *
 * @param text The JSON object, as text.
 * @param policy The URL policy.
 * @returns The job, or the failure `consume` would dead-letter it with
 * (codes `bad_body`, `missing_field`, `bad_match_id`, `url_refused`) and
 * its match id when it had a valid one.
 *
 * @example
 * ```ts
 * import { validateJob } from "./enqueue.ts";
 * const policy = { allowHosts: ["telemetry-cdn.pubg.com"], allowHttp: false };
 * const ok = validateJob(
 *   '{"match_id":"abc","telemetry_url":"https://telemetry-cdn.pubg.com/x-telemetry.json"}',
 *   policy,
 * );
 * if (ok.job?.matchId !== "abc") throw new Error("unexpected");
 * const bad = validateJob('{"match_id":"abc"}', policy);
 * if (bad.failure?.code !== "missing_field") throw new Error("unexpected");
 * ```
 */
export function validateJob(text: string, policy: UrlPolicy): JobCheck {
  let job: Job | undefined;
  try {
    job = parseJob(text);
    checkUrl(job.url, policy);
    return { job };
  } catch (err) {
    return { failure: failureOf(err), matchId: job?.matchId };
  }
}

/**
 * The message body of a job: the job's object as given (optional fields
 * and all), plus `environment` and `queue_target`, like the match stage's
 * publishes.
 *
 * @param job A validated job.
 * @param target The environment and the queue.
 * @returns The JSON body.
 *
 * @example
 * ```ts
 * import { jobBody } from "./enqueue.ts";
 * const body = jobBody(
 *   { matchId: "abc", url: "https://h/x", body: { match_id: "abc", telemetry_url: "https://h/x" } },
 *   { environment: "prod", queue: "match.telemetry.prod" },
 * );
 * if (JSON.parse(body).queue_target !== "match.telemetry.prod") throw new Error("unexpected");
 * ```
 */
export function jobBody(job: Job, target: { environment: string; queue: string }): string {
  return JSON.stringify({
    ...job.body,
    environment: target.environment,
    queue_target: target.queue,
  });
}

/**
 * Validates, filters and queues jobs; never throws for a bad line or a
 * broker failure: those are results and the summary's `error`.
 *
 * @param inputs The jobs, read lazily (a file of any size).
 * @param settings Broker, policy, dry run, store to skip, deadlines.
 * @param hooks Where results go; the stop signal.
 * @returns The totals.
 * @throws {TelemetryError} Only when the broker cannot be used at the start
 * (unreachable, refused, queue missing): nothing was sent.
 *
 * @example
 * ```ts ignore
 * import { runEnqueue } from "./enqueue.ts";
 * const summary = await runEnqueue([{ line: 1, text: '{"match_id":"a","telemetry_url":"https://…"}' }], {
 *   broker, policy,
 * }, { onResult: (r) => console.log(r.outcome, r.matchId) });
 * ```
 */
export async function runEnqueue(
  inputs: Iterable<EnqueueInput> | AsyncIterable<EnqueueInput>,
  settings: EnqueueSettings,
  hooks: EnqueueHooks,
): Promise<EnqueueSummary> {
  const { broker, policy, dryRun = false, skipStoredIn } = settings;
  const { confirmTimeoutMs, windowSize, connectTimeoutMs } = settings;
  const { onResult, signal } = hooks;
  const queue = broker.names.queue;
  const summary: EnqueueSummary = {
    ...publishTotals(queue, dryRun),
    consumers: undefined,
    resumeLine: undefined,
    queued: 0,
    valid: 0,
    refused: 0,
    skipped: 0,
  };
  /** Lines sent and not confirmed, and the first line not sent at all. */
  const unconfirmed: number[] = [];
  let firstUnsent: number | undefined;
  let lastLine = 0;
  const report = (result: EnqueueResult) => {
    summary[result.outcome]++;
    onResult(result);
  };
  const options = { broker, confirmTimeoutMs, windowSize, connectTimeoutMs, signal };
  await publishRun(summary, async (target) => {
    if (target !== undefined) {
      summary.consumers = target.consumers;
      hooks.onConnected?.({ queue, consumers: target.consumers });
    }
    const iterator = Symbol.asyncIterator in inputs
      ? inputs[Symbol.asyncIterator]()
      : inputs[Symbol.iterator]();
    // Ctrl-C also ends a wait for the next line (a pipe that sends nothing more).
    const aborted = new Promise<"aborted">((resolve) => {
      if (signal?.aborted) resolve("aborted");
      else signal?.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    try {
      for (;;) {
        const next = signal?.aborted ? "aborted" : await Promise.race([iterator.next(), aborted]);
        if (next === "aborted") {
          firstUnsent = lastLine + 1;
          summary.error = "interrupted";
          break;
        }
        if (next.done === true) break;
        const input = next.value;
        if (input.line !== undefined) lastLine = input.line;
        const check: JobCheck = input.error === undefined
          ? validateJob(input.text, policy)
          : { failure: failureOf(input.error), matchId: undefined };
        if (check.failure !== undefined) {
          const { failure, matchId } = check;
          report({
            line: input.line,
            outcome: "refused",
            matchId,
            error: input.line === undefined
              ? failure.message
              : `line ${input.line}: ${failure.message}`,
            code: failure.code,
          });
          continue;
        }
        const valid = check.job;
        if (skipStoredIn !== undefined) {
          const path = rawPath(skipStoredIn, valid.matchId);
          let stored: boolean;
          try {
            stored = await denoFileSystem.fileSize(path) !== undefined;
          } catch (err) {
            summary.error = `cannot check the store for ${path}: ${errorLine(err)}`;
            firstUnsent = input.line;
            break;
          }
          if (stored) {
            report({ line: input.line, outcome: "skipped", matchId: valid.matchId, path });
            continue;
          }
        }
        if (target === undefined) {
          report({ line: input.line, outcome: "valid", matchId: valid.matchId });
          continue;
        }
        const line = input.line;
        const sent = await target.publish(
          jobBody(valid, { environment: broker.env, queue }),
          (error) => {
            if (error === undefined) {
              report({ line, outcome: "queued", matchId: valid.matchId });
              return;
            }
            if (line !== undefined) unconfirmed.push(line);
            report({ line, outcome: "unconfirmed", matchId: valid.matchId, error: error.message });
          },
        );
        if (!sent) {
          // A publish failed, or Ctrl-C came while this job waited to be sent: stop here.
          firstUnsent = line;
          if (target.publisher.failure === undefined) summary.error = "interrupted";
          break;
        }
      }
    } catch (err) {
      // The jobs could not be read to the end (stdin closed with an error, a read error).
      summary.error = `cannot read the jobs: ${errorLine(err)}`;
      firstUnsent = lastLine + 1;
    }
  }, options);
  if (summary.error !== undefined) {
    const candidates = [...unconfirmed, ...(firstUnsent === undefined ? [] : [firstUnsent])];
    if (candidates.length > 0) summary.resumeLine = Math.min(...candidates);
  }
  return summary;
}
