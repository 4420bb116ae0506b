/**
 * Test support for the operator commands that publish (`enqueue`,
 * `announce`): broker settings and child environments pointing at the test
 * broker, job lines, and reading what landed in a queue.
 *
 * @module
 */

import type { AMQPMessage } from "amqp-client";
import { type BrokerSettings, resolveBrokerSettings } from "../../src/queue/broker_settings.ts";
import { testBrokerUrl } from "../support/test_broker.ts";
import type { TestBroker } from "./harness.ts";

/** Broker settings of `env` on the test broker, as a command resolves them. */
export async function testBrokerSettings(env: string): Promise<BrokerSettings> {
  return resolveBrokerSettings({ env, amqpUrl: await testBrokerUrl() }, {});
}

/** The variables that point a CLI child at the test broker through `RABBITMQ_*`. */
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

/** Writes `lines` to a temp file (one per line) and returns its path. */
export async function writeLines(lines: string[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".ndjson" });
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}
