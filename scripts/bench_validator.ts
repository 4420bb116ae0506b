/**
 * Micro-benchmark of the content checks: JsonValidator in memory, GunzipStream
 * read-through, GunzipStream + ValidateStream, and DecompressionStream("gzip")
 * as a baseline, on about 200 MB of generated telemetry.
 *
 * Run: `deno run -A scripts/bench_validator.ts [megabytes]`
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { GunzipStream } from "../src/core/content/gzip.ts";
import { JsonValidator, ValidateStream } from "../src/core/content/json_validator.ts";

const CHUNK = 64 * 1024;

/** A tiny deterministic PRNG (mulberry32) so runs are comparable. */
function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates minified telemetry of about `targetBytes`: a block of varied
 * events, tiled.
 */
function generateTelemetry(targetBytes: number): Uint8Array {
  const random = makeRandom(42);
  const hexId = () =>
    Array.from({ length: 32 }, () => "0123456789abcdef"[Math.floor(random() * 16)]).join("");
  const accounts = Array.from({ length: 100 }, () => `account.${hexId()}`);
  const names = Array.from({ length: 100 }, (_, k) => `Player_${k}_${hexId().slice(0, 6)}`);
  const types = [
    "LogPlayerPosition",
    "LogPlayerAttack",
    "LogItemPickup",
    "LogPlayerTakeDamage",
    "LogVehicleRide",
  ];
  const matchId =
    `match.bro.official.pc-2018-31.steam.squad-fpp.eu.2024.11.28.12.${crypto.randomUUID()}`;
  function character(k: number): Record<string, unknown> {
    return {
      name: names[k % 100],
      teamId: k % 25,
      health: random() < 0.5 ? 100 : Math.fround(random() * 100),
      location: {
        x: Math.fround(random() * 816000),
        y: Math.fround(random() * 816000),
        z: Math.fround(random() * 10000),
      },
      ranking: 0,
      individualRanking: 0,
      accountId: accounts[k % 100],
      isInBlueZone: random() < 0.3,
      isInRedZone: false,
      zone: ["pochinki"],
    };
  }
  const parts: string[] = [
    `[${
      JSON.stringify({
        MatchId: matchId,
        PingQuality: "low",
        SeasonState: "progress",
        _D: "2024-11-28T12:34:56.789Z",
        _T: "LogMatchDefinition",
      })
    }`,
  ];
  let size = parts[0]!.length;
  const blockBytes = 8 * 1024 * 1024;
  for (let k = 0; size < blockBytes; k++) {
    const type = types[k % types.length]!;
    const event: Record<string, unknown> = { character: character(k) };
    if (type === "LogPlayerAttack" || type === "LogPlayerTakeDamage") {
      event.attackId = Math.floor(random() * 1e9);
      event.attacker = character(k + 7);
      event.weapon = {
        itemId: "Item_Weapon_HK416_C",
        stackCount: 1,
        category: "Weapon",
        subCategory: "Main",
        attachedItems: ["Item_Attach_Weapon_Muzzle_Suppressor_Large_C"],
      };
      event.damage = Math.fround(random() * 100);
      event.damageReason = "TorsoShot";
    }
    event.elapsedTime = Math.floor(random() * 2000);
    event.numAlivePlayers = 100 - (k % 100);
    event.common = { isGame: 1.5 };
    event._D = new Date(1732797296000 + k * 13).toISOString();
    event._T = type;
    const text = `,${JSON.stringify(event)}`;
    parts.push(text);
    size += text.length;
  }
  const encoder = new TextEncoder();
  const head = encoder.encode(parts[0]!);
  const body = encoder.encode(parts.slice(1).join(""));
  const tail = encoder.encode(
    `,${JSON.stringify({ _D: "2024-11-28T13:04:56.789Z", _T: "LogMatchEnd" })}]`,
  );
  const repeats = Math.max(1, Math.round((targetBytes - head.length - tail.length) / body.length));
  const out = new Uint8Array(head.length + body.length * repeats + tail.length);
  out.set(head, 0);
  let off = head.length;
  for (let r = 0; r < repeats; r++) {
    out.set(body, off);
    off += body.length;
  }
  out.set(tail, off);
  return out;
}

