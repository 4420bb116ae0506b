/**
 * Test support for the broker commands (`enqueue`, `announce`, `status`,
 * and the `consume` child): a fresh environment on the test broker, broker
 * settings and child environments pointing at it, job lines, and reading
 * what landed in a queue.
 *
 * @module
 */

import type { AMQPMessage } from "amqp-client";
import { type BrokerSettings, resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { testBrokerUrl } from "../support/test_broker.ts";
import { randomEnv, TestBroker } from "./harness.ts";

/** Runs `fn` with the topology of a fresh env declared; deletes it afterwards. */
export async function withBroker(
  fn: (broker: TestBroker, env: string) => Promise<void>,
): Promise<void> {
  const env = randomEnv();
  const broker = await TestBroker.open(env);
  try {
    await fn(broker, env);
  } finally {
    await broker.cleanup();
  }
}

/** Broker settings of `env` on the test broker, as a command resolves them. */
export async function testBrokerSettings(env: string): Promise<BrokerSettings> {
  return resolveBrokerSettings({ env, amqpUrl: await testBrokerUrl() }, {});
}

/**
 * The variables that point a CLI child at the test broker through
 * `RABBITMQ_*`; `TELEMETRY_ENV` and `ENVIRONMENT` are cleared, so only `--env` names the env.
 */
export async function brokerChildEnv(): Promise<Record<string, string>> {
  const url = new URL(await testBrokerUrl());
  return {
    RABBITMQ_URL: "",
    TELEMETRY_ENV: "",
    ENVIRONMENT: "",
    RABBITMQ_HOST: url.hostname,
    RABBITMQ_PORT: url.port || "5672",
    RABBITMQ_USER: decodeURIComponent(url.username),
    RABBITMQ_PASSWORD: decodeURIComponent(url.password),
    RABBITMQ_VHOST: decodeURIComponent(url.pathname.slice(1)) || "/",
  };
}

/** A telemetry URL the default policy allows (never downloaded by these tests). */
export function cdnUrl(matchId: string): string {
  return `https://telemetry-cdn.pubg.com/bluehole-pubg/steam/2024/11/28/12/34/${matchId}-telemetry.json`;
}

/** One job line, shaped like the match stage's messages. */
export function jobLine(matchId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ match_id: matchId, telemetry_url: cdnUrl(matchId), ...extra });
}

/** A message taken from a queue, with its body parsed. */
export interface TakenMessage {
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** The raw message. */
  message: AMQPMessage;
}

/** Takes every message now in `queue`, with parsed bodies. */
export async function takeJson(broker: TestBroker, queue: string): Promise<TakenMessage[]> {
  return (await broker.take(queue)).map((message) => ({
    body: JSON.parse(message.bodyString() ?? "null"),
    message,
  }));
}

/** The JSON objects of a command's `--json` output, one per line. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** Writes `lines` to a temp file (one per line) and returns its path. */
export async function writeLines(lines: string[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".ndjson" });
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}
