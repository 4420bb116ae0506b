import assert from "node:assert/strict";
import { crc32, gunzipSync, gzipSync } from "node:zlib";
import { decodeGzipPrefix, GunzipStream, isGzip } from "../../../src/core/content/gzip.ts";
import { TelemetryError } from "../../../src/core/errors.ts";
import { concatBytes } from "../../support/bytes.ts";

const encoder = new TextEncoder();

/** Deterministic, moderately compressible content of `size` bytes. */
function makeContent(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 0x61 + ((x >>> 16) % 8);
  }
  return out;
}

function gzip(data: Uint8Array): Uint8Array {
  const out = gzipSync(data);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
}

function chunked(data: Uint8Array, size: number): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += size) {
    chunks.push(data.subarray(offset, offset + size));
  }
  return ReadableStream.from(chunks);
}

async function gunzip(
  data: Uint8Array,
  options: { chunkSize?: number; maxOutputBytes?: number } = {},
): Promise<Uint8Array> {
  const { chunkSize = 64 * 1024, maxOutputBytes } = options;
  const stream = new GunzipStream(maxOutputBytes === undefined ? {} : { maxOutputBytes });
  return await new Response(chunked(data, chunkSize).pipeThrough(stream)).bytes();
}

async function gunzipError(
  data: Uint8Array,
  options: { chunkSize?: number; maxOutputBytes?: number } = {},
): Promise<TelemetryError> {
  try {
    await gunzip(data, options);
  } catch (err) {
    assert.ok(err instanceof TelemetryError, `expected a TelemetryError, got ${err}`);
    assert.equal(err.kind, "permanent");
    return err;
  }
  assert.fail("expected gunzip to fail");
}

Deno.test("isGzip() recognizes the gzip magic", () => {
  assert.equal(isGzip(gzip(encoder.encode("x"))), true);
  assert.equal(isGzip(new Uint8Array([0x1f, 0x8b])), true);
  assert.equal(isGzip(new Uint8Array([0x1f])), false);
  assert.equal(isGzip(new Uint8Array([])), false);
  assert.equal(isGzip(encoder.encode("[{}]")), false);
});

Deno.test("GunzipStream decodes a large file in any chunk size", async () => {
  const content = makeContent(3_000_000);
  const gz = gzip(content);
  for (const chunkSize of [1000, 65_536, 200_000, gz.length]) {
    assert.deepEqual(await gunzip(gz, { chunkSize }), content);
  }
});

Deno.test("GunzipStream counts bytes in and out", async () => {
  const content = makeContent(500_000);
  const gz = gzip(content);
  const stream = new GunzipStream();
  const out = await new Response(chunked(gz, 10_000).pipeThrough(stream)).bytes();
  assert.equal(out.length, content.length);
  assert.equal(stream.bytesIn, gz.length);
  assert.equal(stream.bytesOut, content.length);
});

Deno.test("GunzipStream decodes two concatenated members to their concatenation", async () => {
  const a = makeContent(100_000, 1);
  const b = makeContent(70_000, 2);
  const both = concatBytes(gzip(a), gzip(b));
  assert.deepEqual(await gunzip(both), concatBytes(a, b));
  assert.deepEqual(await gunzip(both, { chunkSize: 777 }), concatBytes(a, b));
});

Deno.test("GunzipStream decodes the gzip of empty input to nothing", async () => {
  assert.deepEqual(await gunzip(gzip(new Uint8Array(0))), new Uint8Array(0));
});

Deno.test("GunzipStream reports zero padding after the last member as corrupt", async () => {
  const gz = gzip(makeContent(1000));
  const padded = await gunzipError(concatBytes(gz, new Uint8Array(8)));
  assert.equal(padded.code, "corrupt");
  assert.equal(
    padded.message,
    `trailing data after the gzip stream at compressed byte ${gz.length}`,
  );
  assert.equal(padded.offset, 1000);
  // zlib would ignore anything after the zeros: garbage, or a whole member.
  const hidden = await gunzipError(concatBytes(gz, new Uint8Array(4), encoder.encode("garbage")));
  assert.equal(hidden.code, "corrupt");
  const split = await gunzipError(concatBytes(gz, new Uint8Array(4), gz), {
    chunkSize: gz.length + 4,
  });
  assert.equal(split.code, "corrupt");
});

/** A byte of the trailer flipped: the test's name, the byte's place from the end, the message. */
const TRAILER_FLIPS: [name: string, fromEnd: number, message: RegExp][] = [
  ["GunzipStream reports a flipped CRC byte as corrupt", 6, /incorrect data check/],
  ["GunzipStream reports a wrong length trailer as corrupt", 2, /incorrect length check/],
];

for (const [name, fromEnd, message] of TRAILER_FLIPS) {
  Deno.test(name, async () => {
    const gz = gzip(makeContent(200_000));
    gz[gz.length - fromEnd]! ^= 0x01;
    const err = await gunzipError(gz);
    assert.equal(err.code, "corrupt");
    assert.match(err.message, message);
    assert.match(err.message, new RegExp(`first ${gz.length} compressed bytes`));
  });
}

