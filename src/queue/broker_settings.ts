/**
 * Which broker and which queues: resolved once from the flags (`--env`,
 * `--amqp-url`, `--publish-queue`) and the environment (`TELEMETRY_ENV`,
 * `ENVIRONMENT`, `RABBITMQ_URL`, `RABBITMQ_*`), for `consume` and every
 * other command that talks to the broker. Resolved before anything
 * connects, so a bad value is a usage error and logs only ever see the
 * redacted URL. `--amqp-url` may name several nodes of a cluster (repeated,
 * or comma-separated, as `RABBITMQ_URL` may); {@linkcode redactSecrets}
 * masks the passwords of all of them in any text.
 *
 * @module
 */

import { TelemetryError } from "../core/errors.ts";
import { type TopologyNames, topologyNames } from "./topology.ts";

/** Heartbeat asked for when the URL sets none, in seconds. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/**
 * Frame size asked for when the URL sets none: RabbitMQ's own default. The
 * AMQP client would otherwise settle on 8 KiB, which the headers of a dead
 * letter can outgrow.
 */
export const DEFAULT_FRAME_MAX = 131_072;

/** The broker flags, as given. */
export interface BrokerInput {
  /** `--env`; falls back to `TELEMETRY_ENV`, then `ENVIRONMENT`. */
  env?: string | undefined;
  /**
   * `--amqp-url`, repeatable, each value possibly a comma-separated list;
   * falls back to `RABBITMQ_URL` (also comma-separated), then the
   * `RABBITMQ_*` parts.
   */
  amqpUrl?: string | string[] | undefined;
  /** `--publish-queue`. @default {"match.processing.telemetry.{env}"} */
  publishQueue?: string | undefined;
}

/** One broker node: its URL with credentials, and the same URL for logs. */
export interface BrokerNode {
  /** The URL, with credentials, heartbeat and frame size: never log it. */
  url: string;
  /** The URL with the password replaced by `***`. */
  redacted: string;
}

/** The broker and queue names, validated. */
export interface BrokerSettings {
  /** The environment suffix of every name. */
  env: string;
  /** The first broker URL, with credentials and heartbeat: never log it. */
  amqpUrl: string;
  /** The first broker URL with the password replaced by `***`, for logs. */
  redactedUrl: string;
  /** Every broker node, in the order given (at least one; the first is `amqpUrl`). */
  urls: BrokerNode[];
  /** Queue and exchange names. */
  names: TopologyNames;
}

const ENV_PATTERN = /^[a-z0-9-]+$/;
const QUEUE_PATTERN = /^[A-Za-z0-9._:-]{1,255}$/;

/**
 * Resolves the broker URL and the queue names.
 *
 * @param input The broker flags.
 * @param vars The environment variables.
 * @returns The settings.
 * @throws {TelemetryError} kind `usage`, code `bad_option`, naming the bad value.
 *
 * @example
 * ```ts
 * import { resolveBrokerSettings } from "./broker_settings.ts";
 * const broker = resolveBrokerSettings(
 *   {},
 *   { TELEMETRY_ENV: "prod", RABBITMQ_PASSWORD: "s3cret" },
 * );
 * if (broker.names.queue !== "match.telemetry.prod") throw new Error("unexpected");
 * if (broker.redactedUrl.includes("s3cret")) throw new Error("leaked");
 * const cluster = resolveBrokerSettings(
 *   { env: "prod", amqpUrl: ["amqp://w:pw@mq-1/", "amqp://w:pw@mq-2/,amqp://w:pw@mq-3/"] },
 *   {},
 * );
 * if (cluster.urls.length !== 3) throw new Error("unexpected");
 * ```
 */
