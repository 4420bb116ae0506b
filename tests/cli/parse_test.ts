import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import {
  collectHosts,
  collectList,
  parseNonNegativeInt,
  parsePort,
  parsePositiveInt,
  parseSeconds,
  parseSize,
} from "../../src/cli/parse.ts";

Deno.test("parseSize() reads bytes and binary or decimal units", () => {
  assert.equal(parseSize("1073741824"), 1024 ** 3);
  assert.equal(parseSize("1G"), 1024 ** 3);
  assert.equal(parseSize("512MiB"), 512 * 1024 ** 2);
  assert.equal(parseSize("2MB"), 2_000_000);
  assert.equal(parseSize("1.5k"), 1536);
  // The units of src/core/size_units.ts, as --min-free-space takes them.
  assert.equal(parseSize("100B"), 100);
  assert.equal(parseSize("1T"), 1024 ** 4);
  assert.equal(parseSize("2TB"), 2 * 1000 ** 4);
});

Deno.test("parseSize() rejects nonsense with InvalidArgumentError", () => {
  for (const bad of ["", "-1", "0", "ten", "5XB", "1e9"]) {
    assert.throws(() => parseSize(bad), InvalidArgumentError, bad);
  }
});

Deno.test("parsePositiveInt() accepts 1.. and rejects 0, fractions and words", () => {
  assert.equal(parsePositiveInt("16"), 16);
  for (const bad of ["0", "1.5", "-2", "four", ""]) {
    assert.throws(() => parsePositiveInt(bad), InvalidArgumentError, bad);
  }
});

Deno.test("parseSeconds() accepts fractions and zero", () => {
  assert.equal(parseSeconds("0"), 0);
  assert.equal(parseSeconds("0.25"), 0.25);
  assert.throws(() => parseSeconds("-1"), InvalidArgumentError);
  assert.throws(() => parseSeconds("1m"), InvalidArgumentError);
});

Deno.test("collectList() accumulates repeated and comma-separated values", () => {
  assert.deepEqual(collectList("a, b", undefined), ["a", "b"]);
  assert.deepEqual(collectList("c", ["a", "b"]), ["a", "b", "c"]);
  assert.deepEqual(collectList(",,", []), []);
});

Deno.test("parsePort() accepts 0 to 65535 only", () => {
  assert.equal(parsePort("9092"), 9092);
  assert.equal(parsePort("0"), 0);
  for (const bad of ["65536", "-1", "http", "1.5"]) {
    assert.throws(() => parsePort(bad), InvalidArgumentError, bad);
  }
});

Deno.test("collectHosts() accumulates host and host:port values, normalized", () => {
  assert.deepEqual(collectHosts("A.example, 127.0.0.1:8080", undefined), [
    "a.example",
    "127.0.0.1:8080",
  ]);
  assert.deepEqual(collectHosts("b.example", ["a.example"]), ["a.example", "b.example"]);
});

Deno.test("collectHosts() rejects anything but host or host:port with InvalidArgumentError", () => {
  for (const bad of ["http://a.example", "a.example/x", "", "a.example,", "a.example:99999"]) {
    assert.throws(() => collectHosts(bad, undefined), InvalidArgumentError, bad);
  }
});

Deno.test("parseNonNegativeInt() accepts 0.. and rejects negatives, fractions and words", () => {
  assert.equal(parseNonNegativeInt("0"), 0);
  assert.equal(parseNonNegativeInt("100"), 100);
  for (const bad of ["-1", "1.5", "ten", "", "99999999999999999999"]) {
    assert.throws(() => parseNonNegativeInt(bad), InvalidArgumentError, bad);
  }
});
