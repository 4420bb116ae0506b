/**
 * The queues and exchange of the telemetry stage, named and declared the way
 * the services already in production do (`{type}.{step}.{env}`, durable, no
 * arguments), plus the retry queue that dead-letters back after a delay.
 *
 * @module
 */

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
 * Declares every queue, the exchange and the binding; idempotent, so it runs
 * on every (re)connect. Declaring a queue that exists with other arguments
 * makes the broker close the channel (406 PRECONDITION_FAILED).
 *
 * The retry queue carries only its dead-letter arguments: the delay is set
 * per message (`expiration`), so a new `--retry-delay` needs no new queue.
 *
 * @param channel An open channel.
 * @param context The names.
 * @returns When everything is declared.
 * @throws The channel's error when the broker refuses a declaration; for a
 * retry queue left with the arguments of an older version, an error that
 * says what to run.
 *
 * @example
 * ```ts ignore
 * import { declareTopology, topologyNames } from "./topology.ts";
 * await declareTopology(channel, { names: topologyNames("prod"), retryDelayMs: 60_000 });
 * ```
 */
export async function declareTopology(
  channel: TopologyChannel,
  context: { names: TopologyNames },
): Promise<void> {
  const { names } = context;
  await channel.queueDeclare(names.queue, { durable: true });
  await channel.exchangeDeclare(names.exchange, "topic", { durable: true });
  await channel.queueBind(names.queue, names.exchange, names.routingKey);
  try {
    await channel.queueDeclare(names.retryQueue, { durable: true }, {
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": names.queue,
    });
  } catch (err) {
    if (!/PRECONDITION_FAILED/.test(String(err))) throw err;
    throw new Error(
      `(406 PRECONDITION_FAILED) the retry queue ${names.retryQueue} has the arguments of an ` +
        `older version (x-message-ttl): let it drain, then run ` +
        `'rabbitmqctl delete_queue ${names.retryQueue} --if-empty' and start the worker again`,
      { cause: err },
    );
  }
  await channel.queueDeclare(names.deadLetterQueue, { durable: true });
  await channel.queueDeclare(names.publishQueue, { durable: true });
}
