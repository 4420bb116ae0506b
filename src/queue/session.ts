/**
 * One broker session: a connection, one confirm-mode channel that both
 * consumes and publishes, the declared topology and the consumer. Any loss
 * (socket, heartbeat, channel closed alone, consumer cancelled by the broker)
 * ends the whole session, so the worker reconnects and redeclares instead of
 * running on with a dead channel.
 *
 * @module
 */

import type { AMQPChannel, AMQPConsumer, AMQPMessage } from "amqp-client";
import { errorLine } from "../core/errors.ts";
import {
  CLOSE_STEP_TIMEOUT_MS,
  closeBroker,
  connectBroker,
  connectionFlow,
  DEFAULT_CONNECT_TIMEOUT_MS,
  openConfirmChannel,
  withTimeout,
} from "./connect.ts";
import type { FlowControl } from "./publisher.ts";
import { declareTopology, type TopologyNames } from "./topology.ts";

/** An open session. */
export interface Session {
  /** The channel; deliveries must be acked on it and only while it is open. */
  readonly channel: AMQPChannel;
  /**
   * The `messageId`s of mandatory publishes the broker returned as
   * unroutable. RabbitMQ sends the return before the confirm of the same
   * publish, so a publisher checks here once its confirm has come.
   */
  readonly returned: Set<string>;
  /** Resolves with a one-line reason when the session ended, for whatever cause. */
  readonly lost: Promise<string>;
  /** Whether the connection and channel are still usable. */
  readonly alive: boolean;
  /** Aborted when the session ends; waits tied to this session give up on it. */
  readonly signal: AbortSignal;
  /**
   * Whether the broker blocks publishing on this connection (a memory or
   * disk alarm), and a way to wait for the end of it.
   */
  readonly flow: FlowControl;
  /** Stops deliveries (basic.cancel); the channel stays open for acks. */
  cancel(): Promise<void>;
  /** Ends the session because something broke (e.g. a confirm timeout); unacked messages return to the queue. */
  fail(reason: string): void;
  /**
   * Closes channel and connection cleanly, within `budgetMs` all told (a
   * blocked broker does not read the close frames); then drops the socket.
   */
  close(options?: { budgetMs?: number }): Promise<void>;
}

/** Options of {@linkcode openSession}. */
export interface SessionOptions {
  /** Queue names. */
  names: TopologyNames;
  /** Channel prefetch. */
  prefetch: number;
  /** Receives each delivery with the session it arrived on. */
  onMessage: (message: AMQPMessage, session: Session) => void;
  /** How long the TCP connect and AMQP handshake may take. @default {30000} */
  connectTimeoutMs?: number;
  /** Gives up connecting (e.g. SIGTERM while the broker is away). */
  signal?: AbortSignal;
  /** Called when the broker starts (a reason) or stops (`undefined`) blocking publishes. */
  onBlocked?: (reason: string | undefined) => void;
}

/** A broker refusal that reconnecting cannot fix: bad credentials, vhost or topology. */
export function isConfigurationError(err: unknown): boolean {
  return /\((403|530|406)\)|ACCESS_REFUSED|NOT_ALLOWED|PRECONDITION_FAILED/.test(errorLine(err));
}

/**
 * Connects, opens a confirm channel, declares the topology and starts consuming with manual acks.
 *
 * @param url The broker URL (with credentials and heartbeat).
 * @param options Names, retry delay, prefetch and the delivery callback.
 * @returns The session.
 * @throws The connection or channel error (see {@linkcode isConfigurationError}).
 *
 * @example
 * ```ts ignore
 * import { openSession } from "./session.ts";
 * const session = await openSession("amqp://guest:guest@127.0.0.1/%2F?heartbeat=30", options);
 * console.log(await session.lost);
 * ```
 */
export async function openSession(url: string, options: SessionOptions): Promise<Session> {
  const {
    names,
    prefetch,
    onMessage,
    connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
    signal,
  } = options;
  const connection = await connectBroker(url, { timeoutMs: connectTimeoutMs, signal });
  let alive = true;
  let resolveLost: (reason: string) => void = () => {};
  const lost = new Promise<string>((resolve) => resolveLost = resolve);
  const ended = new AbortController();
  function end(reason: string) {
    if (!alive) return;
    alive = false;
    ended.abort();
    resolveLost(reason);
    if (!connection.closed) connection.close().catch(() => {});
  }
  connection.onerror = (err) => end(`connection error: ${errorLine(err)}`);
  connection.ondisconnect = (err) => end(`disconnected: ${err ? errorLine(err) : "socket closed"}`);
  const flow = connectionFlow(connection);
  if (options.onBlocked !== undefined) flow.watch(options.onBlocked);
  // Blocked during the handshake: the client recorded it before we listened.
  if (flow.blocked !== undefined) options.onBlocked?.(flow.blocked);
  try {
    const { channel, returned } = await openConfirmChannel(connection);
    channel.onerror = (reason) => end(`channel closed: ${reason}`);
    await declareTopology(channel, { names });
    await channel.prefetch(prefetch);
    const state: { consumer?: AMQPConsumer; cancelling?: Promise<unknown> } = {};
    const cancel = (): Promise<unknown> =>
      state.cancelling ??= channel.closed || state.consumer === undefined
        ? Promise.resolve()
        : state.consumer.cancel().catch(() => {});
    const session: Session = {
      channel,
      returned,
      lost,
      signal: ended.signal,
      flow,
      get alive() {
        return alive && !channel.closed && !connection.closed;
      },
      async cancel() {
        await cancel();
      },
      fail: end,
      async close(options = {}) {
        const { budgetMs = 3 * CLOSE_STEP_TIMEOUT_MS } = options;
        const deadline = performance.now() + budgetMs;
        const left = () => Math.min(CLOSE_STEP_TIMEOUT_MS, deadline - performance.now());
        // A channel.close sent while a basic.cancel is unanswered can hang: cancel first.
        await withTimeout(cancel(), left());
        if (!channel.closed) await withTimeout(channel.close(), left());
        alive = false;
        ended.abort();
        resolveLost("closed");
        // A broker that does not answer the close: closeBroker drops the socket.
        await closeBroker(connection, { stepMs: left() });
      },
    };
    // Deliveries may arrive before basicConsume resolves: the session must exist by then.
    const consumer = await channel.basicConsume(
      names.queue,
      { noAck: false },
      (message) => onMessage(message, session),
    );
    state.consumer = consumer;
    consumer.wait().then(
      () => state.cancelling === undefined ? end("consumer cancelled") : undefined,
      (err) => end(`consumer cancelled by the broker: ${errorLine(err)}`),
    );
    return session;
  } catch (err) {
    alive = false;
    ended.abort();
    await closeBroker(connection);
    throw err;
  }
}
