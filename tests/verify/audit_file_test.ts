import assert from "node:assert/strict";
import { join } from "node:path";
import { auditFile } from "../../src/verify/audit_file.ts";
import { gzip, randomBytes, telemetryJson, telemetryText, writeMatch } from "./fixtures.ts";
import { EXCERPT, TRUNCATED } from "../support/real_fixtures.ts";
import { concatBytes } from "../support/bytes.ts";

const ID = "4f1a2b3c-0000-4000-8000-000000000001";

async function audit(bytes: Uint8Array, options: { id?: string; max?: number } = {}) {
  const dir = await Deno.makeTempDir();
  try {
    const path = await writeMatch(dir, ID, bytes);
    return await auditFile(path, {
      expectedMatchId: options.id ?? ID,
      ...(options.max === undefined ? {} : { maxDecompressedBytes: options.max }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("auditFile() reports ok for single gzip, with sizes and events", async () => {
  const json = telemetryJson(ID, 3000);
  const gz = gzip(json);
  const result = await audit(gz);
  assert.equal(result.status, "ok");
  assert.equal(result.detail, "");
  assert.equal(result.bytes, gz.length);
  assert.equal(result.decompressedBytes, json.length);
  assert.equal(result.events, 3001);
  assert.equal(result.gzipLayers, 1);
  assert.equal(result.matchId, ID);
  assert.ok(result.identity !== undefined && result.identity.size === gz.length);
});

Deno.test("auditFile() accepts a two-member gzip as ok", async () => {
  const text = telemetryText(ID, 2000);
  const cut = text.indexOf(',{"character"', text.length / 2);
  const enc = new TextEncoder();
  const gz = concatBytes(gzip(enc.encode(text.slice(0, cut))), gzip(enc.encode(text.slice(cut))));
  const result = await audit(gz);
  assert.equal(result.status, "ok", result.detail);
  assert.equal(result.events, 2001);
});

Deno.test("auditFile() reports gzip inside gzip inside gzip as double_gzip", async () => {
  const result = await audit(gzip(telemetryJson(ID), 3));
  assert.equal(result.status, "double_gzip");
  assert.equal(result.gzipLayers, 3);
  assert.match(result.detail, /3 gzip layers/);
});

Deno.test("auditFile() reports plain JSON as not_gzip", async () => {
  const result = await audit(telemetryJson(ID));
  assert.equal(result.status, "not_gzip");
  assert.equal(result.gzipLayers, 0);
});

Deno.test("auditFile() reports a flipped CRC as corrupt", async () => {
  const gz = gzip(telemetryJson(ID));
  gz[gz.length - 8]! ^= 0xff;
  const result = await audit(gz);
  assert.equal(result.status, "corrupt");
  assert.match(result.detail, /check|crc/i);
});

Deno.test("auditFile() reports a file cut in the middle of a gzip block as truncated", async () => {
  const gz = gzip(telemetryJson(ID, 5000));
  const result = await audit(gz.subarray(0, Math.floor(gz.length / 2) + 7));
  assert.equal(result.status, "truncated");
  assert.ok(result.offset !== undefined && result.offset > 0);
});

Deno.test("auditFile() reports trailing garbage as corrupt, where it starts, with the true counts", async () => {
  const json = telemetryJson(ID);
  const gz = gzip(json);
  const result = await audit(concatBytes(gz, new TextEncoder().encode("xyz")));
  assert.equal(result.status, "corrupt");
  assert.equal(
    result.detail,
    `trailing data after the gzip stream at compressed byte ${gz.length}`,
  );
  assert.equal(result.decompressedBytes, json.length);
  assert.equal(result.offset, json.length);
  assert.equal(result.bytes, gz.length + 3);
});

Deno.test("auditFile() reports random bytes as corrupt: neither gzip nor JSON", async () => {
  const first = randomBytes(4096, 7);
  first[0] = 0xcd;
  const result = await audit(first);
  assert.equal(result.status, "corrupt");
  assert.match(
    result.detail,
    /^neither gzip nor JSON: the file starts with bytes cd( [0-9a-f]{2}){7}$/,
  );
  assert.equal(result.bytes, 4096);
  for (let seed = 1; seed <= 30; seed++) {
    const bytes = randomBytes(1000 + seed, seed);
    if (bytes[0] === 0x1f) continue; // could start like gzip: not this test's case
    assert.equal((await audit(bytes)).status, "corrupt", `seed ${seed}`);
  }
});

Deno.test("auditFile() keeps invalid_json for plain text that starts like JSON", async () => {
  const enc = new TextEncoder();
  for (const text of ['[{"_T":"x"},}', '  \n[{"_T":"LogMatchDefinition","MatchId":']) {
    assert.equal((await audit(enc.encode(text))).status, "invalid_json", text);
  }
  assert.equal((await audit(telemetryJson(ID))).status, "not_gzip");
  const html = await audit(enc.encode("<html><body>Access denied</body></html>"));
  assert.equal(html.status, "corrupt");
  assert.match(html.detail, /^neither gzip nor JSON: the file starts with bytes 3c 68 74 6d/);
});

Deno.test("auditFile() reports invalid JSON in valid gzip with the byte offset", async () => {
  const text = telemetryText(ID, 500);
  const at = 12345;
  const broken = text.slice(0, at) + "}" + text.slice(at + 1);
  const result = await audit(gzip(new TextEncoder().encode(broken)));
  assert.equal(result.status, "invalid_json");
  assert.equal(result.offset, at);
  assert.match(result.detail, new RegExp(`byte ${at}`));
});

Deno.test("auditFile() reports a zero-byte file and an empty gzip as empty", async () => {
  const zero = await audit(new Uint8Array());
  assert.equal(zero.status, "empty");
  assert.equal(zero.detail, "file is empty (0 bytes)");
  assert.equal((await audit(gzip(new Uint8Array()))).status, "empty");
});

Deno.test("auditFile() reports valid JSON of another shape as not_telemetry", async () => {
  const enc = new TextEncoder();
  assert.equal((await audit(gzip(enc.encode('{"a":1}')))).status, "not_telemetry");
  assert.equal((await audit(gzip(enc.encode("[]")))).status, "not_telemetry");
  assert.equal((await audit(gzip(enc.encode("[1,2]")))).status, "not_telemetry");
});

Deno.test("auditFile() reports another match's telemetry as wrong_match", async () => {
  const result = await audit(gzip(telemetryJson("other-match")));
  assert.equal(result.status, "wrong_match");
  assert.match(result.detail, /other-match/);
});

Deno.test("auditFile() stops a decompression bomb as too_large", async () => {
  const bomb = gzip(new Uint8Array(20 * 1024 * 1024).fill(0x20));
  assert.ok(bomb.length < 100_000);
  const result = await audit(bomb, { max: 1024 * 1024 });
  assert.equal(result.status, "too_large");
  assert.ok(result.decompressedBytes !== undefined && result.decompressedBytes <= 2 * 1024 * 1024);
});

Deno.test("auditFile() reports a directory as not_regular, a vanished file as unreadable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const directory = await auditFile(dir);
    assert.equal(directory.status, "not_regular");
    assert.equal(directory.detail, "a directory, not a regular file: not opened");
    const gone = await auditFile(join(dir, "nope.json.gz"));
    assert.equal(gone.status, "unreadable");
    assert.match(gone.detail, /cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auditFile() reports the real truncated file as invalid_json, plain or gzipped", async () => {
  const bytes = await Deno.readFile(
    TRUNCATED,
  );
  for (const content of [bytes, gzip(bytes)]) {
    const result = await audit(content, { id: "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c" });
    assert.equal(result.status, "invalid_json");
    assert.equal(result.offset, bytes.length);
    assert.match(result.detail, /unexpected end/);
  }
});

Deno.test("auditFile() reports the real excerpt as ok for its match", async () => {
  const bytes = await Deno.readFile(
    EXCERPT,
  );
  const ok = await audit(gzip(bytes), { id: "8c1c8a56-4104-46ef-8aec-5e012b041574" });
  assert.equal(ok.status, "ok");
  assert.equal(ok.events, 29);
  const other = await audit(gzip(bytes), { id: "fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c" });
  assert.equal(other.status, "wrong_match");
});

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("auditFile() reports a FIFO named raw.json.gz as not_regular without opening it", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "raw.json.gz");
    const mkfifo = await new Deno.Command("mkfifo", { args: [path] }).output();
    assert.ok(mkfifo.success, "mkfifo failed");
    const audit = auditFile(path);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"blocked">((resolve) => {
      timer = setTimeout(() => resolve("blocked"), 5000);
    });
    const first = await Promise.race([audit, timeout]);
    clearTimeout(timer);
    if (first === "blocked") {
      // Unblock the open (a writer arrives, then leaves) so that the test can end.
      const writer = await Deno.open(path, { write: true });
      writer.close();
      await audit;
      assert.fail("auditFile() blocked opening a FIFO");
    }
    assert.equal(first.status, "not_regular");
    assert.equal(first.detail, "a FIFO (named pipe), not a regular file: not opened");
    assert.equal(first.identity, undefined);
  });
});

Deno.test("auditFile() reports a symlink as not_regular and does not follow it", async () => {
  await withDir(async (dir) => {
    const real = join(dir, "elsewhere.json.gz");
    await Deno.writeFile(real, gzip(telemetryJson(ID)));
    const link = join(dir, "raw.json.gz");
    await Deno.symlink(real, link);
    const result = await auditFile(link, { expectedMatchId: ID });
    assert.equal(result.status, "not_regular");
    assert.equal(result.detail, `symbolic link to ${real}: not followed`);
    assert.equal(result.decompressedBytes, undefined);
  });
});

Deno.test("auditFile() gives a file larger than one read the same statuses, streamed", async () => {
  const json = telemetryJson(ID, 12_000);
  const gz = gzip(json);
  assert.ok(gz.length > 256 * 1024, `${gz.length}`);
  const ok = await audit(gz);
  assert.equal(ok.status, "ok");
  assert.equal(ok.events, 12_001);
  assert.equal(ok.decompressedBytes, json.length);
  const crc = gz.slice();
  crc[crc.length - 7]! ^= 0x55;
  assert.equal((await audit(crc)).status, "corrupt");
  const truncated = await audit(gz.subarray(0, gz.length - 100));
  assert.equal(truncated.status, "truncated");
  assert.equal((await audit(gzip(json, 2))).status, "double_gzip");
});