/** Options of {@linkcode measure}. */
interface MeasureOptions {
  /** Bytes the throughput is computed from. */
  bytes: number;
  /** How many times to run. */
  runs: number;
}

/** Runs `fn` several times and returns the best and the first throughput in MB/s. */
async function measure(
  fn: () => Promise<number> | number,
  options: MeasureOptions,
): Promise<{ best: number; first: number }> {
  const rates: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const start = performance.now();
    const produced = await fn();
    const seconds = (performance.now() - start) / 1000;
    if (produced !== options.bytes) {
      throw new Error(`expected ${options.bytes} bytes, got ${produced}`);
    }
    rates.push(options.bytes / 1e6 / seconds);
  }
  return { best: Math.max(...rates), first: rates[0]! };
}

/** A pull-based stream of `data` in 64 KiB chunks, like a file or socket. */
function source(data: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) {
        controller.close();
        return;
      }
      controller.enqueue(data.subarray(offset, offset + CHUNK));
      offset += CHUNK;
    },
  }, { highWaterMark: 0 });
}

/** `DecompressionStream("gzip")`, typed for `Uint8Array` chunks. */
function webGunzip(): ReadableWritablePair<Uint8Array, Uint8Array> {
  const { readable, writable } = new DecompressionStream("gzip");
  return { readable, writable: writable as WritableStream<unknown> as WritableStream<Uint8Array> };
}

/** Reads a stream to the end and returns its byte count. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  return bytes;
}

function validateInMemory(data: Uint8Array): number {
  const validator = new JsonValidator();
  for (let offset = 0; offset < data.length; offset += CHUNK) {
    validator.push(data.subarray(offset, offset + CHUNK));
  }
  return validator.end().bytes;
}

async function main(): Promise<void> {
  const megabytes = Number(Deno.args[0] ?? 200);
  const runs = Number(Deno.args[1] ?? 3);
  let start = performance.now();
  const data = generateTelemetry(megabytes * 1e6);
  const summary = new JsonValidator();
  summary.push(data);
  const { events } = summary.end();
  console.log(
    `generated ${(data.length / 1e6).toFixed(1)} MB, ${events} events in ${
      ((performance.now() - start) / 1000).toFixed(1)
    } s`,
  );
  start = performance.now();
  const compressed = gzipSync(data);
  const gz = new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength);
  console.log(
    `gzip -6: ${(gz.length / 1e6).toFixed(1)} MB (${(data.length / gz.length).toFixed(1)}:1) in ${
      ((performance.now() - start) / 1000).toFixed(1)
    } s`,
  );
  console.log(`best and first of ${runs} runs, MB/s of decompressed content:`);
  const rows: [string, () => Promise<number> | number][] = [
    ["JsonValidator in memory (64 KiB chunks)", () => validateInMemory(data)],
    ["GunzipStream read-through", () => drain(source(gz).pipeThrough(new GunzipStream()))],
    [
      "GunzipStream + ValidateStream",
      () => drain(source(gz).pipeThrough(new GunzipStream()).pipeThrough(new ValidateStream())),
    ],
    [
      'DecompressionStream("gzip") read-through',
      () => drain(source(gz).pipeThrough(webGunzip())),
    ],
    [
      'DecompressionStream("gzip") + ValidateStream',
      () =>
        drain(
          source(gz).pipeThrough(webGunzip()).pipeThrough(new ValidateStream()),
        ),
    ],
  ];
  for (const [name, fn] of rows) {
    const { best, first } = await measure(fn, { bytes: data.length, runs });
    console.log(`${name.padEnd(46)} ${best.toFixed(0).padStart(5)}  (first ${first.toFixed(0)})`);
  }
}

if (import.meta.main) await main();
