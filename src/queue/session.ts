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
  Broker,
  type BrokerTarget,
  CLOSE_STEP_TIMEOUT_MS,
  type NodeCursor,
  type NodeFailure,
  withTimeout,
} from "./broker.ts";
import { type FlowControl, Publisher } from "./publisher.ts";
import { declareTopology, type TopologyNames } from "./topology.ts";

/** An open session. */
export interface Session {
  /** The channel; deliveries must be acked on it and only while it is open. */
  readonly channel: AMQPChannel;
  /**
   * Publishes on the session's channel (announcements, retries, dead
   * letters), with confirms; its window is the prefetch.
   */
  readonly publisher: Publisher;
  /** Resolves with a one-line reason when the session ended, for whatever cause. */
  readonly lost: Promise<string>;
  /** The broker node the session is on: its redacted URL. */
  readonly node: string;
  /** The nodes tried before it in the same connect, and why each failed. */
  readonly skipped: readonly NodeFailure[];
  /** Whether the connection and channel are still usable. */
  readonly alive: boolean;
  /** Aborted when the session ends; waits tied to this session give up on it. */
  readonly signal: AbortSignal;
  /**
   * Whether the broker blocks publishing on this connection (a memory or
   * disk alarm), and a way to wait for the end of it.
   */
  readonly flow: FlowControl;
  /** Stops deliveries for good (basic.cancel); the channel stays open for acks. */
  cancel(): Promise<void>;
  /**
   * Stops deliveries for a while (basic.cancel; the channel stays open for
   * acks and nacks); {@linkcode Session.resume} consumes again. Deliveries
   * already sent to this worker still arrive.
   */
  pause(): Promise<void>;
  /** Consumes again after {@linkcode Session.pause} (basic.consume); nothing after a cancel. */
  resume(): Promise<void>;
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
  /** Channel prefetch, and the publisher's window. */
  prefetch: number;
  /** How long each publish may wait for its confirm. */
  confirmTimeoutMs: number;
  /** Receives each delivery with the session it arrived on. */
  onMessage: (message: AMQPMessage, session: Session) => void;
  /** How long the TCP connect and AMQP handshake may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /** Gives up connecting (e.g. SIGTERM while the broker is away). */
  signal?: AbortSignal;
  /** Which node to try first; moved to the node reached. @default {the first node} */
  cursor?: NodeCursor;
  /** Called when the broker starts (a reason) or stops (`undefined`) blocking publishes. */
  onBlocked?: (reason: string | undefined) => void;
}

/**
 * Connects, opens a confirm channel, declares the topology and starts consuming with manual acks.
 *
 * @param target The broker URLs (with credentials and heartbeat) and their redacted forms.
 * @param options Names, prefetch, confirm deadline and the delivery callback.
 * @returns The session.
 * @throws {BrokerError} When the connect fails; the channel's error when a
 * declaration is refused (see `isConfigurationError`).
 *
 * @example
 * ```ts ignore
 * import { openSession } from "./session.ts";
 * const session = await openSession({ amqpUrl, redactedUrl }, options);
 * console.log(await session.lost);
 * ```
 */
export async function openSession(target: BrokerTarget, options: SessionOptions): Promise<Session> {
  const { names, prefetch, confirmTimeoutMs, onMessage, connectTimeoutMs, signal, cursor } =
    options;
  const broker = await Broker.connect(target, { timeoutMs: connectTimeoutMs, signal, cursor });
  const flow = broker.flow;
  if (options.onBlocked !== undefined) flow.watch(options.onBlocked);
  // Blocked during the handshake: the client recorded it before we listened.
  if (flow.blocked !== undefined) options.onBlocked?.(flow.blocked);
  try {
    const { channel, returned } = await broker.confirmChannel();
    channel.onerror = (reason) => broker.fail(`channel closed: ${reason}`);
    await declareTopology(channel, { names });
    await channel.prefetch(prefetch);
    const publisher = new Publisher(channel, {
      window: prefetch,
      timeoutMs: confirmTimeoutMs,
      returned,
      flow,
      signal: broker.signal,
    });
    const state: {
      consumer?: AMQPConsumer;
      cancelling?: Promise<unknown> | undefined;
      cancelled?: boolean;
    } = {};
    const cancel = (): Promise<unknown> =>
      state.cancelling ??= channel.closed || state.consumer === undefined
        ? Promise.resolve()
        : state.consumer.cancel().catch(() => {});
    // Any end of the current consumer that we did not ask for ends the session.
    const consume = async () => {
      const consumer = await channel.basicConsume(
        names.queue,
        { noAck: false },
        (message) => onMessage(message, session),
      );
      state.consumer = consumer;
      const ours = () => state.consumer !== consumer || state.cancelling !== undefined;
      consumer.wait().then(
        () => ours() ? undefined : broker.fail("consumer cancelled"),
        (err) =>
          ours() ? undefined : broker.fail(`consumer cancelled by the broker: ${errorLine(err)}`),
      );
    };
    const session: Session = {
      channel,
      publisher,
      lost: broker.lost,
      node: broker.node,
      skipped: broker.skipped,
      signal: broker.signal,
      flow,
      get alive() {
        return broker.alive && !channel.closed;
      },
      async cancel() {
        state.cancelled = true;
        await cancel();
      },
      async pause() {
        await cancel();
      },
      async resume() {
        const over = () => state.cancelled === true || channel.closed;
        if (state.cancelling === undefined || over()) return;
        await state.cancelling;
        if (over()) return;
        state.cancelling = undefined;
        await consume();
      },
      fail: (reason) => broker.fail(reason),
      async close(options = {}) {
        const { budgetMs = 3 * CLOSE_STEP_TIMEOUT_MS } = options;
        const deadline = performance.now() + budgetMs;
        const left = () => Math.min(CLOSE_STEP_TIMEOUT_MS, deadline - performance.now());
        // A channel.close sent while a basic.cancel is unanswered can hang: cancel first.
        await withTimeout(cancel(), left());
        if (!channel.closed) await withTimeout(channel.close(), left());
        // A broker that does not answer the close: the socket is dropped.
        await broker.close({ budgetMs: left() });
      },
    };
    // Deliveries may arrive before basicConsume resolves: the session must exist by then.
    await consume();
    return session;
  } catch (err) {
    await broker.close();
    throw err;
  }
}
