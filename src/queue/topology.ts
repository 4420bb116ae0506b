/**
 * The queues and exchange of the telemetry stage, named and declared the way
 * the services already in production do (`{type}.{step}.{env}`, durable, no
 * arguments), plus the retry queue that dead-letters back after a delay. With
 * `--queue-type quorum` every queue is a quorum queue instead (see
 * {@linkcode quorumArguments}).
 *
 * @module
 */

/** The queue types `--queue-type` takes. */
export const QUEUE_TYPES = ["classic", "quorum"] as const;

/** The type of every queue the worker declares. */
export type QueueType = typeof QUEUE_TYPES[number];

/**
 * The `x-delivery-limit` of the quorum queues the tools read and give back
 * (the job queue and the DLQ). The broker counts every return of a message
 * (a worker stopped or killed, a lost connection, a node loss, each
 * `dlq list` or `status` that reads the DLQ: RabbitMQ 3.10 to 4.2) and drops
 * a message past the limit (RabbitMQ 4 applies 20 when none is set). Our own
 * rule counts starts (`--max-deliveries`), so the broker's limit must never
 * be the one that decides: at a million, a `status` every minute would take
 * about two years to reach it. A positive number reads the same in every
 * version (`-1`, "no limit", exists only since 4.0).
 */
export const QUORUM_DELIVERY_LIMIT = 1_000_000;

/** The names the worker uses in one environment. */
export interface TopologyNames {
  /** The queue jobs are consumed from: `match.telemetry.{env}`. */
  queue: string;
  /** The topic exchange bound to it: `match.exchange.{env}`. */
  exchange: string;
  /** The binding key: `match.telemetry`. */
  routingKey: string;
  /** Where transient failures wait: `match.telemetry.retry.{env}`. */
  retryQueue: string;
  /** Where permanent failures go: `dlq.telemetry.{env}`. */
  deadLetterQueue: string;
  /** Where stored files are announced: `match.processing.telemetry.{env}` by default. */
  publishQueue: string;
  /** The type every queue is declared with. @default {"classic"} */
  queueType?: QueueType;
}

/** The channel operations {@linkcode declareTopology} needs (a subset of amqp-client's `AMQPChannel`). */
export interface TopologyChannel {
  /** Declares a queue. */
  queueDeclare(
    name: string,
    params: { durable: boolean },
    args?: Record<string, unknown>,
  ): Promise<unknown>;
  /** Declares an exchange. */
  exchangeDeclare(name: string, type: "topic", params: { durable: boolean }): Promise<unknown>;
  /** Binds a queue to an exchange. */
  queueBind(queue: string, exchange: string, routingKey: string): Promise<unknown>;
  /** The connection, for the side channels of quorum declarations (see {@linkcode declareTopology}). */
  readonly connection?: { channel(): Promise<SideChannel> };
}

/** A channel of its own for one declaration that the broker may refuse (which closes it). */
export interface SideChannel extends Pick<TopologyChannel, "queueDeclare"> {
  /** Called when the broker closes the channel. */
  onerror: (reason: string) => void;
  /** Whether it is closed. */
  readonly closed: boolean;
  /** Closes it. */
  close(): Promise<unknown>;
}

/**
 * The names of one environment.
 *
 * @param env The environment suffix, e.g. `prod`.
 * @param publishQueue The processing queue, when not the default.
 * @returns Every queue and exchange name.
 *
 * @example
 * ```ts
 * import { topologyNames } from "./topology.ts";
 * const names = topologyNames("prod");
 * if (names.retryQueue !== "match.telemetry.retry.prod") throw new Error("unexpected");
 * ```
 */
export function topologyNames(env: string, publishQueue?: string): TopologyNames {
  return {
    queue: `match.telemetry.${env}`,
    exchange: `match.exchange.${env}`,
    routingKey: "match.telemetry",
    retryQueue: `match.telemetry.retry.${env}`,
    deadLetterQueue: `dlq.telemetry.${env}`,
    publishQueue: publishQueue ?? `match.processing.telemetry.${env}`,
  };
}

