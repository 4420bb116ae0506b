/**
 * The match check on the first event, made as soon as that event has been
 * read: telemetry of another match is refused after its first few hundred
 * bytes, and the transfer stopped, instead of after the whole file.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";
import type { FirstEvent } from "./first_event_capture.ts";
import { JsonValidator } from "./json_validator.ts";
import { telemetryMatches } from "../store/match_id.ts";

/** Content bytes read to find the end of the first event; beyond, the end-of-content check decides. */
const MAX_PROBE_BYTES = 1024 * 1024;

/** How much of a chunk the check reads at a time: a first event is usually under 1 KiB. */
const PROBE_SLICE_BYTES = 4 * 1024;

/**
 * Throws when a first `LogMatchDefinition` event names another match.
 *
 * @param first The `_T` and `MatchId` of the first event.
 * @param expectedMatchId The match the content should belong to; nothing is checked without it.
 * @throws {TelemetryError} kind `permanent`, code `wrong_match`.
 *
 * @example
 * ```ts
 * import { checkFirstEvent } from "./first_event_check.ts";
 * checkFirstEvent({ type: "LogMatchDefinition", matchId: "match.bro.x.abc" }, "abc");
 * ```
 */
export function checkFirstEvent(first: FirstEvent, expectedMatchId: string | undefined): void {
  const { type, matchId } = first;
  if (expectedMatchId === undefined || type !== "LogMatchDefinition" || matchId === undefined) {
    return;
  }
  if (!telemetryMatches(matchId, expectedMatchId)) {
    throw new TelemetryError(
      "permanent",
      "wrong_match",
      `telemetry belongs to another match: MatchId ${
        JSON.stringify(matchId)
      } does not end with ".${expectedMatchId}"`,
    );
  }
}

/**
 * Reads the start of the content with a validator of its own, on the
 * calling thread (whichever thread validates the whole content), until the
 * first event is complete, then checks it with {@linkcode checkFirstEvent}.
 * Content that is not JSON fails here as early as it does in the validator.
 *
 * @example
 * ```ts
 * import { FirstEventCheck } from "./first_event_check.ts";
 * const check = new FirstEventCheck("abc");
 * const bytes = new TextEncoder().encode('[{"_T":"LogMatchDefinition","MatchId":"m.x.other"},');
 * let refused = false;
 * try {
 *   check.push(bytes);
 * } catch {
 *   refused = true;
 * }
 * if (!refused) throw new Error("unexpected");
 * ```
 */
export class FirstEventCheck {
  #expectedMatchId: string;
  #validator: JsonValidator | undefined = new JsonValidator();

  /** @param expectedMatchId The match the content should belong to. */
  constructor(expectedMatchId: string) {
    this.#expectedMatchId = expectedMatchId;
  }

  /** Whether the check is over (passed, or given up on a first event over 1 MiB). */
  get done(): boolean {
    return this.#validator === undefined;
  }

  /**
   * Feeds the next chunk of content until the first event is complete; a
   * no-op afterwards.
   *
   * @param chunk Content bytes.
   * @throws {TelemetryError} `wrong_match`, or the validator's error for content that is not telemetry.
   */
  push(chunk: Uint8Array): void {
    const validator = this.#validator;
    if (validator === undefined) return;
    // In slices, so that the check stops soon after the first event instead
    // of validating the rest of a 256 KiB chunk a second time (the content's
    // own validation sees every byte anyway).
    for (let start = 0; start < chunk.length; start += PROBE_SLICE_BYTES) {
      validator.push(chunk.subarray(start, start + PROBE_SLICE_BYTES));
      if (validator.firstEventComplete) {
        this.#validator = undefined;
        checkFirstEvent(validator.first, this.#expectedMatchId);
        return;
      }
      if (validator.bytes >= MAX_PROBE_BYTES) {
        this.#validator = undefined;
        return;
      }
    }
  }
}
