import assert from "node:assert/strict";
import { TelemetryError } from "../../../src/core/errors.ts";
import { ingest } from "../../../src/core/content/ingest.ts";
import {
  inlineValidation,
  type Validation,
  ValidationThread,
} from "../../../src/core/content/validation_thread.ts";
import { generateTelemetry, gzipBytes } from "../../support/telemetry_fixture.ts";

const JSON_BYTES = generateTelemetry({ matchId: "v1", events: 4_000 });

async function feed(validation: Validation, bytes: Uint8Array, chunk = 100_000): Promise<void> {
  for (let i = 0; i < bytes.length; i += chunk) await validation.push(bytes.subarray(i, i + chunk));
}

async function withPool(fn: (pool: ValidationThread) => Promise<void>): Promise<void> {
  const pool = new ValidationThread();
  try {
    await fn(pool);
  } finally {
    pool.close();
  }
}

function broken(): { bytes: Uint8Array; at: number } {
  const bytes = JSON_BYTES.slice();
  const at = new TextDecoder().decode(bytes).indexOf("},{", 300_000) + 1;
  bytes[at] = 0x23; // '#' where a ',' between events was
  return { bytes, at };
}

Deno.test("ValidationThread validates like inline validation", async () => {
  await withPool(async (pool) => {
    const remote = pool.open();
    const local = inlineValidation();
    await feed(remote, JSON_BYTES);
    await feed(local, JSON_BYTES);
    assert.deepEqual(await remote.end(), await local.end());
    assert.equal(remote.bytes, JSON_BYTES.length);
  });
});

Deno.test("ValidationThread reports the first error with its offset", async () => {
  const { bytes, at } = broken();
  await withPool(async (pool) => {
    const remote = pool.open();
    await assert.rejects(
      (async () => {
        await feed(remote, bytes);
        await remote.end();
      })(),
      (err: unknown) =>
        err instanceof TelemetryError && err.code === "invalid_json" && err.offset === at,
    );
  });
});

Deno.test("ValidationThread keeps concurrent streams apart", async () => {
  const { bytes } = broken();
  await withPool(async (pool) => {
    const good = Array.from({ length: 6 }, () => pool.open());
    const bad = pool.open();
    const results = await Promise.allSettled([
      ...good.map(async (v) => {
        await feed(v, JSON_BYTES, 65_536);
        return await v.end();
      }),
      (async () => {
        await feed(bad, bytes, 65_536);
        return await bad.end();
      })(),
    ]);
    for (const result of results.slice(0, 6)) {
      assert.equal(result.status, "fulfilled");
      if (result.status === "fulfilled") assert.equal(result.value.events, 4_001);
    }
    assert.equal(results[6]?.status, "rejected");
  });
});

Deno.test("ValidationThread flush() surfaces an error in content already pushed", async () => {
  const { bytes } = broken();
  await withPool(async (pool) => {
    const remote = pool.open();
    await remote.push(bytes.subarray(0, 400_000)).catch(() => {});
    await assert.rejects(remote.flush(), /invalid JSON/);
    remote.drop();
    const fine = pool.open();
    await fine.push(JSON_BYTES.subarray(0, 1000));
    await fine.flush();
    fine.drop();
  });
});

Deno.test("ValidationThread close() fails the validations still open", async () => {
  const pool = new ValidationThread();
  const remote = pool.open();
  await remote.push(JSON_BYTES.subarray(0, 1000));
  pool.close();
  await assert.rejects(remote.end(), /validation worker stopped/);
});

Deno.test("ingest() with a ValidationThread gives the same result and error precedence as inline", async () => {
  const gz = await gzipBytes(JSON_BYTES);
  const { bytes, at } = broken();
  // Invalid JSON early, then the gzip cut short: the earlier problem is the one reported.
  const badGz = await gzipBytes(bytes);
  const cut = badGz.subarray(0, badGz.length - 20);
  await withPool(async (pool) => {
    const openValidation = () => pool.open();
    const inline = await ingest(ReadableStream.from([gz]));
    const remote = await ingest(ReadableStream.from([gz]), { openValidation });
    assert.deepEqual(remote, inline);
    for (const options of [{}, { openValidation }]) {
      await assert.rejects(
        ingest(ReadableStream.from([cut]), options),
        (err: unknown) =>
          err instanceof TelemetryError && err.code === "invalid_json" && err.offset === at,
      );
    }
  });
});