export function resolveBrokerSettings(
  input: BrokerInput,
  vars: Record<string, string | undefined>,
): BrokerSettings {
  const env = input.env ?? vars.TELEMETRY_ENV ?? vars.ENVIRONMENT;
  if (env === undefined || env === "") {
    throw usage("missing environment: pass --env NAME or set TELEMETRY_ENV (e.g. --env prod)");
  }
  if (!ENV_PATTERN.test(env)) {
    throw usage(`invalid --env ${JSON.stringify(env)}: expected [a-z0-9-]+ (e.g. prod, staging)`);
  }
  if (input.publishQueue !== undefined && !QUEUE_PATTERN.test(input.publishQueue)) {
    throw usage(`invalid --publish-queue ${JSON.stringify(input.publishQueue)}`);
  }
  const urls = brokerNodes(input.amqpUrl, vars);
  const first = urls[0]!;
  return {
    env,
    amqpUrl: first.url,
    redactedUrl: first.redacted,
    urls,
    names: topologyNames(env, input.publishQueue),
  };
}

/**
 * The broker URLs given: the flag's values (else `RABBITMQ_URL`), each split
 * at commas, blanks and repeats dropped; none given, the URL built from the
 * `RABBITMQ_*` parts. An unescaped comma cannot occur in a URL's host,
 * port or vhost part here: a comma in a password or vhost is written `%2C`.
 */
function brokerNodes(
  given: string | string[] | undefined,
  vars: Record<string, string | undefined>,
): BrokerNode[] {
  const values = given === undefined || (Array.isArray(given) && given.length === 0)
    ? [vars.RABBITMQ_URL ?? ""]
    : [given].flat();
  const pieces = values.flatMap((value) => value.split(",")).map((piece) => piece.trim())
    .filter((piece) => piece !== "");
  if (pieces.length === 0) return [node(amqpUrlFrom(undefined, vars))];
  const nodes: BrokerNode[] = [];
  for (const [i, piece] of pieces.entries()) {
    let url: string;
    try {
      url = amqpUrlFrom(piece, vars);
    } catch (err) {
      if (pieces.length === 1 || !(err instanceof TelemetryError)) throw err;
      // Which one of the list, by position: the text itself may hold a password.
      throw usage(`${err.message} (URL ${i + 1} of ${pieces.length})`);
    }
    if (!nodes.some((known) => known.url === url)) nodes.push(node(url));
  }
  // One URL's text may carry another's password (a vhost that repeats a URL).
  for (const known of nodes) known.redacted = redactSecrets(known.redacted, nodes);
  return nodes;
}

function node(url: string): BrokerNode {
  return { url, redacted: redactAmqpUrl(url) };
}

/**
 * Masks credentials in a text meant for a message or a log line: the
 * password of every `scheme://user:password@` in it, and the passwords of
 * the given broker URLs wherever they appear (RabbitMQ and the AMQP client
 * repeat parts of a URL in their errors, e.g.
 * `vhost ,amqp://spy:<password>@host/ not found`).
 *
 * @param text Any text, e.g. an error's message.
 * @param urls The broker nodes (or URLs) whose passwords must never show.
 * @returns The text with every such password replaced by `***`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactSecrets } from "./broker_settings.ts";
 * assert.equal(
 *   redactSecrets("vhost ,amqp://spy:pw-2@h2:5672/ not found; also pw-1", ["amqp://spy:pw-1@h1/"]),
 *   "vhost ,amqp://spy:***@h2:5672/ not found; also ***",
 * );
 * ```
 */
export function redactSecrets(
  text: string,
  urls: readonly (string | Pick<BrokerNode, "url">)[] = [],
): string {
  let out = text.replace(USERINFO, (_, head: string) => `${head}***@`);
  for (const secret of passwordsOf(urls)) out = out.split(secret).join("***");
  return out;
}

/** `scheme://user:password@`: the password runs to the `@` (no blank, no second `@`). */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@]*@/gi;

/**
 * The passwords of URLs, as written and decoded; those too short or equal
 * to their user name (`guest:guest`) are left to the pattern above, which
 * masks them where a URL shows them.
 */
