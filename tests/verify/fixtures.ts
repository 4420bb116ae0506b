/**
 * Generated telemetry and store layouts for the `verify` tests.
 *
 * @module
 */

import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";

const encoder = new TextEncoder();

/** The `MatchId` of generated telemetry for an API match id. */
export function telemetryMatchId(matchId: string): string {
  return `match.bro.official.pc-2018-31.steam.squad.eu.2024.11.28.12.${matchId}`;
}

/**
 * Realistic telemetry: `LogMatchDefinition` first, then `events` events with
 * `_D`, `_T`, `common` and nested `character`/`location`.
 *
 * @param matchId The API match id.
 * @param events Events after the definition.
 * @returns Minified JSON bytes.
 */
export function telemetryJson(matchId: string, events = 2000): Uint8Array {
  return encoder.encode(telemetryText(matchId, events));
}

/** Same as {@linkcode telemetryJson}, as a string. */
export function telemetryText(matchId: string, events = 2000, seed = 1): string {
  const types = ["LogPlayerPosition", "LogPlayerAttack", "LogItemPickup", "LogPlayerTakeDamage"];
  const start = Date.UTC(2024, 10, 28, 12, 0, 0);
  let state = seed;
  function rand(): number {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  }
  const parts: string[] = [JSON.stringify({
    MatchId: telemetryMatchId(matchId),
    PingQuality: "low",
    SeasonState: "progress",
    _D: new Date(start).toISOString(),
    _T: "LogMatchDefinition",
    common: { isGame: 0 },
  })];
  for (let i = 0; i < events; i++) {
    parts.push(JSON.stringify({
      character: {
        name: `player_${Math.floor(rand() * 100)}`,
        teamId: Math.floor(rand() * 25),
        health: Math.round(rand() * 1000) / 10,
        location: { x: rand() * 816000, y: rand() * 816000, z: rand() * 5000 },
        ranking: 0,
        accountId: `account.${Math.floor(rand() * 1e12).toString(16)}`,
        isInBlueZone: rand() < 0.1,
        zone: ["pochinki", "school"].slice(0, Math.floor(rand() * 3)),
      },
      elapsedTime: i,
      numAlivePlayers: 100 - Math.floor(i / (events / 90 + 1)),
      _D: new Date(start + i * 37).toISOString(),
      _T: types[i % types.length],
      common: { isGame: 1 + (i % 5) / 10 },
    }));
  }
  return `[${parts.join(",")}]`;
}

/** Gzip, `layers` times. */
export function gzip(bytes: Uint8Array, layers = 1): Uint8Array {
  let out = bytes;
  for (let i = 0; i < layers; i++) out = new Uint8Array(gzipSync(out));
  return out;
}

/** Writes `<dataDir>/matchID=<id>/raw.json.gz` (or another file name) and returns its path. */
export async function writeMatch(
  dataDir: string,
  matchId: string,
  bytes: Uint8Array,
  name = "raw.json.gz",
): Promise<string> {
  const dir = join(dataDir, `matchID=${matchId}`);
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

/** Decompresses every gzip layer; returns the content and the layer count. */
export function peel(bytes: Uint8Array): { content: Uint8Array; layers: number } {
  let content = bytes;
  let layers = 0;
  while (content.length >= 2 && content[0] === 0x1f && content[1] === 0x8b) {
    content = new Uint8Array(gunzipSync(content));
    layers++;
  }
  return { content, layers };
}

/** Every file under `dir` with its bytes, by relative path. */
export async function snapshot(dir: string, prefix = ""): Promise<Map<string, Uint8Array | "dir">> {
  const out = new Map<string, Uint8Array | "dir">();
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = join(prefix, entry.name);
    if (entry.isDirectory) {
      out.set(rel, "dir");
      for (const [k, v] of await snapshot(dir, rel)) out.set(k, v);
    } else {
      out.set(rel, await Deno.readFile(join(dir, rel)));
    }
  }
  return out;
}

/** Deterministic bytes that look random (a linear congruential generator from `seed`). */
export function randomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
