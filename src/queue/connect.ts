/**
 * Opening and closing a broker connection the same way in every command:
 * a bounded connect that a signal can abort, a confirm-mode channel that
 * records returned (unroutable) mandatory publishes, and a close that never
 * hangs on a broker that does not answer. `consume`'s session and the
 * operator commands (`enqueue`, `announce`, `dlq`, `status`) all use it.
 *
 * @module
 */

import type { AMQPChannel, AMQPClient } from "amqp-client";
import type { FlowControl } from "./publisher.ts";

/** Default of {@linkcode ConnectOptions.timeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** How long each step of {@linkcode closeBroker} may take by default. */
export const CLOSE_STEP_TIMEOUT_MS = 5_000;

/** Options of {@linkcode connectBroker}. */
export interface ConnectOptions {
  /** How long the TCP connect and AMQP handshake may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Gives up connecting (e.g. SIGTERM while the broker is away). */
  signal?: AbortSignal | undefined;
}

/**
 * Connects to the broker within a deadline. On any failure the socket is
 * destroyed, so a handshake that never came leaks nothing.
 *
 * @param url The broker URL (with credentials; never log it).
 * @param options The deadline and the abort signal.
 * @returns The connected client.
 * @throws The connection error, `no AMQP handshake within N s`, or `connect aborted`.
 *
 * @example
 * ```ts ignore
 * import { closeBroker, connectBroker } from "./connect.ts";
 * const client = await connectBroker("amqp://guest:guest@127.0.0.1/%2F", { timeoutMs: 5_000 });
 * await closeBroker(client);
 * ```
 */
export async function connectBroker(
  url: string,
  options: ConnectOptions = {},
): Promise<AMQPClient> {
  const { timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, signal } = options;
  const { AMQPClient } = await import("amqp-client");
  const client: AMQPClient = new AMQPClient(url);
  try {
    await untilDeadline(client.connect(), { ms: timeoutMs, signal });
  } catch (err) {
    destroySocket(client);
    throw err;
  }
  return client;
}

/** A confirm-mode channel and the message ids the broker returned on it. */
export interface ConfirmChannel {
  /** The channel, in confirm mode. */
  channel: AMQPChannel;
  /**
   * The `messageId`s of mandatory publishes the broker returned as
   * unroutable; `publishConfirmed` checks it after each confirm.
   */
  returned: Set<string>;
}

/**
 * Opens a channel in confirm mode that records returned publishes.
 *
 * @param client A connected client.
 * @returns The channel and its set of returned message ids.
 *
 * @example
 * ```ts ignore
 * import { openConfirmChannel } from "./connect.ts";
 * const { channel, returned } = await openConfirmChannel(client);
 * ```
 */
export async function openConfirmChannel(client: AMQPClient): Promise<ConfirmChannel> {
  const channel = await client.channel();
  const returned = new Set<string>();
  channel.onReturn = (message) => {
    const id = message.properties.messageId;
    if (id !== undefined) returned.add(id);
  };
  await channel.confirmSelect();
  return { channel, returned };
}

/**
 * Closes the connection cleanly if the broker answers within `stepMs`, then
 * drops the socket whatever happened.
 *
 * @param client The client (connected or not).
 * @param options How long the close may take.
 * @returns When the socket is gone; never throws.
 */
export async function closeBroker(
  client: AMQPClient,
  options: { stepMs?: number } = {},
): Promise<void> {
  const { stepMs = CLOSE_STEP_TIMEOUT_MS } = options;
  if (!client.closed) await withTimeout(client.close(), stepMs);
  destroySocket(client);
}

/**
 * Drops the client's socket, whatever state the AMQP connection is in.
 *
 * @param client The client.
 */
export function destroySocket(client: AMQPClient): void {
  (client as unknown as { socket?: { destroy(): void } }).socket?.destroy();
}

/**
 * Waits for `promise` at most `ms`; never throws.
 *
 * @param promise What to wait for; its rejection is swallowed.
 * @param ms The longest wait.
 * @returns When `promise` settled or the time ran out.
 */
export async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, Math.max(0, ms)));
  try {
    await Promise.race([promise.catch(() => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
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

/**
 * The broker's flow control of a client's connection (`connection.blocked`
 * and `connection.unblocked`), for the publishers that honour it. It takes
 * over the client's `onblocked` and `onunblocked`.
 *
 * @param client A connected client.
 * @returns The flow control: a reason while the broker blocks publishing.
 *
 * @example
 * ```ts
 * import { connectionFlow } from "./connect.ts";
 * const client: { blocked?: string; onblocked?: (r: string) => void; onunblocked?: () => void } = {};
 * const flow = connectionFlow(client);
 * const seen: (string | undefined)[] = [];
 * flow.watch((blocked) => seen.push(blocked));
 * client.blocked = "low on memory";
 * client.onblocked?.("low on memory");
 * if (flow.blocked !== "low on memory" || seen[0] !== "low on memory") throw new Error("unexpected");
 * ```
 */
export function connectionFlow(
  client: Pick<AMQPClient, "blocked" | "onblocked" | "onunblocked">,
): FlowControl {
  const listeners = new Set<(blocked: string | undefined) => void>();
  const blocked = () =>
    client.blocked === undefined ? undefined : client.blocked || "no reason given";
  const changed = () => {
    for (const listener of [...listeners]) listener(blocked());
  };
  client.onblocked = changed;
  client.onunblocked = changed;
  return {
    get blocked() {
      return blocked();
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
