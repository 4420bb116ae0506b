/**
 * The one way to talk to RabbitMQ, for the worker and every operator
 * command: a connect with a deadline that a signal can abort, its errors
 * classified once (unreachable or refused), the broker's flow control
 * (`connection.blocked`), confirm channels that record returned mandatory
 * publishes, passive declares, the end of the connection as one promise and
 * one signal, and a close that never hangs on a broker that does not answer.
 * Given the nodes of a cluster, a connect takes the first that answers,
 * starting where a {@linkcode NodeCursor} points; every error text that
 * leaves this module has the passwords of every node masked.
 *
 * @module
 */

import type { AMQPChannel, AMQPClient } from "amqp-client";
import { errorLine, NamedError } from "../core/errors.ts";
import { type BrokerNode, redactSecrets } from "./broker_settings.ts";
import type { FlowControl } from "./publisher.ts";

/** Default of {@linkcode BrokerConnectOptions.timeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** How long each step of a close may take by default. */
export const CLOSE_STEP_TIMEOUT_MS = 5_000;

/**
 * What amqp-client rejects a connection's pending promises with when its
 * socket fails (a node killed mid-run): its own socket errors.
 */
const CLIENT_SOCKET_ERROR =
  /^(write EPIPE|read ECONNRESET|Socket closed|Connection ended|Heartbeat timeout)$/;

/**
 * Whether an unhandled rejection is one of amqp-client's own leftovers of a
 * lost connection. When a socket fails, the client rejects every pending
 * promise of the connection's channels, including some that it created and
 * nothing awaits. The loss itself reaches the caller through
 * {@linkcode Broker.lost} (and the awaited calls that fail), so these
 * leftovers must not end the process with a stack trace before the command
 * prints its one line on how far it got. Nothing else is silenced.
 *
 * @param reason The rejection's reason.
 * @returns Whether it is a socket error of the AMQP client.
 *
 * @example
 * ```ts
 * import { isClientSocketLeftover } from "./broker.ts";
 * class AMQPError extends Error { override name = "AMQPError"; }
 * if (!isClientSocketLeftover(new AMQPError("write EPIPE"))) throw new Error("unexpected");
 * if (isClientSocketLeftover(new Error("write EPIPE"))) throw new Error("unexpected");
 * ```
 */
export function isClientSocketLeftover(reason: unknown): boolean {
  return reason instanceof Error && reason.name === "AMQPError" &&
    CLIENT_SOCKET_ERROR.test(reason.message);
}

globalThis.addEventListener("unhandledrejection", (event) => {
  if (isClientSocketLeftover(event.reason)) event.preventDefault();
});

/** Where the broker is: its URL with credentials (never logged) and without. */
export interface BrokerTarget {
  /** The URL to connect to, with credentials. */
  amqpUrl: string;
  /** The same URL with the password masked, for messages. */
  redactedUrl: string;
  /** The nodes to try, in order. @default {the one node of amqpUrl} */
  urls?: readonly BrokerNode[] | undefined;
}

/** Options of {@linkcode Broker.connect}. */
export interface BrokerConnectOptions {
  /**
   * How long the TCP connect and AMQP handshake may take, for all the nodes:
   * each node tried gets an equal share of what is left.
   * @default {DEFAULT_CONNECT_TIMEOUT_MS}
   */
  timeoutMs?: number | undefined;
  /** Gives up connecting (e.g. SIGTERM while the broker is away). */
  signal?: AbortSignal | undefined;
  /** Which node to try first, moved to the node reached. @default {the first node} */
  cursor?: NodeCursor | undefined;
}

/** A node that could not be used during a connect, and why (one line, passwords masked). */
export interface NodeFailure {
  /** The node's redacted URL. */
  node: string;
  /** Out of reach, or refused us. */
  kind: BrokerFailureKind;
  /** The client's or the broker's reason. */
  reason: string;
}

/**
 * Where the next connect starts in a list of nodes: the node reached last,
 * or, once its connection is lost, the node after it, so the other nodes
 * are tried before the same one again.
 *
 * @example
 * ```ts
 * import { NodeCursor } from "./broker.ts";
 * const cursor = new NodeCursor();
 * cursor.connected(1);
 * cursor.lost();
 * if (cursor.next !== 2 || cursor.current !== undefined) throw new Error("unexpected");
 * ```
 */
export class NodeCursor {
  #next = 0;
  #current: number | undefined;