Deno.test("GunzipStream reports a file cut in a deflate block as truncated", async () => {
  const gz = gzip(makeContent(400_000));
  const cut = gz.subarray(0, Math.floor(gz.length / 2));
  const err = await gunzipError(cut, { chunkSize: 10_000 });
  assert.equal(err.code, "truncated");
  assert.equal(
    err.message,
    `gzip stream ends early after ${cut.length} compressed bytes (file truncated?)`,
  );
  assert.ok((err.offset ?? 0) > 0);
});

Deno.test("GunzipStream reports a file cut in its trailer as truncated", async () => {
  const gz = gzip(makeContent(10_000));
  const err = await gunzipError(gz.subarray(0, gz.length - 3));
  assert.equal(err.code, "truncated");
});

Deno.test("GunzipStream reports trailing garbage with its position and the true output count", async () => {
  const valid = gzip(makeContent(50_000));
  for (const chunkSize of [1, 5, 777, 64 * 1024]) {
    const err = await gunzipError(concatBytes(valid, encoder.encode("xyz")), { chunkSize });
    assert.equal(err.code, "corrupt");
    assert.equal(
      err.message,
      `trailing data after the gzip stream at compressed byte ${valid.length}`,
      `chunk size ${chunkSize}`,
    );
    assert.equal(err.offset, 50_000, `chunk size ${chunkSize}`);
  }
  // After two members, and when the garbage starts like the magic.
  const two = concatBytes(gzip(makeContent(30_000, 1)), gzip(makeContent(20_000, 2)));
  for (const garbage of [[0x1f, 0x00], [0x1f, 0x00, 0x08]]) {
    const err = await gunzipError(concatBytes(two, new Uint8Array(garbage)), { chunkSize: 1000 });
    assert.match(err.message, new RegExp(`^trailing data .* at compressed byte ${two.length}$`));
    assert.equal(err.offset, 50_000);
  }
});

Deno.test("GunzipStream decodes members in chunks cut anywhere, headers and trailers included", async () => {
  const a = makeContent(3000, 1);
  const b = makeContent(2000, 2);
  const both = concatBytes(gzip(a), gzip(b));
  for (let chunkSize = 1; chunkSize <= 13; chunkSize++) {
    const stream = new GunzipStream();
    const out = await new Response(chunked(both, chunkSize).pipeThrough(stream)).bytes();
    assert.deepEqual(out, concatBytes(a, b), `chunk size ${chunkSize}`);
    assert.equal(stream.bytesIn, both.length);
  }
});

/** A gzip member with every optional header field: extra, name, comment, header CRC. */
function fullHeaderGzip(content: Uint8Array): Uint8Array {
  const plain = gzip(content);
  const extra = [4, 0, 0x41, 0x42, 2, 0];
  const fields = [...extra, ...encoder.encode("raw.json"), 0, ...encoder.encode("note"), 0];
  const header = new Uint8Array([...plain.subarray(0, 10), ...fields]);
  header[3] = 0x04 | 0x08 | 0x10 | 0x02;
  const crc = crc32(header) & 0xffff;
  return concatBytes(header, new Uint8Array([crc & 0xff, crc >> 8]), plain.subarray(10));
}

Deno.test("GunzipStream reads the optional header fields, and checks the header CRC", async () => {
  const content = makeContent(10_000);
  const full = fullHeaderGzip(content);
  assert.deepEqual(new Uint8Array(gunzipSync(full)), content);
  for (const chunkSize of [1, 3, 64 * 1024]) {
    assert.deepEqual(await gunzip(full, { chunkSize }), content);
  }
  full[12]! ^= 0x01;
  const err = await gunzipError(full);
  assert.equal(err.code, "corrupt");
  assert.match(err.message, /header crc mismatch/);
});

Deno.test("GunzipStream reports a bad method or reserved flags as corrupt", async () => {
  for (
    const [at, value, reason] of [[2, 7, /unknown compression method/], [3, 0x20, /flags/]] as const
  ) {
    const gz = gzip(makeContent(1000));
    gz[at] = value;
    const err = await gunzipError(gz);
    assert.equal(err.code, "corrupt");
    assert.match(err.message, reason);
  }
});

Deno.test("GunzipStream reports a second member cut in its header as truncated", async () => {
  const one = gzip(makeContent(1000));
  const err = await gunzipError(concatBytes(one, one.subarray(0, 6)));
  assert.equal(err.code, "truncated");
  assert.equal(err.offset, 1000);
});

