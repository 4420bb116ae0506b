/**
 * The permissions of the `telemetry` binary, defined once: `deno task
 * compile` bakes them into the executable and the CLI tests run `main.ts`
 * with exactly these, so tests exercise what production gets.
 *
 * - `--allow-net`: the CDN hosts are an allow-list the operator extends at run
 *   time (`--allow-host`), and the broker address is configuration, so the
 *   network permission cannot name hosts in advance. The URL policy in
 *   `src/core/http/url_policy.ts` is the real guard.
 * - `--allow-read` / `--allow-write`: the data dir is configuration
 *   (`--data-dir`, `TELEMETRY_DATA_DIR`); `--jobs FILE` reads any path.
 * - `--allow-env`: flags fall back to `TELEMETRY_*`, `RABBITMQ_*` and
 *   `ENVIRONMENT`; the npm AMQP client reads the environment too.
 * - `--allow-sys` (unscoped): `hostname` for the default `--worker-id`
 *   (hostname plus pid), and the CA store for TLS. With `NODE_EXTRA_CA_CERTS`
 *   set (as many hosts and container images do, and as an operator does to
 *   trust a private CA), Deno's `node:https` and `node:tls` read the CA store
 *   through a sys check named "ca" on every HTTPS or AMQPS connection. Deno
 *   2.9.6 has no scoped descriptor for it (`--allow-sys=hostname,ca` is
 *   refused as an unknown descriptor, and no list of the 14 named ones grants
 *   it), so only the unscoped flag works. Measured: with
 *   `--allow-sys=hostname` every HTTPS download failed with `Requires sys
 *   access to "ca"`. What it adds beyond `hostname` is read-only host
 *   information (os release, uptime, load, memory, interfaces, uid/gid) and
 *   `setPriority`; it grants no file, network or process access.
 *
 * Nothing else: no `--allow-run`, no `--allow-ffi`, no `--allow-all`.
 *
 * One V8 flag goes with them: `--expose-gc`, so the streaming core can free
 * dead chunks every few megabytes and keep memory flat (src/core/content/memory.ts).
 * {@linkcode CLI_FLAGS} is what `deno run`/`deno compile` get.
 *
 * @module
 */

/** Permission flags of `deno run` / `deno compile` for the CLI. */
export const CLI_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

/** V8 flags of the CLI (see src/core/content/memory.ts). */
export const CLI_V8_FLAGS: readonly string[] = ["--v8-flags=--expose-gc"];

/** Everything `deno run`/`deno compile` get for the CLI: permissions and V8 flags. */
export const CLI_FLAGS: readonly string[] = [...CLI_PERMISSIONS, ...CLI_V8_FLAGS];
