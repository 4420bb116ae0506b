import assert from "node:assert/strict";
import { canStartJson, hexHead } from "../../src/verify/json_head.ts";

const encoder = new TextEncoder();

Deno.test("canStartJson() accepts the start of any JSON value, after whitespace or a BOM", () => {
  for (const text of ["[", '{"a":1}', '"s"', "-1", "0", "true", "false", "null", " \t\r\n[{}]"]) {
    assert.equal(canStartJson(encoder.encode(text)), true, JSON.stringify(text));
  }
  assert.equal(canStartJson(new Uint8Array([0xef, 0xbb, 0xbf, 0x5b])), true);
  assert.equal(canStartJson(new Uint8Array(0)), true);
  assert.equal(canStartJson(encoder.encode("   ")), true);
});

Deno.test("canStartJson() refuses bytes no JSON text starts with", () => {
  for (const text of ["<html>", "xyz", "\u0000[", "PK\u0003\u0004"]) {
    assert.equal(canStartJson(encoder.encode(text)), false, JSON.stringify(text));
  }
  assert.equal(canStartJson(new Uint8Array([0xcd, 0x5b])), false);
});

Deno.test("canStartJson() refuses a control byte among the first 64 bytes", () => {
  const head = encoder.encode(`[{"_T":"LogMatchDefinition"${"x".repeat(100)}`);
  head[40] = 0x01;
  assert.equal(canStartJson(head), false);
  head[40] = 0x78;
  head[70] = 0x01;
  assert.equal(canStartJson(head), true);
});

Deno.test("hexHead() shows the first bytes in hex", () => {
  assert.equal(
    hexHead(new Uint8Array([0xcd, 0x0a, 0xff, 1, 2, 3, 4, 5, 6, 7])),
    "cd 0a ff 01 02 03 04 05",
  );
  assert.equal(hexHead(new Uint8Array([1]), 4), "01");
});
