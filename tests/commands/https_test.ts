/**
 * The production path over HTTPS: every real telemetry URL is HTTPS, so the
 * CLI runs here with exactly the binary's permissions (`spawnCli`, never
 * `-A`) against loopback HTTPS servers whose certificate a test CA signed
 * (`tests/support/tls.ts`), with the CA variables set as an operator and as
 * these machines set them, and unset.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipEncoded, redirect, startServer, type TestServer } from "../support/http_server.ts";
import { childEnv, runCli } from "../support/cli.ts";
import { withTempDir } from "../support/helpers.ts";
import { generateTelemetry, gzipBytes } from "../support/telemetry_fixture.ts";
import { CA_ENVS, serveTls } from "../support/tls.ts";
import { randomEnv, TelemetryServer, TestBroker, waitFor } from "../queue/harness.ts";
import { brokerChildEnv } from "../queue/operator_support.ts";
import { Child, listTree, testArgs } from "./consume_child.ts";
import { cliRunArgs } from "../../scripts/cli_run_args.ts";
import { CLI_FLAGS } from "../../scripts/permissions.ts";

const ID = "a1a1a1a1-0000-4000-8000-000000000001";
const ID_2 = "b2b2b2b2-0000-4000-8000-000000000002";
const GZ = await gzipBytes(generateTelemetry({ matchId: ID, events: 500 }));
const GZ_2 = await gzipBytes(generateTelemetry({ matchId: ID_2, events: 500, seed: 2 }));

type CaEnv = Record<string, string | undefined>;

/** One stored file's path. */
function rawFile(dataDir: string, matchId: string): string {
  return join(dataDir, `matchID=${matchId}`, "raw.json.gz");
}

function httpsServer(name: "leaf" | "wrong_name" = "leaf"): TestServer {
  return startServer({ "/a.json": gzipEncoded(GZ), "/b.json": gzipEncoded(GZ_2) }, {
    tls: serveTls(name),
  });
}

/** `download URL` from an HTTPS test server: no --allow-http, the server's host:port allowed. */
function download(server: TestServer, dataDir: string, ...extra: string[]): string[] {
  return [
    "download",
    ...extra,
    "--data-dir",
    dataDir,
    "--allow-host",
    `127.0.0.1:${server.port}`,
    "--backoff",
    "0",
  ];
}

/** `download --json` of `/a.json` from a fresh HTTPS test server into `dir/data`, with `env`. */
async function downloadJson(
  dir: string,
  env: CaEnv,
): Promise<{ stdout: string; stderr: string; code: number; port: number }> {
  await using server = httpsServer();
  const [stdout, stderr, code] = await runCli(
    download(server, join(dir, "data"), server.url("/a.json"), "--json"),
    { env },
  );
  return { stdout, stderr, code, port: server.port };
}

/** The non-empty lines of a text. */
function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

for (
  const [name, env] of Object.entries({
    "NODE_EXTRA_CA_CERTS": CA_ENVS.nodeExtra,
    "DENO_CERT": CA_ENVS.denoCert,
    "DENO_CERT, with the machine's bundle in NODE_EXTRA_CA_CERTS": CA_ENVS.machinePlusDenoCert,
  })
) {
  Deno.test(`telemetry download over HTTPS stores the file, the private CA given in ${name}`, async () => {
    await withTempDir(async (dir) => {
      const { stdout, stderr, code } = await downloadJson(dir, env);
      assert.equal(code, 0, stderr);
      assert.equal(JSON.parse(stdout).outcome, "downloaded");
      assert.deepEqual(await Deno.readFile(rawFile(join(dir, "data"), ID)), GZ);
    });
  });
}

for (
  const [name, env] of Object.entries({
    "with NODE_EXTRA_CA_CERTS as on these machines": CA_ENVS.machineUntrusted,
    "with no CA variable": CA_ENVS.noneUntrusted,
  })
) {
  Deno.test(`telemetry download of an untrusted certificate fails at once in one line naming it, ${name}`, async () => {
    await withTempDir(async (dir) => {
      const { stdout, stderr, code, port } = await downloadJson(dir, env);
      assert.equal(code, 1);
      const result = JSON.parse(stdout);
      assert.equal(result.error_kind, "fatal");
      assert.equal(result.error_code, "tls");
      assert.match(
        result.error,
        new RegExp(`TLS certificate of 127\\.0\\.0\\.1:${port} is not trusted`),
      );
      assert.match(result.error, /NODE_EXTRA_CA_CERTS/);
      assert.doesNotMatch(stderr, /cannot reach|"retry"/);
      assert.equal(lines(stderr).length, 1, stderr);
      assert.deepEqual(await listTree(dir), []);
    });
  });
}