  /** The index of the node to try first (taken modulo the number of nodes). */
  get next(): number {
    return this.#next;
  }

  /** The index of the node of the open connection, if any. */
  get current(): number | undefined {
    return this.#current;
  }

  /**
   * Records the node a connect reached.
   *
   * @param index Its index in the list.
   */
  connected(index: number): void {
    this.#current = index;
    this.#next = index;
  }

  /** The connection (or the session on it) ended: the next connect starts with the next node. */
  lost(): void {
    if (this.#current !== undefined) this.#next = this.#current + 1;
    this.#current = undefined;
  }
}

/** Why the broker could not be used. */
export type BrokerFailureKind =
  /** It could not be reached: refused, timed out, DNS, aborted. */
  | "unreachable"
  /** It refused the login, the vhost, access or a declaration: reconnecting cannot fix it. */
  | "refused";

/** The broker could not be used; the message names its URL, redacted, in one line. */
export class BrokerError extends NamedError {
  /** @param kind Out of reach, or refused us. The message: one line, without credentials. */
  constructor(readonly kind: BrokerFailureKind, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Whether the broker refused something that reconnecting cannot fix: bad
 * credentials (403), a missing vhost (530), an inequivalent declaration (406).
 *
 * @param err Any error from the client.
 * @returns True for a refusal of the configuration.
 */
export function isConfigurationError(err: unknown): boolean {
  return /\((403|530|406)\)|ACCESS_REFUSED|NOT_ALLOWED|PRECONDITION_FAILED/.test(errorLine(err));
}

/**
 * No node could be used: each node's failure. Its kind is `refused` when
 * any node refused the login, the vhost or access (a configuration that
 * another node cannot fix), else `unreachable`.
 */
export class BrokerConnectError extends BrokerError {
  /** Each node tried, in the order tried. */
  readonly failures: readonly NodeFailure[];
  /** The reasons without the `the broker at …` lead: one node's reason, or `node: reason; …`. */
  readonly reason: string;

  /**
   * The cause is an error whose message is {@linkcode BrokerConnectError.reason}:
   * the client's own errors may repeat a URL with its password.
   *
   * @param failures Each node tried (at least one).
   */
  constructor(failures: readonly NodeFailure[]) {
    const kind = failures.some((f) => f.kind === "refused") ? "refused" : "unreachable";
    const only = failures.length === 1 ? failures[0] : undefined;
    const reason = only !== undefined
      ? only.reason
      : failures.map((f) =>
        `${f.node} ${f.kind === "refused" ? "refused" : "unreachable"}: ${f.reason}`
      )
        .join("; ");
    const message = only !== undefined
      ? only.kind === "refused"
        ? `the broker at ${only.node} refused: ${only.reason}`
        : `cannot reach the broker at ${only.node}: ${only.reason}`
      : kind === "refused"
      ? `no broker node accepted the connection (${failures.length} tried): ${reason}`
      : `cannot reach any of the ${failures.length} broker nodes: ${reason}`;
    super(kind, message, { cause: new Error(reason) });
    this.name = "BrokerConnectError";
    this.failures = failures;
    this.reason = reason;
  }
}

/**
 * A queue that exists but cannot be used now: on a cluster, a classic
 * queue whose home node is down. Reconnecting (to another node, or later)
 * may fix it, so its kind is `unreachable`.
 */
export class QueueUnavailableError extends BrokerError {
  /**
   * @param queue The queue.
   * @param message One line, without credentials.
   */
  constructor(readonly queue: string, message: string) {
    super("unreachable", message);
    this.name = "QueueUnavailableError";
  }
}

/**
 * Whether the broker's refusal of a declare says the queue exists but is
 * out of reach, rather than missing: both are `404 NOT_FOUND`, but a
 * durable classic queue whose home node is down is answered `home node
 * '…' of durable queue '…' in vhost '/' is down or inaccessible`.
 *
 * @param err The error, or its message.
 * @returns True for a queue that exists but cannot be used now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isQueueUnavailable } from "./broker.ts";
 * assert.ok(isQueueUnavailable(
 *   "Channel 2 closed: NOT_FOUND - home node 'rabbit@a' of durable queue 'q' in vhost '/' " +
 *     "is down or inaccessible (404)",
 * ));
 * assert.ok(!isQueueUnavailable("Channel 2 closed: NOT_FOUND - no queue 'q' in vhost '/' (404)"));
 * ```
 */
export function isQueueUnavailable(err: unknown): boolean {
  const line = typeof err === "string" ? err : errorLine(err);
  return /NOT_FOUND|\(404\)/.test(line) && /\bis down or inaccessible\b/.test(line);
}

/** A confirm-mode channel and the message ids the broker returned on it. */
export interface ConfirmChannel {
  /** The channel, in confirm mode. */
  channel: AMQPChannel;
  /** The `messageId`s of mandatory publishes the broker returned as unroutable. */
  returned: Set<string>;
}

/** A queue's counts, as a passive declare reads them. */
export interface QueueCounts {
  /** Ready messages (not counting those delivered and not yet acked). */
  messages: number;
  /** Consumers attached. */
  consumers: number;
}

/**
 * One connection to the broker.
 *
 * @example
 * ```ts ignore
 * import { Broker } from "./broker.ts";
 * const broker = await Broker.connect({ amqpUrl, redactedUrl }, { timeoutMs: 5_000 });
 * console.log(await broker.queueCounts("match.telemetry.prod"));
 * await broker.close();
 * ```
 */
export class Broker {
  /** Where it is (the redacted URL names it in messages). */
  readonly target: BrokerTarget;
  /** The node this connection is on: its redacted URL. */
  readonly node: string;
  /** The nodes tried before this one in the same connect, and why each failed. */
  readonly skipped: readonly NodeFailure[];
  /** The broker's flow control of this connection. */
  readonly flow: FlowControl;
  /** Resolves with a one-line reason once the connection has ended, for whatever cause. */
  readonly lost: Promise<string>;
  #client: AMQPClient;
  #ended = new AbortController();
  #reason: string | undefined;
  #resolveLost: (reason: string) => void = () => {};

  private constructor(
    target: BrokerTarget,
    client: AMQPClient,
    reached: { node: string; skipped: readonly NodeFailure[] },
  ) {
    this.target = target;
    this.node = reached.node;
    this.skipped = reached.skipped;
    this.#client = client;
    this.lost = new Promise<string>((resolve) => this.#resolveLost = resolve);
    // The client has already lost the connection (and fails what waited on
    // it): record the end, and leave the client to finish its own cleanup.
    client.onerror = (err) => this.#end(`connection error: ${errorLine(err)}`);
    client.ondisconnect = (err) =>
      this.#end(`disconnected: ${err ? errorLine(err) : "socket closed"}`);
    this.flow = connectionFlow(client);
  }

  /**
   * Connects to the first node that answers, within a deadline, starting at
   * the cursor: a node out of reach or refusing us is skipped for the next
   * one. On any failure the socket is destroyed, so a handshake that never
   * came leaks nothing.
   *
   * @param target The URLs, and their redacted forms for messages.
   * @param options The deadline, the abort signal and the cursor.
   * @returns The connected broker.
   * @throws {BrokerConnectError} When no node could be used: `refused`
   * (credentials, vhost) or `unreachable`, in one line naming each node's
   * redacted URL and reason.
   */
  static async connect(target: BrokerTarget, options: BrokerConnectOptions = {}): Promise<Broker> {
    const { timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, signal, cursor } = options;
    const { AMQPClient } = await import("amqp-client");
    const nodes = nodesOf(target);
    const start = (cursor?.next ?? 0) % nodes.length;
    const deadline = performance.now() + timeoutMs;
    const failures: NodeFailure[] = [];
    for (let tried = 0; tried < nodes.length; tried++) {
      const index = (start + tried) % nodes.length;
      const node = nodes[index]!;
      const share = (deadline - performance.now()) / (nodes.length - tried);
      const client: AMQPClient = new AMQPClient(node.url);
      try {
        await untilDeadline(client.connect(), { ms: Math.max(1, Math.round(share)), signal });
      } catch (err) {
        destroySocket(client);
        const reason = redactSecrets(errorLine(err), nodes) || "connection failed";
        failures.push({
          node: node.redacted,
          kind: isConfigurationError(err) ? "refused" : "unreachable",
          reason,
        });
        if (signal?.aborted) break;
        continue;
      }
      cursor?.connected(index);
      return new Broker(target, client, { node: node.redacted, skipped: failures });
    }
    throw new BrokerConnectError(failures);
  }

  /** Whether the connection is still usable. */
  get alive(): boolean {
    return this.#reason === undefined && !this.#client.closed;
  }

  /** Why the connection ended, once it has. */
  get lostReason(): string | undefined {
    return this.#reason;
  }

  /** Aborted when the connection ends; waits tied to it give up. */
  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  /**
   * Ends the connection because something broke (a confirm timeout, an
   * internal error): unacked deliveries go back to their queues.
   *
   * @param reason One line, for the logs.
   */
  fail(reason: string): void {
    if (!this.#end(reason)) return;
    if (!this.#client.closed) this.#client.close().catch(() => {});
  }

  /** Records the end of the connection (its reason masked); false when it had ended already. */
  #end(reason: string): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = redactSecrets(reason, nodesOf(this.target));
    this.#ended.abort();
    this.#resolveLost(this.#reason);
    return true;
  }

  /**
   * Opens a channel in confirm mode that records returned publishes.
   *
   * @returns The channel and its set of returned message ids.
   */
  async confirmChannel(): Promise<ConfirmChannel> {
    const channel = await this.#client.channel();
    const returned = new Set<string>();
    channel.onReturn = (message) => {
      const id = message.properties.messageId;
      if (id !== undefined) returned.add(id);
    };
    await channel.confirmSelect();
    return { channel, returned };
  }

  /**
   * Opens a plain channel (to consume, or to read a queue).
   *
   * @returns The channel.
   */
  async channel(): Promise<AMQPChannel> {
    return await this.#client.channel();
  }

  /**
   * A queue's counts, from a passive declare on a channel of its own.
   *
   * @param queue The queue.
   * @returns Its counts, or `undefined` when it does not exist.
   * @throws {QueueUnavailableError} When it exists but cannot be used now
   * (see {@linkcode isQueueUnavailable}).
   * @throws The channel's error for anything but a missing queue.
   */
  async queueCounts(queue: string): Promise<QueueCounts | undefined> {
    const channel = await this.#client.channel();
    channel.onerror = () => {}; // the 404 below closes this channel only
    try {
      const ok = await channel.queueDeclare(queue, { passive: true });
      return { messages: ok.messageCount, consumers: ok.consumerCount };
    } catch (err) {
      const line = errorLine(err);
      if (isQueueUnavailable(line)) {
        const reason = redactSecrets(line, nodesOf(this.target));
        throw new QueueUnavailableError(
          queue,
          `queue ${queue} exists but is unavailable through ${this.node}: ${reason}`,
        );
      }
      if (/NOT_FOUND|\(404\)/.test(line)) return undefined;
      throw err;
    } finally {
      if (!channel.closed) await channel.close().catch(() => {});
    }
  }

  /**
   * Closes the connection cleanly if the broker answers within `budgetMs`
   * (a blocked broker does not read the close frame), then drops the socket
   * whatever happened.
   *
   * @param options How long the close may take.
   * @returns When the socket is gone; never throws.
   */
  async close(options: { budgetMs?: number } = {}): Promise<void> {
    const { budgetMs = CLOSE_STEP_TIMEOUT_MS } = options;
    this.#reason ??= "closed";
    if (!this.#ended.signal.aborted) {
      this.#ended.abort();
      this.#resolveLost("closed");
    }
    if (!this.#client.closed) await withTimeout(this.#client.close(), budgetMs);
    destroySocket(this.#client);
  }
}

/**
 * A line saying a queue is missing, and how it comes to exist.
 *
 * @param queue The queue.
 * @param broker The broker's redacted URL and the environment.
 * @returns One line.
 */
export function missingQueueLine(
  queue: string,
  broker: { redactedUrl: string; env: string },
): string {
  const { redactedUrl, env } = broker;
  return `queue ${queue} does not exist on ${redactedUrl}: check --env ${env}; ` +
    `'telemetry consume --env ${env}' declares it when it starts`;
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

/**
 * The broker's flow control of a client's connection (`connection.blocked`
 * and `connection.unblocked`). It takes over the client's `onblocked` and
 * `onunblocked`.
 *
 * @param client A connected client.
 * @returns The flow control: a reason while the broker blocks publishing.
 *
 * @example
 * ```ts
 * import { connectionFlow } from "./broker.ts";
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

/** The nodes of a target: its list, or the one node of its URL. */
function nodesOf(target: BrokerTarget): readonly BrokerNode[] {
  const { urls } = target;
  return urls !== undefined && urls.length > 0
    ? urls
    : [{ url: target.amqpUrl, redacted: target.redactedUrl }];
}

/** Drops the client's socket, whatever state the AMQP connection is in. */
function destroySocket(client: AMQPClient): void {
  (client as unknown as { socket?: { destroy(): void } }).socket?.destroy();
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