Deno.test("GunzipStream reports content that is not gzip as corrupt with a bad magic", async () => {
  const err = await gunzipError(encoder.encode('[{"_T":"LogMatchDefinition"}]'));
  assert.equal(err.code, "corrupt");
  assert.match(err.message, /^not gzip: bad magic/);
  const second = await gunzipError(new Uint8Array([0x1f, 0x00, 0x08]), { chunkSize: 1 });
  assert.equal(second.code, "corrupt");
  assert.match(second.message, /^not gzip: bad magic \(byte 1 is 0x00/);
});

Deno.test("GunzipStream reports invalid deflate data as corrupt", async () => {
  const gz = gzip(makeContent(50_000));
  for (let i = 12; i < 40; i++) gz[i] = 0xff;
  const err = await gunzipError(gz);
  assert.equal(err.code, "corrupt");
  assert.match(err.message, /^corrupt gzip data \(.+\)/);
});

Deno.test("GunzipStream reports empty input as truncated", async () => {
  const err = await gunzipError(new Uint8Array(0));
  assert.equal(err.code, "truncated");
  assert.equal(err.message, "gzip stream is empty");
});

Deno.test("GunzipStream reports a lone magic byte as truncated", async () => {
  const err = await gunzipError(new Uint8Array([0x1f]));
  assert.equal(err.code, "truncated");
});

Deno.test("GunzipStream stops a decompression bomb at maxOutputBytes", async () => {
  const bomb = gzip(new Uint8Array(50_000_000));
  const err = await gunzipError(bomb, { maxOutputBytes: 1_000_000 });
  assert.equal(err.code, "too_large");
  assert.equal(err.message, "decompressed content exceeds --max-decompressed-bytes 1000000");
});

Deno.test("GunzipStream accepts output of exactly maxOutputBytes", async () => {
  const content = makeContent(100_000);
  assert.equal((await gunzip(gzip(content), { maxOutputBytes: 100_000 })).length, 100_000);
});

Deno.test("GunzipStream rejects a maxOutputBytes that is not positive", () => {
  assert.throws(() => new GunzipStream({ maxOutputBytes: 0 }), RangeError);
  assert.throws(() => new GunzipStream({ maxOutputBytes: Number.NaN }), RangeError);
});

Deno.test("GunzipStream keeps memory flat by waiting for zlib on each chunk", async () => {
  // 30 MB of zeros compress to about 30 KB: one chunk in must not resolve
  // before its output was produced, and only one chunk is in flight.
  const gz = gzip(new Uint8Array(30_000_000));
  const stream = new GunzipStream();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let received = 0;
  const reading = (async () => {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
  })();
  for (let offset = 0; offset < gz.length; offset += 4096) {
    await writer.write(gz.subarray(offset, offset + 4096));
    assert.ok(stream.bytesIn >= Math.min(offset + 4096, gz.length));
  }
  await writer.close();
  await reading;
  assert.equal(received, 30_000_000);
});

Deno.test("GunzipStream releases zlib when the reader cancels", async () => {
  const gz = gzip(makeContent(2_000_000));
  const reader = chunked(gz, 16_384).pipeThrough(new GunzipStream()).getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  await reader.cancel("enough");
});

Deno.test("GunzipStream releases zlib when the writer aborts", async () => {
  const gz = gzip(makeContent(100_000));
  const stream = new GunzipStream();
  const writer = stream.writable.getWriter();
  const draining = new Response(stream.readable).bytes().catch((err) => err);
  await writer.write(gz.subarray(0, 1000));
  await writer.abort(new Error("stop"));
  assert.ok((await draining) instanceof Error);
});

Deno.test("decodeGzipPrefix() decodes the start of a large file from 4 KiB", () => {
  const content = makeContent(1_000_000);
  const gz = gzip(content);
  const start = decodeGzipPrefix(gz.subarray(0, 4096), { minBytes: 1000 });
  assert.ok(start !== undefined);
  assert.ok(start.length >= 1000, `only ${start.length} bytes decoded`);
  assert.deepEqual(start, content.subarray(0, start.length));
});

Deno.test("decodeGzipPrefix() decodes only a small prefix when a few bytes are enough", () => {
  const content = makeContent(1_000_000);
  const gz = gzip(content);
  const all = decodeGzipPrefix(gz, { minBytes: Infinity });
  const start = decodeGzipPrefix(gz);
  assert.ok(start !== undefined && all !== undefined);
  assert.ok(start.length >= 2);
  assert.ok(start.length < all.length / 10, `decoded ${start.length} of ${all.length} bytes`);
  assert.deepEqual(start, content.subarray(0, start.length));
});

Deno.test("decodeGzipPrefix() sees gzip inside gzip", () => {
  const inner = gzip(makeContent(100_000));
  const outer = gzip(inner);
  const start = decodeGzipPrefix(outer.subarray(0, 64));
  assert.ok(start !== undefined && isGzip(start));
});

Deno.test("decodeGzipPrefix() returns undefined for what it cannot decode", () => {
  assert.equal(decodeGzipPrefix(encoder.encode("[{}]")), undefined);
  assert.equal(decodeGzipPrefix(new Uint8Array(0)), undefined);
  const gz = gzip(makeContent(10_000));
  for (let i = 10; i < 40; i++) gz[i] = 0xff;
  assert.equal(decodeGzipPrefix(gz), undefined);
});