Deno.test("telemetry download of a certificate for another name says so, in one line", async () => {
  await withTempDir(async (dir) => {
    await using server = httpsServer("wrong_name");
    const [, stderr, code] = await runCli(
      download(server, join(dir, "data"), server.url("/a.json")),
      { env: CA_ENVS.nodeExtra },
    );
    assert.equal(code, 1);
    assert.equal(lines(stderr).length, 1, stderr);
    assert.match(stderr, /TLS certificate of 127\.0\.0\.1:\d+ is not trusted: .*altnames/);
  });
});

Deno.test("telemetry download follows a redirect from HTTPS to HTTPS on another host:port", async () => {
  await withTempDir(async (dir) => {
    await using target = httpsServer();
    await using origin = startServer({ "/r": redirect(target.url("/a.json")) }, {
      tls: serveTls(),
    });
    const dataDir = join(dir, "data");
    const [, stderr, code] = await runCli(
      [
        ...download(origin, dataDir, origin.url("/r")),
        "--allow-host",
        `127.0.0.1:${target.port}`,
      ],
      { env: CA_ENVS.machinePlusDenoCert },
    );
    assert.equal(code, 0, stderr);
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID)), GZ);
  });
});

Deno.test("telemetry download --jobs stores every job over HTTPS", async () => {
  await withTempDir(async (dir) => {
    await using server = httpsServer();
    const dataDir = join(dir, "data");
    const jobs = [
      { match_id: ID, telemetry_url: server.url("/a.json") },
      { match_id: ID_2, telemetry_url: server.url("/b.json") },
    ].map((job) => JSON.stringify(job)).join("\n");
    const [, stderr, code] = await runCli(download(server, dataDir, "--jobs", "-"), {
      env: CA_ENVS.nodeExtra,
      stdin: jobs + "\n",
    });
    assert.equal(code, 0, stderr);
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID)), GZ);
    assert.deepEqual(await Deno.readFile(rawFile(dataDir, ID_2)), GZ_2);
  });
});

/** The binary's flags with `--allow-sys=hostname` for `--allow-sys`: the build before the fix. */
function narrowSys(denoArgs: string[]): string[] {
  const narrowed = denoArgs.map((arg) => arg === "--allow-sys" ? "--allow-sys=hostname" : arg);
  assert.ok(narrowed.includes("--allow-sys=hostname"), "the binary's flags grant --allow-sys");
  return narrowed;
}