function passwordsOf(urls: readonly (string | Pick<BrokerNode, "url">)[]): string[] {
  const found = new Set<string>();
  for (const entry of urls) {
    let parsed: URL;
    try {
      parsed = new URL(typeof entry === "string" ? entry : entry.url);
    } catch {
      continue;
    }
    const forms = [parsed.password];
    try {
      forms.push(decodeURIComponent(parsed.password));
    } catch { /* not valid percent-encoding: the raw form only */ }
    for (const form of forms) {
      if (form.length >= 4 && form !== parsed.username && form !== "***") found.add(form);
    }
  }
  // Longest first, so a password that contains another is masked whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * Renders a broker URL for logs: the password becomes `***`.
 *
 * @param url An amqp:// or amqps:// URL.
 * @returns The URL without its password (or `<invalid URL>`).
 */
export function redactAmqpUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    // A URL may carry another one (a list pasted as one URL): mask that one too.
    return redactSecrets(u.href);
  } catch {
    return "<invalid URL>";
  }
}

function amqpUrlFrom(given: string | undefined, vars: Record<string, string | undefined>): string {
  let url: URL;
  if (given !== undefined && given !== "") {
    try {
      url = new URL(given);
    } catch {
      throw usage(
        "invalid --amqp-url / RABBITMQ_URL: not a URL (expected amqp://user:pass@host/vhost)",
      );
    }
    if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
      throw usage(
        `invalid --amqp-url / RABBITMQ_URL: scheme ${url.protocol} is not amqp: or amqps:`,
      );
    }
  } else {
    const host = vars.RABBITMQ_HOST || "127.0.0.1";
    const port = vars.RABBITMQ_PORT || "5672";
    if (!/^\d{1,5}$/.test(port)) throw usage(`invalid RABBITMQ_PORT ${JSON.stringify(port)}`);
    const user = encodeURIComponent(vars.RABBITMQ_USER || "guest");
    const password = encodeURIComponent(vars.RABBITMQ_PASSWORD || "guest");
    const vhost = encodeURIComponent(vars.RABBITMQ_VHOST || "/");
    try {
      url = new URL(`amqp://${user}:${password}@${host}:${port}/${vhost}`);
    } catch {
      throw usage(`invalid RABBITMQ_HOST ${JSON.stringify(host)}`);
    }
  }
  if (!url.searchParams.has("heartbeat")) {
    url.searchParams.set("heartbeat", String(DEFAULT_HEARTBEAT_SECONDS));
  }
  if (!url.searchParams.has("frameMax")) {
    url.searchParams.set("frameMax", String(DEFAULT_FRAME_MAX));
  }
  checkUrlOptions(url.searchParams);
  return url.href;
}

/**
 * The numeric query options the AMQP client reads from the URL, and the
 * values it can use: it parses them with `parseInt` and fails late (a `NaN`
 * heartbeat crashes the process; a `frameMax` below 8192 fails every
 * connect) or sends them in 16- and 32-bit fields of `connection.tune-ok`.
 */
const URL_OPTIONS = [
  { name: "heartbeat", min: 0, max: 0xffff, note: "seconds; 0 turns heartbeats off" },
  {
    name: "frameMax",
    min: 8192,
    max: 0xffff_ffff,
    note: "bytes; 8192 is the AMQP client's minimum",
  },
  { name: "channelMax", min: 0, max: 0xffff, note: "0 leaves the limit to the broker" },
] as const;

function checkUrlOptions(params: URLSearchParams): void {
  for (const { name, min, max, note } of URL_OPTIONS) {
    for (const value of params.getAll(name)) {
      const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
      if (!(n >= min && n <= max)) {
        throw usage(
          `invalid --amqp-url / RABBITMQ_URL: ${name} ${JSON.stringify(value)} is not allowed: ` +
            `expected an integer from ${min} to ${max} (${note})`,
        );
      }
    }
  }
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
