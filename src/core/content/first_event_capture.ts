/**
 * Capture of the first event's `_T` and `MatchId` for the streaming
 * `JsonValidator` of `json_validator.ts`, which hands over the raw
 * bytes of every string directly inside the first event, piece by piece as
 * chunks arrive.
 *
 * @module
 */

/** What the validator learned about the first event. */
export interface FirstEvent {
  /** `_T` of the first top-level element, when it is a string. */
  type?: string;
  /** `MatchId` of the first top-level element, when it is a string. */
  matchId?: string;
}

/** One decoder for every capture: decoding without `stream` keeps no state. */
const decoder = new TextDecoder();

// Which field the key just captured selects for the next value.
const KEY_NONE = 0;
const KEY_TYPE = 1;
const KEY_MATCH_ID = 2;

/**
 * Collects `_T` and `MatchId` from the strings directly inside the first
 * event. For each string (key or value) the validator calls
 * {@linkcode FirstEventCapture.start}, then
 * {@linkcode FirstEventCapture.append} for each piece of its raw (still
 * escaped) bytes, then {@linkcode FirstEventCapture.end}; for a value that is
 * not a string it calls {@linkcode FirstEventCapture.nonStringValue}. Strings
 * longer than `maxBytes` raw bytes are skipped; with duplicate keys the last
 * value wins, and a last value that is not a string (or is too long) leaves
 * the field out.
 *
 * @example
 * ```ts
 * import { FirstEventCapture } from "./first_event_capture.ts";
 * const capture = new FirstEventCapture(512);
 * for (const [text, isKey] of [["_T", true], ["LogMatch\\u0044efinition", false]] as const) {
 *   const bytes = new TextEncoder().encode(text);
 *   const middle = Math.floor(bytes.length / 2); // as if split across two chunks
 *   capture.start();
 *   capture.append(bytes, 0, middle);
 *   capture.append(bytes, middle, bytes.length);
 *   capture.end(isKey);
 * }
 * if (capture.fields.type !== "LogMatchDefinition") throw new Error("unexpected");
 * ```
 */
export class FirstEventCapture {
  #capturing = false;
  #buf: Uint8Array;
  #len = 0;
  #tooLong = false;
  #pendingKey = KEY_NONE;
  #fields: FirstEvent = {};

  /**
   * Creates an empty capture.
   *
   * @param maxBytes Raw bytes of a string beyond which it is skipped.
   */
  constructor(maxBytes: number) {
    this.#buf = new Uint8Array(maxBytes);
  }

  /** Whether a string is being captured (between `start()` and `end()`). */
  get capturing(): boolean {
    return this.#capturing;
  }

  /** The fields found so far. */
  get fields(): FirstEvent {
    return this.#fields;
  }

  /** Starts a string. */
  start(): void {
    this.#capturing = true;
    this.#len = 0;
    this.#tooLong = false;
  }

  /**
   * Adds a piece of the string's raw bytes.
   *
   * @param buf The chunk.
   * @param start The index of the piece's first byte.
   * @param end The index after its last byte.
   */
  append(buf: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (this.#tooLong || len === 0) return;
    if (this.#len + len > this.#buf.length) {
      this.#tooLong = true;
      return;
    }
    this.#buf.set(buf.subarray(start, end), this.#len);
    this.#len += len;
  }

  /**
   * Ends the string: a key selects the field of the next value; a value
   * after `_T` or `MatchId` becomes that field.
   *
   * @param isKey Whether the string was a key.
   */
  end(isKey: boolean): void {
    this.#capturing = false;
    if (isKey) {
      this.#pendingKey = KEY_NONE;
      if (this.#tooLong) return;
      const key = this.#decode();
      if (key === "_T") this.#pendingKey = KEY_TYPE;
      else if (key === "MatchId") this.#pendingKey = KEY_MATCH_ID;
      return;
    }
    if (this.#pendingKey === KEY_NONE) return;
    if (this.#tooLong) {
      this.nonStringValue();
      return;
    }
    const value = this.#decode();
    if (this.#pendingKey === KEY_TYPE) this.#fields.type = value;
    else this.#fields.matchId = value;
    this.#pendingKey = KEY_NONE;
  }

  /** A value that is not a string: the field its key selected is left out. */
  nonStringValue(): void {
    if (this.#pendingKey === KEY_TYPE) delete this.#fields.type;
    else if (this.#pendingKey === KEY_MATCH_ID) delete this.#fields.matchId;
    this.#pendingKey = KEY_NONE;
  }

  /** Decodes the captured bytes, those of a JSON string already known to be valid. */
  #decode(): string {
    const raw = decoder.decode(this.#buf.subarray(0, this.#len));
    return JSON.parse(`"${raw}"`) as string;
  }
}
