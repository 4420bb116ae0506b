import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { ingest } from "../../../src/core/content/ingest.ts";
import { QUICK_CHECK_MAX_LAYER_BYTES, quickCheck } from "../../../src/core/content/quick_check.ts";
import { generateTelemetry, seededRandom } from "../../support/telemetry_fixture.ts";
import { concatBytes } from "../../support/bytes.ts";

const json = generateTelemetry({ matchId: "m1", events: 28 });
const gz = new Uint8Array(gzipSync(json));

/** What ingest() without a sink says, as a stored file is read (one chunk of the whole file). */
async function ingestOutcome(
  bytes: Uint8Array,
  options: { expectedMatchId?: string; maxDecompressedBytes?: number },
): Promise<{ gzipLayers: number; contentBytes: number; events: number } | string> {
  try {
    const result = await ingest(ReadableStream.from(bytes.length > 0 ? [bytes] : []), options);
    return {
      gzipLayers: result.gzipLayers,
      contentBytes: result.contentBytes,
      events: result.events,
    };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** quickCheck() never vouches for what ingest() rejects, and agrees with it when it does. */
async function assertAgrees(
  name: string,
  bytes: Uint8Array,
  options: { expectedMatchId?: string; maxDecompressedBytes?: number } = {},
): Promise<"vouched" | "deferred"> {
  const quick = quickCheck(bytes, options);
  const full = await ingestOutcome(bytes, options);
  if (quick === undefined) return "deferred";
  assert.deepEqual(quick, full, `${name}: quickCheck vouched, ingest says ${JSON.stringify(full)}`);
  return "vouched";
}

Deno.test("quickCheck() vouches for single, multi-member, nested and plain telemetry as ingest() counts it", async () => {
  const text = new TextDecoder().decode(json);
  const members = concatBytes(
    gzipSync(new TextEncoder().encode(text.slice(0, 999))),
    gzipSync(new TextEncoder().encode(text.slice(999))),
  );
  const named = new Uint8Array(gzipSync(json));
  named[3] = 0x08; // FNAME: a file name follows the 10 header bytes.
  const withName = concatBytes(
    named.subarray(0, 10),
    new TextEncoder().encode("raw.json\0"),
    named.subarray(10),
  );
  for (
    const [name, bytes, layers] of [
      ["single gzip", gz, 1],
      ["two members", members, 1],
      ["gzip inside gzip", gzipSync(gzipSync(json)), 2],
      ["three layers", gzipSync(gzipSync(gzipSync(json))), 3],
      ["plain JSON", json, 0],
      ["a file name in the header", withName, 1],
    ] as const
  ) {
    const bytesIn = new Uint8Array(bytes);
    assert.equal(await assertAgrees(name, bytesIn, { expectedMatchId: "m1" }), "vouched", name);
    assert.equal(quickCheck(bytesIn)?.gzipLayers, layers, name);
  }
  assert.deepEqual(quickCheck(gz), { gzipLayers: 1, contentBytes: json.length, events: 29 });
});

Deno.test("quickCheck() leaves to ingest() what is wrong or unusual", async () => {
  const empty = new Uint8Array(gzipSync(new Uint8Array(0)));
  const crc = gz.slice();
  crc[crc.length - 7]! ^= 0x55;
  const size = gz.slice();
  size[size.length - 2]! ^= 0x01;
  const cases: [string, Uint8Array, { expectedMatchId?: string; maxDecompressedBytes?: number }][] =
    [
      ["empty file", new Uint8Array(0), {}],
      ["gzip of nothing", empty, {}],
      ["truncated", gz.subarray(0, gz.length >> 1), {}],
      ["trailer cut", gz.subarray(0, gz.length - 3), {}],
      ["bad CRC", crc, {}],
      ["bad length", size, {}],
      ["trailing zeros", concatBytes(gz, new Uint8Array(4)), {}],
      ["trailing text", concatBytes(gz, new TextEncoder().encode("x")), {}],
      ["a lone magic byte after", concatBytes(gz, new Uint8Array([0x1f])), {}],
      ["another match", gz, { expectedMatchId: "m2" }],
      ["too large", gz, { maxDecompressedBytes: 100 }],
      ["plain too large", json, { maxDecompressedBytes: 100 }],
      ["invalid JSON", new Uint8Array(gzipSync(new TextEncoder().encode('[{"_T":}]'))), {}],
      ["not an array", new Uint8Array(gzipSync(new TextEncoder().encode('{"a":1}'))), {}],
      ["random bytes", new Uint8Array([0xcd, 0x5a, 0x10, 0xff, 0x00]), {}],
      ["one byte", new Uint8Array([0x1f]), {}],
    ];
  for (const [name, bytes, options] of cases) {
    assert.equal(quickCheck(bytes, options), undefined, name);
    assert.equal(typeof (await ingestOutcome(bytes, options)), "string", name);
  }
});

Deno.test("quickCheck() never vouches for a damaged file that ingest() rejects", async () => {
  const random = seededRandom(12);
  let vouched = 0;
  for (let i = 0; i < 400; i++) {
    const bytes = gz.slice();
    const kind = i % 3;
    let damaged: Uint8Array;
    if (kind === 0) {
      bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8);
      damaged = bytes;
    } else if (kind === 1) {
      damaged = bytes.subarray(0, Math.floor(random() * bytes.length));
    } else {
      const extra = new Uint8Array(1 + Math.floor(random() * 16)).map(() => random() * 256);
      damaged = concatBytes(bytes, extra);
    }
    if ((await assertAgrees(`case ${i}`, damaged)) === "vouched") vouched++;
  }
  // A flipped bit inside a string may leave valid telemetry: those few are vouched for, and agree.
  assert.ok(vouched < 100, `${vouched}`);
});

Deno.test("quickCheck() leaves a layer beyond QUICK_CHECK_MAX_LAYER_BYTES to ingest()", () => {
  const big = new TextEncoder().encode(
    `[${`{"_T":"x"},`.repeat(QUICK_CHECK_MAX_LAYER_BYTES / 10)}{}]`,
  );
  assert.ok(big.length > QUICK_CHECK_MAX_LAYER_BYTES);
  assert.equal(quickCheck(new Uint8Array(gzipSync(big))), undefined);
  assert.equal(quickCheck(big), undefined);
});

Deno.test("quickCheck() leaves damage in a later member or an inner layer to ingest()", async () => {
  const text = new TextDecoder().decode(json);
  const first = new Uint8Array(gzipSync(new TextEncoder().encode(text.slice(0, 999))));
  const second = new Uint8Array(gzipSync(new TextEncoder().encode(text.slice(999))));
  const secondCrc = second.slice();
  secondCrc[secondCrc.length - 6]! ^= 0x01;
  const inner = gz.slice();
  inner[inner.length - 8]! ^= 0x10;
  const cases: [string, Uint8Array, { expectedMatchId?: string }][] = [
    ["second member cut", concatBytes(first, second.subarray(0, second.length - 20)), {}],
    ["second member's trailer cut", concatBytes(first, second.subarray(0, second.length - 1)), {}],
    ["second member's CRC", concatBytes(first, secondCrc), {}],
    ["second member's header only", concatBytes(first, second.subarray(0, 10)), {}],
    ["two members, then zeros", concatBytes(first, second, new Uint8Array(2)), {}],
    ["inner layer's CRC", new Uint8Array(gzipSync(inner)), {}],
    ["inner layer cut", new Uint8Array(gzipSync(gz.subarray(0, gz.length - 4))), {}],
    ["inner layer, then text", new Uint8Array(gzipSync(concatBytes(gz, json))), {}],
    ["nested, another match", new Uint8Array(gzipSync(gz)), { expectedMatchId: "m2" }],
  ];
  for (const [name, bytes, options] of cases) {
    assert.equal(quickCheck(bytes, options), undefined, name);
    assert.equal(typeof (await ingestOutcome(bytes, options)), "string", name);
  }
});

Deno.test("quickCheck() agrees with ingest() at the decompressed size cap, to the byte", async () => {
  const inputs = [["gzip", gz], ["plain", json], ["two layers", gzipSync(gz)]] as const;
  for (const [name, bytes] of inputs) {
    const input = new Uint8Array(bytes);
    const at = { maxDecompressedBytes: json.length };
    assert.equal(await assertAgrees(`${name} at the cap`, input, at), "vouched", name);
    const below = { maxDecompressedBytes: json.length - 1 };
    assert.equal(quickCheck(input, below), undefined, name);
    assert.equal(typeof (await ingestOutcome(input, below)), "string", name);
  }
});
