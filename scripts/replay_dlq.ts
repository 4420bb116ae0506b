/**
 * Moves messages from `dlq.telemetry.{env}` back to `match.telemetry.{env}`,
 * one at a time: get, publish (confirmed), then ack, so a crash can duplicate
 * a job but never lose one. The worker sees the `x-error` header and gives a
 * replayed job a fresh delivery count.
 *
 * Usage:
 *   deno run --allow-net --allow-env scripts/replay_dlq.ts --env prod [--limit 100] [--dry-run]
 *
 * The broker URL comes from RABBITMQ_URL, else RABBITMQ_HOST/PORT/USER/PASSWORD/VHOST
 * (defaults 127.0.0.1, 5672, guest, guest, /), like `telemetry consume`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AMQPClient } from "amqp-client";

const { values } = parseArgs({
  options: {
    env: { type: "string" },
    limit: { type: "string" },
    "dry-run": { type: "boolean" },
  },
});
if (values.env === undefined || !/^[a-z0-9-]+$/.test(values.env)) {
  console.error("usage: replay_dlq.ts --env NAME [--limit N] [--dry-run]");
  Deno.exit(2);
}
const limit = values.limit === undefined ? Infinity : Number(values.limit);
const source = `dlq.telemetry.${values.env}`;
const target = `match.telemetry.${values.env}`;

const env = Deno.env.toObject();
const url = env.RABBITMQ_URL ??
  `amqp://${encodeURIComponent(env.RABBITMQ_USER ?? "guest")}:${
    encodeURIComponent(env.RABBITMQ_PASSWORD ?? "guest")
  }@${env.RABBITMQ_HOST ?? "127.0.0.1"}:${env.RABBITMQ_PORT ?? "5672"}/${
    encodeURIComponent(env.RABBITMQ_VHOST ?? "/")
  }`;

const client = new AMQPClient(url);
await client.connect();
try {
  const channel = await client.channel();
  await channel.confirmSelect();
  const { messageCount } = await channel.queueDeclare(source, { passive: true });
  console.error(`${source}: ${messageCount} message(s)`);
  let moved = 0;
  while (moved < limit && !values["dry-run"]) {
    const message = await channel.basicGet(source, { noAck: false });
    if (message === null) break;
    await channel.basicPublish("", target, message.body, {
      ...message.properties,
      deliveryMode: 2,
    });
    await message.ack();
    moved++;
  }
  console.error(`moved ${moved} message(s) to ${target}`);
} finally {
  await client.close();
}