/**
 * The arguments of each quorum queue. The retry queue dead-letters back into
 * the job queue when a message's `expiration` (the `--retry-delay`) runs out,
 * `at-least-once` so that no message is dropped on the way (which needs
 * `x-overflow: reject-publish`). The job queue and the DLQ, which the
 * worker and the operator tools read and give back, carry
 * {@linkcode QUORUM_DELIVERY_LIMIT}.
 *
 * @param names The names.
 * @returns The arguments of each queue, by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quorumArguments, topologyNames } from "./topology.ts";
 * const names = topologyNames("prod");
 * assert.equal(quorumArguments(names)[names.retryQueue]?.["x-dead-letter-strategy"], "at-least-once");
 * ```
 */
export function quorumArguments(names: TopologyNames): Record<string, Record<string, unknown>> {
  const quorum = { "x-queue-type": "quorum" };
  const limited = { ...quorum, "x-delivery-limit": QUORUM_DELIVERY_LIMIT };
  return {
    [names.queue]: limited,
    [names.retryQueue]: {
      ...quorum,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": names.queue,
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
    },
    [names.deadLetterQueue]: limited,
    [names.publishQueue]: quorum,
  };
}

/**
 * Declares every queue, the exchange and the binding; idempotent, so it runs
 * on every (re)connect. Declaring a queue that exists with other arguments
 * makes the broker close the channel (406 PRECONDITION_FAILED).
 *
 * The retry queue carries only its dead-letter arguments: the delay is set
 * per message (`expiration`), so a new `--retry-delay` needs no new queue.
 *
 * Classic (the default): every queue durable, with no arguments but the
 * retry queue's, as the services already running declare them. Quorum:
 * {@linkcode quorumArguments}, each queue declared on a side channel of its
 * own. A quorum queue that exists with other arguments than ours (declared
 * by another service) is taken as it is, apart from its type, except the
 * retry queue, which is ours alone. A queue of another type than
 * `names.queueType` is an error in one line naming the queue, its type and
 * the `--queue-type` to pass.
 *
 * @param channel An open channel.
 * @param context The names (and the queue type).
 * @returns When everything is declared.
 * @throws The channel's error when the broker refuses a declaration; for a
 * queue of another type, or a retry queue left with the arguments of an
 * older version, an error that says what to do.
 *
 * @example
 * ```ts ignore
 * import { declareTopology, topologyNames } from "./topology.ts";
 * await declareTopology(channel, { names: { ...topologyNames("prod"), queueType: "quorum" } });
 * ```
 */
export async function declareTopology(
  channel: TopologyChannel,
  context: { names: TopologyNames },
): Promise<void> {
  const { names } = context;
  const type = names.queueType ?? "classic";
  const quorum = quorumArguments(names);
  const declare = async (queue: string, classicArgs?: Record<string, unknown>) => {
    try {
      if (type === "quorum") {
        await declareQuorum(channel, queue, {
          args: quorum[queue] ?? {},
          adopt: queue !== names.retryQueue,
        });
      } else if (classicArgs === undefined) await channel.queueDeclare(queue, { durable: true });
      else await channel.queueDeclare(queue, { durable: true }, classicArgs);
    } catch (err) {
      throw queueTypeError(err, { queue, type }) ?? err;
    }
  };
  await declare(names.queue);
  await channel.exchangeDeclare(names.exchange, "topic", { durable: true });
  await channel.queueBind(names.queue, names.exchange, names.routingKey);
  try {
    await declare(names.retryQueue, {
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": names.queue,
    });
  } catch (err) {
    if (!/PRECONDITION_FAILED/.test(String(err)) || err instanceof QueueTypeError) throw err;
    throw new Error(
      `(406 PRECONDITION_FAILED) the retry queue ${names.retryQueue} has the arguments of an ` +
        `older version (x-message-ttl): let it drain, then run ` +
        `'rabbitmqctl delete_queue ${names.retryQueue} --if-empty' and start the worker again`,
      { cause: err },
    );
  }
  await declare(names.deadLetterQueue);
  await declare(names.publishQueue);
}

/** A queue exists with another type than the one declared. */
export class QueueTypeError extends Error {
  /** The queue. */
  readonly queue: string;
  /** Its type on the broker (`classic` when it has no `x-queue-type`). */
  readonly existing: string;

