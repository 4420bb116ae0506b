import assert from "node:assert/strict";
import { Command } from "commander";
import {
  addDownloadOptions,
  type DownloadFlags,
  toDownloadSettings,
} from "../../src/cli/download_options.ts";
import { DEFAULT_ALLOWED_HOSTS } from "../../src/core/http/url_policy.ts";

function parse(args: string[]): DownloadFlags {
  const command = addDownloadOptions(
    new Command("x").exitOverride().configureOutput({ writeErr: () => {} }),
  );
  command.parse(args, { from: "user" });
  return command.opts();
}

Deno.test("addDownloadOptions() gives the documented defaults", () => {
  const settings = toDownloadSettings(parse([]));
  assert.equal(settings.dataDir, Deno.env.get("TELEMETRY_DATA_DIR") ?? "./data/telemetry");
  assert.deepEqual(settings.limits, { maxBytes: 1024 ** 3, maxDecompressedBytes: 4 * 1024 ** 3 });
  assert.deepEqual(settings.timeouts, { headersMs: 30_000, idleMs: 30_000, attemptMs: 120_000 });
  assert.deepEqual(settings.retry, { attempts: 3, backoffMs: 1000, maxRetryAfterMs: 60_000 });
  assert.equal(settings.policy.allowHttp, false);
});

Deno.test("toDownloadSettings() adds --allow-host values to the default hosts", () => {
  const settings = toDownloadSettings(
    parse([
      "--allow-host",
      "127.0.0.1:8080",
      "--allow-host",
      "Mirror.Local,cdn.example",
      "--allow-http",
    ]),
  );
  assert.deepEqual(settings.policy.allowHosts, [
    ...DEFAULT_ALLOWED_HOSTS,
    "127.0.0.1:8080",
    "mirror.local",
    "cdn.example",
  ]);
  assert.equal(settings.policy.allowHttp, true);
});

Deno.test("toDownloadSettings() converts seconds and sizes", () => {
  const settings = toDownloadSettings(
    parse(["--idle-timeout", "0.5", "--max-bytes", "10MiB", "--backoff", "0", "--attempts", "5"]),
  );
  assert.equal(settings.timeouts.idleMs, 500);
  assert.equal(settings.limits.maxBytes, 10 * 1024 ** 2);
  assert.equal(settings.retry.backoffMs, 0);
  assert.equal(settings.retry.attempts, 5);
});

Deno.test("addDownloadOptions() --min-free-space takes a size, a percentage or 0, and defaults to 1 GiB", () => {
  assert.deepEqual(toDownloadSettings(parse([])).minFreeSpace, { type: "bytes", bytes: 1024 ** 3 });
  const floor = (value: string) =>
    toDownloadSettings(parse(["--min-free-space", value])).minFreeSpace;
  assert.deepEqual(floor("500MiB"), { type: "bytes", bytes: 500 * 1024 ** 2 });
  assert.deepEqual(floor("5%"), { type: "percent", percent: 5 });
  assert.deepEqual(floor("0"), { type: "off" });
  assert.throws(() => parse(["--min-free-space", "lots"]), /--min-free-space.*expected a size/);
  assert.throws(() => parse(["--min-free-space", "100%"]), /below 100%/);
});

Deno.test("addDownloadOptions() rejects a bad value as a usage error", () => {
  assert.throws(() => parse(["--max-bytes", "lots"]), /--max-bytes/);
  assert.throws(() => parse(["--attempts", "0"]), /--attempts/);
  assert.throws(() => parse(["--allow-host", "http://127.0.0.1"]), /--allow-host.*host:port/);
});
