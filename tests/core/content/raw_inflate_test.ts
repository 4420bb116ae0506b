import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { inflateRawWhole } from "../../../src/core/content/raw_inflate.ts";
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
