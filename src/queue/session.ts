/**
 * One broker session: a connection, one confirm-mode channel that both
 * consumes and publishes, the declared topology and the consumer. Any loss
 * (socket, heartbeat, channel closed alone, consumer cancelled by the broker)
 * ends the whole session, so the worker reconnects and redeclares instead of
 * running on with a dead channel.
 *
 * @module
 */

import type { AMQPChannel, AMQPClient, AMQPConsumer, AMQPMessage } from "amqp-client";
import { errorLine } from "../core/errors.ts";
import { declareTopology, type TopologyNames } from "./topology.ts";

const CLOSE_TIMEOUT_MS = 5_000;

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
  /** Stops deliveries (basic.cancel); the channel stays open for acks. */
  cancel(): Promise<void>;
  /** Ends the session because something broke (e.g. a confirm timeout); unacked messages return to the queue. */
  fail(reason: string): void;
  /** Closes channel and connection cleanly. */
  close(): Promise<void>;
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
}

/** Default of {@linkcode SessionOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

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
  const { AMQPClient } = await import("amqp-client");
  const connection: AMQPClient = new AMQPClient(url);
  let alive = true;
  let connected = false;
  let resolveLost: (reason: string) => void = () => {};
  const lost = new Promise<string>((resolve) => resolveLost = resolve);
  function end(reason: string) {
    if (!alive) return;
    alive = false;
    resolveLost(reason);
    if (connected && !connection.closed) connection.close().catch(() => {});
  }
  connection.onerror = (err) => end(`connection error: ${errorLine(err)}`);
  connection.ondisconnect = (err) => end(`disconnected: ${err ? errorLine(err) : "socket closed"}`);
  try {
    await untilDeadline(connection.connect(), { ms: connectTimeoutMs, signal });
  } catch (err) {
    // A handshake that failed or never came leaves the socket open otherwise.
    destroySocket(connection);
    throw err;
  }
  connected = true;
  try {
    const channel = await connection.channel();
    channel.onerror = (reason) => end(`channel closed: ${reason}`);
    const returned = new Set<string>();
    channel.onReturn = (message) => {
      const id = message.properties.messageId;
      if (id !== undefined) returned.add(id);
    };
    await declareTopology(channel, { names });
    await channel.confirmSelect();
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
      get alive() {
        return alive && !channel.closed && !connection.closed;
      },
      async cancel() {
        await cancel();
      },
      fail: end,
      async close() {
        // A channel.close sent while a basic.cancel is unanswered can hang: cancel first.
        await withTimeout(cancel(), CLOSE_TIMEOUT_MS);
        if (!channel.closed) await withTimeout(channel.close(), CLOSE_TIMEOUT_MS);
        alive = false;
        resolveLost("closed");
        if (!connection.closed) await withTimeout(connection.close(), CLOSE_TIMEOUT_MS);
        // A broker that does not answer the close: drop the socket.
        destroySocket(connection);
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
    if (!connection.closed) await withTimeout(connection.close(), CLOSE_TIMEOUT_MS);
    destroySocket(connection);
    throw err;
  }
}

/** Drops the client's socket, whatever state the AMQP connection is in. */
function destroySocket(connection: AMQPClient): void {
  (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
}

/** Waits for `promise`, rejecting after `ms` or when `signal` aborts. */
async function untilDeadline<T>(
  promise: Promise<T>,
  options: { ms: number; signal: AbortSignal | undefined },
): Promise<T> {
  const { ms, signal } = options;
  promise.catch(() => {}); // it may settle after we gave up
  const deadline = AbortSignal.any([AbortSignal.timeout(ms), ...(signal ? [signal] : [])]);
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(
        new Error(
          signal?.aborted ? "connect aborted" : `no AMQP handshake within ${ms / 1000} s`,
        ),
      );
    if (deadline.aborted) onAbort();
    else deadline.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    deadline.removeEventListener("abort", onAbort);
  }
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  try {
    await Promise.race([promise.catch(() => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