  /**
   * @param queue The queue.
   * @param types Its type on the broker, and the one declared.
   * @param options The broker's error.
   */
  constructor(
    queue: string,
    types: { existing: string; declared: QueueType },
    options?: { cause?: unknown },
  ) {
    const { existing, declared } = types;
    const fix = (QUEUE_TYPES as readonly string[]).includes(existing)
      ? `pass --queue-type ${existing}`
      : `--queue-type takes ${QUEUE_TYPES.join(" or ")}`;
    super(
      `(406 PRECONDITION_FAILED) queue ${queue} is a ${existing} queue, not ${declared}: ${fix}, ` +
        `or let it drain and delete it ('rabbitmqctl delete_queue ${queue} --if-empty') ` +
        `to have it declared ${declared}`,
      options,
    );
    this.name = "QueueTypeError";
    this.queue = queue;
    this.existing = existing;
  }
}

/** One argument the broker found inequivalent, with its value on the broker (undefined: none). */
export interface Inequivalent {
  /** The argument (`x-queue-type`, `x-dead-letter-exchange`, `durable`, ...). */
  arg: string;
  /** Its value on the broker; undefined when the queue has none. */
  current: string | number | undefined;
}

/**
 * Reads the broker's `inequivalent arg` refusal, e.g. `inequivalent arg
 * 'x-queue-type' for queue 'q' in vhost '/': received none but current is
 * the value 'quorum' of type 'longstr'` (also read by `status.ts`).
 *
 * @param err The declare's error.
 * @returns The argument and its value on the broker, or undefined for any other error.
 *
 * @example
 * ```ts
 * import { inequivalentArg } from "./topology.ts";
 * const err = new Error("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' " +
 *   "in vhost '/': received 'classic' but current is 'quorum' (406)");
 * if (inequivalentArg(err)?.current !== "quorum") throw new Error("unexpected");
 * ```
 */
export function inequivalentArg(err: unknown): Inequivalent | undefined {
  const match =
    /inequivalent arg '([^']+)' for queue '[^']*' in vhost '[^']*': received .* but current is (none|the value '([^']*)' of type '([^']*)'|'([^']*)')/
      .exec(String(err instanceof Error ? err.message : err));
  if (match === null) return undefined;
  const [, arg, none, typedValue, valueType, bareValue] = match;
  if (none === "none") return { arg: arg!, current: undefined };
  const value = typedValue ?? bareValue ?? "";
  const numeric = /^-?\d+(\.\d+)?$/.test(value) && valueType !== "longstr";
  return { arg: arg!, current: numeric ? Number(value) : value };
}

/** The broker's refusal of a queue's type, as a {@linkcode QueueTypeError}; else undefined. */
function queueTypeError(
  err: unknown,
  context: { queue: string; type: QueueType },
): QueueTypeError | undefined {
  if (err instanceof QueueTypeError) return err;
  const found = inequivalentArg(err);
  if (found?.arg !== "x-queue-type") return undefined;
  const existing = found.current === undefined ? "classic" : String(found.current);
  return new QueueTypeError(context.queue, { existing, declared: context.type }, { cause: err });
}

/**
 * Declares a quorum queue on side channels (a refusal closes the channel it
 * came on). With `adopt`, an argument the existing queue has otherwise (or
 * lacks) is taken as the broker reports it, and the declare tried again:
 * the queue is used as its owner declared it. Its type is never adopted.
 */
async function declareQuorum(
  channel: TopologyChannel,
  queue: string,
  options: { args: Record<string, unknown>; adopt: boolean },
): Promise<void> {
  const source = channel.connection;
  if (source === undefined) throw new Error("quorum queues are declared on a channel's connection");
  const args = { ...options.args };
  for (let tries = 0;; tries++) {
    const side = await source.channel();
    side.onerror = () => {}; // a refusal closes this channel only
    try {
      await side.queueDeclare(queue, { durable: true }, args);
      return;
    } catch (err) {
      const found = inequivalentArg(err);
      if (!options.adopt || found === undefined || found.arg === "x-queue-type" || tries > 8) {
        throw err;
      }
      if (found.current === undefined) delete args[found.arg];
      else args[found.arg] = found.current;
    } finally {
      if (!side.closed) await side.close().catch(() => {});
    }
  }
}
