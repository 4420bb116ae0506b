import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { FULL_GC_EVERY_CALLS, inflateRawWhole } from "../../../src/core/content/raw_inflate.ts";
import { generateTelemetry } from "../../support/telemetry_fixture.ts";
import { concatBytes } from "../../support/bytes.ts";

const json = generateTelemetry({ matchId: "m1", events: 200 });
const deflated = new Uint8Array(deflateRawSync(json));

Deno.test("inflateRawWhole() inflates a stream and says where it ends", () => {
  const trailer = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  for (const sizeHint of [undefined, json.length, 10, 10 * json.length]) {
    const result = inflateRawWhole(concatBytes(deflated, trailer), {
      maxOutputBytes: 1 << 24,
      ...(sizeHint === undefined ? {} : { sizeHint }),
    });
    assert.deepEqual(result?.output, json, `hint ${sizeHint}`);
    assert.equal(result?.used, deflated.length);
  }
});

Deno.test("inflateRawWhole() gives undefined for cut, bad or oversized data, then works again", () => {
  const bad = deflated.slice();
  bad[0] = 0xff;
  assert.equal(
    inflateRawWhole(deflated.subarray(0, deflated.length >> 1), { maxOutputBytes: 1 << 24 }),
    undefined,
  );
  assert.equal(inflateRawWhole(bad, { maxOutputBytes: 1 << 24 }), undefined);
  assert.equal(inflateRawWhole(new Uint8Array(0), { maxOutputBytes: 1 << 24 }), undefined);
  assert.equal(inflateRawWhole(deflated, { maxOutputBytes: json.length - 1 }), undefined);
  assert.deepEqual(inflateRawWhole(deflated, { maxOutputBytes: json.length })?.output, json);
});

Deno.test("inflateRawWhole() runs one full collection per FULL_GC_EVERY_CALLS calls, when gc is exposed", () => {
  const calls: unknown[] = [];
  const global = globalThis as { gc?: (options?: unknown) => void };
  const saved = global.gc;
  const small = new Uint8Array(deflateRawSync(new TextEncoder().encode("[{}]")));
  try {
    delete global.gc;
    // Without gc(), nothing to call: the calls still inflate.
    for (let i = 0; i < FULL_GC_EVERY_CALLS; i++) {
      assert.equal(inflateRawWhole(small, { maxOutputBytes: 4 })?.output.length, 4);
    }
    global.gc = (options) => void calls.push(options);
    // Any FULL_GC_EVERY_CALLS calls in a row hold exactly one collection.
    for (let i = 0; i < FULL_GC_EVERY_CALLS; i++) inflateRawWhole(small, { maxOutputBytes: 4 });
    assert.deepEqual(calls, [{ type: "major" }]);
  } finally {
    if (saved === undefined) delete global.gc;
    else global.gc = saved;
  }
});
