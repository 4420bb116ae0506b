import assert from "node:assert/strict";
import { crc32, gzipSync } from "node:zlib";
import {
  magicMismatch,
  parseGzipHeader,
  readGzipTrailer,
} from "../../../src/core/content/gzip_header.ts";

const encoder = new TextEncoder();

/** A header with the given flags and fields after the 10 fixed bytes. */
function header(flags: number, fields: number[]): Uint8Array {
  return new Uint8Array([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3, ...fields]);
}

Deno.test("parseGzipHeader() reads the 10-byte header of gzipSync()", () => {
  const gz = gzipSync(encoder.encode("[{}]"));
  assert.deepEqual(parseGzipHeader(gz), { state: "complete", length: 10 });
  for (let n = 0; n < 10; n++) {
    assert.deepEqual(parseGzipHeader(gz.subarray(0, n)), { state: "incomplete" }, `${n} bytes`);
  }
});

Deno.test("parseGzipHeader() skips the extra field, name and comment, and checks the header CRC", () => {
  const fields = [2, 0, 0xaa, 0xbb, ...encoder.encode("name"), 0, ...encoder.encode("c"), 0];
  const bytes = header(0x04 | 0x08 | 0x10 | 0x02, fields);
  const crc = crc32(bytes) & 0xffff;
  const full = new Uint8Array([...bytes, crc & 0xff, crc >> 8, 0x99]);
  assert.deepEqual(parseGzipHeader(full), { state: "complete", length: full.length - 1 });
  for (let n = 10; n < full.length - 1; n++) {
    assert.deepEqual(parseGzipHeader(full.subarray(0, n)), { state: "incomplete" }, `${n} bytes`);
  }
  full[full.length - 2]! ^= 0xff;
  assert.deepEqual(parseGzipHeader(full), { state: "invalid", reason: "header crc mismatch" });
});

Deno.test("parseGzipHeader() refuses a bad magic, method or flags", () => {
  assert.equal(parseGzipHeader(encoder.encode("xyz")).state, "invalid");
  const method = header(0, []);
  method[2] = 9;
  assert.deepEqual(parseGzipHeader(method), {
    state: "invalid",
    reason: "unknown compression method",
  });
  assert.deepEqual(parseGzipHeader(header(0x40, [])), {
    state: "invalid",
    reason: "unknown header flags set",
  });
});

Deno.test("magicMismatch() gives the first byte that is not the gzip magic", () => {
  assert.equal(magicMismatch(new Uint8Array([])), undefined);
  assert.equal(magicMismatch(new Uint8Array([0x1f])), undefined);
  assert.equal(magicMismatch(new Uint8Array([0x1f, 0x8b, 0])), undefined);
  assert.equal(magicMismatch(new Uint8Array([0x00])), 0);
  assert.equal(magicMismatch(new Uint8Array([0x1f, 0x00])), 1);
});

Deno.test("readGzipTrailer() reads the CRC and length, little-endian", () => {
  const data = encoder.encode("hello");
  const gz = gzipSync(data);
  const trailer = readGzipTrailer(gz.subarray(gz.length - 8));
  assert.deepEqual(trailer, { crc: crc32(data), size: 5 });
  assert.deepEqual(readGzipTrailer(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80])), {
    crc: 0xffffffff,
    size: 0x80000000,
  });
});
