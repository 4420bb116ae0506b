/**
 * Realistic generated telemetry for tests and benchmarks: a minified JSON
 * array whose first event is `LogMatchDefinition`, then events shaped like
 * PUBG's (`_D`, `_T`, `common`, nested `character`/`location`, items), with
 * enough repetition that it gzips about like the real files.
 *
 * @module
 */

import { concatBytes } from "./bytes.ts";

/** Options of {@linkcode generateTelemetry}. */
export interface TelemetryFixtureOptions {
  /** The API match id; it ends the `MatchId`. */
  matchId: string;
  /** Number of events after `LogMatchDefinition`. @default {20000} */
  events?: number;
  /** Seed of the pseudo-random values. @default {1} */
  seed?: number;
}

const encoder = new TextEncoder();
const TYPES = [
  "LogPlayerPosition",
  "LogPlayerPosition",
  "LogPlayerPosition",
  "LogItemPickup",
  "LogPlayerTakeDamage",
  "LogPlayerAttack",
  "LogVehicleRide",
  "LogHeal",
];

/**
 * The telemetry `MatchId` of a match id.
 *
 * @param matchId The API match id.
 * @returns `match.bro.official.pc-2018-31.steam.squad.eu.2024.11.28.12.<matchId>`.
 */
export function telemetryMatchId(matchId: string): string {
  return `match.bro.official.pc-2018-31.steam.squad.eu.2024.11.28.12.${matchId}`;
}

/**
 * A small deterministic pseudo-random generator (xorshift32), so generated
 * data is the same on every run for a seed.
 *
 * @param seed Any integer; 0 counts as 1.
 * @returns A function giving numbers in [0, 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededRandom } from "./telemetry_fixture.ts";
 * const a = seededRandom(7);
 * const b = seededRandom(7);
 * assert.equal(a(), b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return function random(): number {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

/**
 * Generates telemetry in chunks of about 64 KiB, so large files never sit in memory.
 *
 * @param options Match id, event count, seed.
 * @returns The bytes of the JSON document, chunk by chunk.
 */
export function* telemetryChunks(options: TelemetryFixtureOptions): Generator<Uint8Array> {
  const { matchId, events = 20_000, seed = 1 } = options;
  const random = seededRandom(seed);
  let text = `[{"MatchId":${JSON.stringify(telemetryMatchId(matchId))},"PingQuality":"low",` +
    `"SeasonState":"progress","_D":"2024-11-28T12:00:00.0000000Z","_T":"LogMatchDefinition"}`;
  for (let i = 0; i < events; i++) {
    const type = TYPES[i % TYPES.length] ?? "LogPlayerPosition";
    const player = Math.floor(random() * 64);
    const seconds = Math.floor(i / 40);
    const event = {
      character: {
        name: `player_${player}`,
        teamId: player % 16,
        health: Math.round(random() * 1000) / 10,
        location: {
          x: Math.round(random() * 8_160_000) / 10,
          y: Math.round(random() * 8_160_000) / 10,
          z: Math.round(random() * 50_000) / 10,
        },
        ranking: 0,
        accountId: `account.${player.toString(16).padStart(32, "0")}`,
        isInBlueZone: false,
        isInRedZone: false,
        zone: ["pochinki"],
      },
      elapsedTime: seconds,
      numAlivePlayers: 64 - Math.floor(i * 60 / Math.max(events, 1)),
      common: { isGame: 1 + Math.floor(i * 4 / Math.max(events, 1)) / 2 },
      _D: `2024-11-28T12:${String(Math.floor(seconds / 60) % 60).padStart(2, "0")}:${
        String(seconds % 60).padStart(2, "0")
      }.${String(i % 1000).padStart(3, "0")}Z`,
      _T: type,
    };
    text += "," + JSON.stringify(event);
    if (text.length >= 65_536) {
      yield encoder.encode(text);
      text = "";
    }
  }
  yield encoder.encode(text + "]");
}

/**
 * Generates a whole telemetry document in memory.
 *
 * @param options Match id, event count, seed.
 * @returns The JSON bytes.
 */
export function generateTelemetry(options: TelemetryFixtureOptions): Uint8Array {
  return concatBytes(...telemetryChunks(options));
}

/**
 * The event count that makes generated telemetry about `bytes` long (for
 * benchmarks that want files of a given size), from the size of a sample of
 * 1,000 events.
 *
 * @param bytes The wanted size of the JSON.
 * @returns The `events` option for {@linkcode generateTelemetry} or {@linkcode telemetryChunks}, at least 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventsForSize, generateTelemetry } from "./telemetry_fixture.ts";
 * const json = generateTelemetry({ matchId: "m", events: eventsForSize(1_000_000) });
 * assert.ok(Math.abs(json.length - 1_000_000) < 50_000);
 * ```
 */
export function eventsForSize(bytes: number): number {
  const sample = 1000;
  const sampleBytes = generateTelemetry({ matchId: "size-sample", events: sample }).length;
  return Math.max(1, Math.round(bytes / (sampleBytes / sample)));
}

/**
 * Gzips bytes in memory (for fixtures).
 *
 * @param bytes The input.
 * @returns The gzip bytes.
 */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = ReadableStream.from([bytes]).pipeThrough(
    new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