/** `deno run` of main.ts with {@linkcode narrowSys} flags. */
async function runWithNarrowSys(
  args: string[],
  env: CaEnv,
): Promise<[stdout: string, stderr: string, code: number]> {
  const { stdout, stderr, code } = await new Deno.Command(Deno.execPath(), {
    args: narrowSys(cliRunArgs(args)),
    ...childEnv(env),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return [decoder.decode(stdout), decoder.decode(stderr), code];
}

Deno.test("a missing permission is a fatal error: one line, exit 1, no retry (NODE_EXTRA_CA_CERTS set)", async () => {
  assert.ok(CLI_FLAGS.includes("--allow-sys"));
  await withTempDir(async (dir) => {
    await using server = httpsServer();
    const [stdout, stderr, code] = await runWithNarrowSys(
      download(server, join(dir, "data"), server.url("/a.json"), "--json"),
      CA_ENVS.machineUntrusted,
    );
    assert.equal(code, 1);
    const result = JSON.parse(stdout);
    assert.equal(result.error_kind, "fatal");
    assert.equal(result.error_code, "permission");
    assert.match(result.error, /lacks a permission \(sys access to "ca"\)/);
    assert.doesNotMatch(result.error, /--allow-sys flag/, "no advice naming a flag the CLI lacks");
    assert.equal(lines(stderr).length, 1, stderr);
    assert.deepEqual(await listTree(dir), []);
  });
});

Deno.test("without NODE_EXTRA_CA_CERTS the narrow permission reaches the handshake (the certificate decides)", async () => {
  await withTempDir(async (dir) => {
    await using server = httpsServer();
    const [stdout, , code] = await runWithNarrowSys(
      download(server, join(dir, "data"), server.url("/a.json"), "--json"),
      CA_ENVS.noneUntrusted,
    );
    assert.equal(code, 1);
    assert.equal(JSON.parse(stdout).error_code, "tls");
  });
});

/** A consume child on a fresh env against an HTTPS telemetry server. */
async function withHttpsConsumer(
  options: { env: CaEnv; spawn?: (args: string[], env: CaEnv) => Child },
  fn: (
    run: { broker: TestBroker; server: TelemetryServer; child: Child; dataDir: string },
  ) => Promise<void>,
): Promise<void> {
  const envName = randomEnv();
  const dataDir = await Deno.makeTempDir();
  const server = new TelemetryServer({ events: 200, tls: serveTls() });
  const broker = await TestBroker.open(envName);
  const args = testArgs(envName, dataDir).filter((arg) => arg !== "--allow-http");
  const env = { ...await brokerChildEnv(), ...options.env };
  const child = options.spawn?.(args, env) ?? new Child(args, env);
  try {
    await fn({ broker, server, child, dataDir });
  } finally {
    await child.kill();
    await broker.cleanup();
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("telemetry consume stores and announces jobs over HTTPS with the binary's permissions", async () => {
  await withHttpsConsumer({ env: CA_ENVS.machinePlusDenoCert }, async (run) => {
    const { broker, server, child, dataDir } = run;
    const ids = ["c-1", "c-2", "c-3"];
    for (const id of ids) await broker.publish({ match_id: id, telemetry_url: server.url(id) });
    await waitFor(() => child.events("job").length === 3, { what: "three jobs settled" });
    assert.deepEqual(child.events("job").map((j) => j.outcome), [
      "downloaded",
      "downloaded",
      "downloaded",
    ]);
    for (const id of ids) {
      assert.deepEqual(await Deno.readFile(rawFile(dataDir, id)), await server.gzip(id));
    }
    assert.equal(await broker.count(broker.names.publishQueue), 3);
    assert.equal(await broker.count(broker.names.deadLetterQueue), 0);
  });
});

for (
  const [name, options] of Object.entries({
    "a missing permission": {
      env: CA_ENVS.machineUntrusted,
      spawn: (args: string[], env: CaEnv) => new NarrowChild(args, env),
      code: "permission",
    },
    "an untrusted certificate": { env: CA_ENVS.machineUntrusted, code: "tls" },
  })
) {
  Deno.test(`telemetry consume stops with exit 1 on ${name}, leaving the job queued and uncounted`, async () => {
    await withHttpsConsumer(options, async (run) => {
      const { broker, server, child, dataDir } = run;
      await waitFor(() => child.events("broker_connected").length === 1, { what: "connected" });
      await broker.publish({ match_id: "f-1", telemetry_url: server.url("f-1") });
      assert.equal(await child.exit(), 1);
      const fatal = child.events("worker_fatal");
      assert.equal(fatal.length, 1);
      assert.match(String(fatal[0]?.error), options.code === "tls" ? /not trusted/ : /permission/);
      assert.equal(child.events("job")[0]?.outcome, "unacked");
      assert.equal(child.events("retry").length, 0);
      assert.deepEqual(await listTree(dataDir), []);
      await waitFor(async () => await broker.count(broker.names.queue) === 1, { what: "requeued" });
      for (
        const queue of [
          broker.names.retryQueue,
          broker.names.deadLetterQueue,
          broker.names.publishQueue,
        ]
      ) {
        assert.equal(await broker.count(queue), 0, queue);
      }
      const [message] = await broker.take(broker.names.queue);
      assert.equal(message?.properties.headers?.["x-attempts"], undefined, "no delivery counted");
    });
  });
}

/** A consume child run with `--allow-sys=hostname` instead of the binary's `--allow-sys`. */
class NarrowChild extends Child {
  constructor(args: string[], env: CaEnv) {
    super(args, env, { denoArgs: narrowSys });
  }
}
