/**
 * Runs the worker as a process: checks the data dir, serves metrics, wires
 * SIGTERM/SIGINT to the graceful and immediate stops, and says how it ended. `src/commands/consume.ts` loads this module lazily, so the AMQP
 * client and prom-client cost nothing to the other commands.
 *
 * @module
 */

import { resolve } from "node:path";
import type { Logger } from "../core/log.ts";
import { errorLine, isKind } from "../core/errors.ts";
import { checkDataDir } from "../core/store/data_dir.ts";
import type { ConsumeConfig } from "./config.ts";
import { createMetrics, serveMetrics } from "./metrics.ts";
import { onShutdownSignals } from "../core/shutdown_signals.ts";
import { BrokerConfigError, Consumer } from "./consumer.ts";

/** How long a forced stop (second signal) waits for aborted downloads to delete their temp files. */
const FORCED_STOP_GRACE_MS = 500;

/**
 * The promise to systemd: after SIGTERM the process exits within
 * `--shutdown-timeout` plus this, whatever the broker does. The worker's own
 * drain fits in it (see Consumer); this is the backstop when it does not.
 */
export const SHUTDOWN_MARGIN_MS = 5_000;

/** The backstop fires this long before the margin runs out, leaving time to exit. */
const BACKSTOP_SLACK_MS = 500;

/**
 * How a consume run ended: `stopped` by a signal, or `failed` because the
 * data dir is not writable, the broker refused the configuration, or a job
 * met a fatal error of the worker (a missing permission, an untrusted
 * certificate); each already logged.
 */
export type ConsumeEnd = "stopped" | "failed";

/**
 * Runs `telemetry consume` until a signal stops it.
 *
 * @param config The resolved configuration.
 * @param context The logger.
 * @returns How it ended.
 *
 * @example
 * ```ts ignore
 * import { runConsume } from "./run.ts";
 * const code = await runConsume(config, { log });
 * ```
 */
export async function runConsume(
  config: ConsumeConfig,
  context: { log: Logger },
): Promise<ConsumeEnd> {
  const { log } = context;
  const dataDir = resolve(config.download.dataDir);
  const problem = await checkDataDir(dataDir).then(() => undefined, errorLine);
  if (problem !== undefined) {
    log.error("data_dir_not_writable", { data_dir: dataDir, error: problem });
    return "failed";
  }
  const metrics = config.metricsPort === undefined ? undefined : await createMetrics();
  const worker = new Consumer(config, { log, ...(metrics === undefined ? {} : { metrics }) });
  const server = metrics === undefined || config.metricsPort === undefined
    ? undefined
    : serveMetrics(config.metricsPort, { metrics, health: () => worker.health });
  return await runWith(worker, { log, config, server });
}

async function runWith(
  worker: Consumer,
  context: {
    log: Logger;
    config: ConsumeConfig;
    server: Deno.HttpServer<Deno.NetAddr> | undefined;
  },
): Promise<ConsumeEnd> {
  const { log, config, server } = context;
  let forced: (() => void) | undefined;
  const forcedStop = new Promise<void>((resolve) => forced = resolve);
  const dispose = onShutdownSignals({
    graceful(signal) {
      log.info("signal", { signal, action: "graceful stop" });
      worker.stop();
      const backstopMs = config.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS - BACKSTOP_SLACK_MS;
      const timer = setTimeout(() => {
        log.warn("shutdown_deadline", {
          action: "exiting now; unsettled jobs are redelivered by the broker",
        });
        worker.abortNow();
        forced?.();
      }, backstopMs);
      Deno.unrefTimer(timer);
    },
    immediate(signal) {
      log.warn("signal", { signal, action: "immediate stop" });
      worker.abortNow();
      setTimeout(() => forced?.(), FORCED_STOP_GRACE_MS);
    },
  });
  log.info("consume_started", {
    env: config.env,
    queue: config.names.queue,
    publish_queue: config.names.publishQueue,
    concurrency: config.concurrency,
    data_dir: resolve(config.download.dataDir),
    worker_id: config.workerId,
    metrics_port: server?.addr.port,
  });
  try {
    await Promise.race([worker.run(), forcedStop]);
    return "stopped";
  } catch (err) {
    if (isKind(err, "fatal")) return "failed"; // logged by the worker (worker_fatal)
    if (!(err instanceof BrokerConfigError)) throw err;
    log.error("broker_refused", { error: errorLine(err) });
    return "failed";
  } finally {
    dispose();
    await server?.shutdown();
  }
}
