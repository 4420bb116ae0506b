/**
 * The one way to talk to RabbitMQ, for the worker and every operator
 * command: a connect with a deadline that a signal can abort, its errors
 * classified once (unreachable or refused), the broker's flow control
 * (`connection.blocked`), confirm channels that record returned mandatory
 * publishes, passive declares, the end of the connection as one promise and
 * one signal, and a close that never hangs on a broker that does not answer.
 *
 * @module
 */

import type { AMQPChannel, AMQPClient } from "amqp-client";
import { errorLine } from "../core/errors.ts";
import type { FlowControl } from "./publisher.ts";

/** Default of {@linkcode BrokerConnectOptions.timeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** How long each step of a close may take by default. */
export const CLOSE_STEP_TIMEOUT_MS = 5_000;

/** Where the broker is: its URL with credentials (never logged) and without. */
export interface BrokerTarget {
  /** The URL to connect to, with credentials. */
  amqpUrl: string;
  /** The same URL with the password masked, for messages. */
  redactedUrl: string;
}

/** Options of {@linkcode Broker.connect}. */
export interface BrokerConnectOptions {
  /** How long the TCP connect and AMQP handshake may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  timeoutMs?: number | undefined;
  /** Gives up connecting (e.g. SIGTERM while the broker is away). */
  signal?: AbortSignal | undefined;
}

/** Why the broker could not be used. */
export type BrokerFailureKind =
  /** It could not be reached: refused, timed out, DNS, aborted. */
  | "unreachable"
  /** It refused the login, the vhost, access or a declaration: reconnecting cannot fix it. */
  | "refused";

/** The broker could not be used; the message names its URL, redacted, in one line. */
export class BrokerError extends Error {
  /** Out of reach, or refused us. */
  readonly kind: BrokerFailureKind;

  /**
   * @param kind Out of reach, or refused us.
   * @param message One line, without credentials.
   * @param options The underlying error.
   */
  constructor(kind: BrokerFailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BrokerError";
    this.kind = kind;
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
  /** The broker's flow control of this connection. */
  readonly flow: FlowControl;
  /** Resolves with a one-line reason once the connection has ended, for whatever cause. */
  readonly lost: Promise<string>;
  #client: AMQPClient;
  #ended = new AbortController();
  #reason: string | undefined;
  #resolveLost: (reason: string) => void = () => {};

  private constructor(target: BrokerTarget, client: AMQPClient) {
    this.target = target;
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
   * Connects within a deadline. On any failure the socket is destroyed, so a
   * handshake that never came leaks nothing.
   *
   * @param target The URL, and its redacted form for messages.
   * @param options The deadline and the abort signal.
   * @returns The connected broker.
   * @throws {BrokerError} `refused` (credentials, vhost) or `unreachable`,
   * in one line naming the redacted URL.
   */
  static async connect(target: BrokerTarget, options: BrokerConnectOptions = {}): Promise<Broker> {
    const { timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, signal } = options;
    const { AMQPClient } = await import("amqp-client");
    const client: AMQPClient = new AMQPClient(target.amqpUrl);
    try {
      await untilDeadline(client.connect(), { ms: timeoutMs, signal });
    } catch (err) {
      destroySocket(client);
      const url = target.redactedUrl;
      if (isConfigurationError(err)) {
        throw new BrokerError("refused", `the broker at ${url} refused: ${errorLine(err)}`, {
          cause: err,
        });
      }
      const reason = errorLine(err) || "connection failed";
      throw new BrokerError("unreachable", `cannot reach the broker at ${url}: ${reason}`, {
        cause: err,
      });
    }
    return new Broker(target, client);
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

  /** Records the end of the connection; false when it had ended already. */
  #end(reason: string): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = reason;
    this.#ended.abort();
    this.#resolveLost(reason);
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
   * @throws The channel's error for anything but a missing queue.
   */
  async queueCounts(queue: string): Promise<QueueCounts | undefined> {
    const channel = await this.#client.channel();
    channel.onerror = () => {}; // the 404 below closes this channel only
    try {
      const ok = await channel.queueDeclare(queue, { passive: true });
      return { messages: ok.messageCount, consumers: ok.consumerCount };
    } catch (err) {
      if (/NOT_FOUND|\(404\)/.test(errorLine(err))) return undefined;
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
