/**
 * Match ids become directory names, so they are validated before any use.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";

const MATCH_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Validates a match id and returns it unchanged.
 *
 * Accepts `[A-Za-z0-9._-]{1,128}` except `.` and `..`, which would escape the
 * data dir.
 *
 * @param value The candidate match id (from a flag, a message or a file).
 * @returns The same value, known to be safe as a directory name.
 * @throws {TelemetryError} kind `usage`, code `bad_match_id`, naming the value.
 *
 * @example
 * ```ts
 * import { parseMatchId } from "./match_id.ts";
 * parseMatchId("fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c");
 * ```
 */
export function parseMatchId(value: unknown): string {
  if (
    typeof value !== "string" || !MATCH_ID_PATTERN.test(value) || value === "." || value === ".."
  ) {
    const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 200)) : String(value);
    throw new TelemetryError(
      "usage",
      "bad_match_id",
      `invalid match id ${shown}: expected 1-128 characters of A-Z a-z 0-9 . _ - (and not "." or "..")`,
    );
  }
  return value;
}

/**
 * Returns whether a value is a valid match id, without throwing.
 *
 * @param value The candidate.
 * @returns True when {@linkcode parseMatchId} would accept it.
 */
export function isValidMatchId(value: string): boolean {
  return MATCH_ID_PATTERN.test(value) && value !== "." && value !== "..";
}

/**
 * Takes the API match id out of a telemetry `MatchId`
 * (`match.bro.official.pc-2018-31.steam.squad.eu.2024.11.28.12.<id>`): its
 * last dot-separated part.
 *
 * @param telemetryMatchId The `MatchId` field of `LogMatchDefinition`.
 * @returns The last dot-separated part, or undefined when it is empty.
 */
export function matchIdFromTelemetry(telemetryMatchId: string): string | undefined {
  const last = telemetryMatchId.slice(telemetryMatchId.lastIndexOf(".") + 1);
  return last === "" ? undefined : last;
}

/**
 * Whether a telemetry `MatchId` belongs to the given API match id: it must
 * end with `.<matchId>`.
 *
 * @param telemetryMatchId The `MatchId` field of `LogMatchDefinition`.
 * @param matchId The API match id.
 * @returns True when they belong together.
 */
export function telemetryMatches(telemetryMatchId: string, matchId: string): boolean {
  return telemetryMatchId.endsWith(`.${matchId}`);
}
