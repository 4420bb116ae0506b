/**
 * Streaming byte-level JSON validator for telemetry files.
 *
 * {@linkcode JsonValidator} checks the full RFC 8259 grammar over chunks of
 * bytes, resumable at any byte boundary, without building values, plus the
 * telemetry shape: one top-level array whose elements are all objects. It
 * counts the events and captures `_T` and `MatchId` of the first one.
 * {@linkcode ValidateStream} wraps it as a pass-through stream stage.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";

/** What the validator learned about the first event. */
export interface FirstEvent {
  /** `_T` of the first top-level element, when it is a string. */
  type?: string;
  /** `MatchId` of the first top-level element, when it is a string. */
  matchId?: string;
}

/** Result of a complete validation. */
export interface ValidationSummary {
  /** Bytes of content validated. */
  bytes: number;
  /** Number of top-level array elements (events). */
  events: number;
  /** Fields of the first event. */
  first: FirstEvent;
}

/** The deepest nesting of objects and arrays that is accepted. */
export const MAX_JSON_DEPTH = 512;

/** Raw (still escaped) bytes of a first-event value beyond which it is not captured. */
export const MAX_CAPTURE_BYTES = 512;

// Parser states. Each names what the next byte may be.
const S_START = 0; // before the top-level value
const S_TOP_FIRST = 1; // after the top-level '[': an event object or ']'
const S_TOP_NEXT = 2; // after ',' at depth 1: an event object
const S_VALUE = 3; // any value
const S_ARR_FIRST = 4; // after '[': a value or ']'
const S_OBJ_FIRST = 5; // after '{': a key or '}'
const S_OBJ_KEY = 6; // after ',' in an object: a key
const S_COLON = 7; // after a key: ':'
const S_AFTER = 8; // after a value: ',' or the closing bracket
const S_STR = 9; // inside a string
const S_ESC = 10; // after '\' in a string
const S_HEX = 11; // inside the 4 hex digits of '\u'
const S_N_MINUS = 12; // after '-': a digit
const S_N_ZERO = 13; // after a leading '0'
const S_N_INT = 14; // in the integer digits
const S_N_DOT = 15; // after '.': a digit
const S_N_FRAC = 16; // in the fraction digits
const S_N_E = 17; // after 'e': a sign or digit
const S_N_ESIGN = 18; // after the exponent sign: a digit
const S_N_EXP = 19; // in the exponent digits
const S_LIT = 20; // inside true, false or null
const S_DONE = 21; // after the top-level array: whitespace only

const IN_OBJECT = 1;
const IN_ARRAY = 2;

const KEY_NONE = 0;
const KEY_TYPE = 1;
const KEY_MATCH_ID = 2;

const LIT_TRUE = new Uint8Array([0x74, 0x72, 0x75, 0x65]);
const LIT_FALSE = new Uint8Array([0x66, 0x61, 0x6c, 0x73, 0x65]);
const LIT_NULL = new Uint8Array([0x6e, 0x75, 0x6c, 0x6c]);

/** 1 for the bytes that may follow '\' in a string, except 'u'. */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

/** 1 for hex digits. */
const HEX_DIGIT = new Uint8Array(256);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;

/** What an unexpected end of content was inside of, per state. */
const INSIDE: Record<number, string> = {
  [S_STR]: "a string",
  [S_ESC]: "a string escape",
  [S_HEX]: "a \\u escape",
  [S_N_MINUS]: "a number",
  [S_N_ZERO]: "a number",
  [S_N_INT]: "a number",
  [S_N_DOT]: "a number",
  [S_N_FRAC]: "a number",
  [S_N_E]: "a number",
  [S_N_ESIGN]: "a number",
  [S_N_EXP]: "a number",
  [S_LIT]: "a literal",
};

/**
 * Streaming validator of telemetry JSON: feed chunks with
 * {@linkcode JsonValidator.push}, then call {@linkcode JsonValidator.end}.
 *
 * Checks the full RFC 8259 grammar (objects, arrays, strings and their
 * escapes, numbers, literals, whitespace) at any chunk boundary, without
 * allocating per token. String bytes are NOT checked to be valid UTF-8.
 * Telemetry rules, checked as early as possible: the top-level value is an
 * array, every element of it is an object, there is at least one, and only
 * whitespace follows the array. Nesting deeper than {@linkcode MAX_JSON_DEPTH}
 * is refused. `_T` and `MatchId` string values directly inside the first
 * element are captured (values over {@linkcode MAX_CAPTURE_BYTES} raw bytes
 * are skipped; with duplicate keys the last one wins).
 *
 * After the first error every further call throws that same error.
 *
 * @example Validate in two chunks
 * ```ts
 * import { JsonValidator } from "./json_validator.ts";
 * const bytes = new TextEncoder().encode('[{"_T":"LogMatchDefinition","MatchId":"m.1"},{"_T":"X"}]');
 * const validator = new JsonValidator();
 * validator.push(bytes.subarray(0, 10));
 * validator.push(bytes.subarray(10));
 * const summary = validator.end();
 * if (summary.events !== 2 || summary.first.matchId !== "m.1") throw new Error("unexpected");
 * ```
 */
export class JsonValidator {
  #state = S_START;
  #depth = 0;
  #stack = new Uint8Array(MAX_JSON_DEPTH);
  #bytes = 0;
  #events = 0;
  #isKey = false;
  #hexLeft = 0;
  #lit: Uint8Array = LIT_NULL;
  #litPos = 0;
  #error: TelemetryError | undefined;
  #summary: ValidationSummary | undefined;
  // Capture of strings directly inside the first event.
  #capOn = false;
  #capBuf = new Uint8Array(MAX_CAPTURE_BYTES);
  #capLen = 0;
  #capOver = false;
  #pendingKey = KEY_NONE;
  #first: FirstEvent = {};

  /** Creates a validator, ready for the first chunk. */
  constructor() {
    if (!warmedUp) warmUp();
  }

  /** Bytes of content pushed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Top-level elements (events) started so far. */
  get events(): number {
    return this.#events;
  }

  /**
   * Feeds the next chunk of content.
   *
   * @param chunk Any number of bytes; tokens may be split across chunks.
   * @throws {TelemetryError} kind `permanent`, code `invalid_json` (with the
   * byte offset) or `not_telemetry`, at the first violation; afterwards every
   * call throws the same error.
   * @throws {Error} when called after {@linkcode JsonValidator.end}.
   */
  push(chunk: Uint8Array): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#summary !== undefined) throw new Error("JsonValidator.push() called after end()");
    const buf = chunk;
    const n = buf.length;
    const stack = this.#stack;
    let state = this.#state;
    let depth = this.#depth;
    let isKey = this.#isKey;
    let i = 0;
    let c = 0;
    let capStart = 0;

    while (i < n) {
      switch (state) {
        case S_STR: {
          // Hot loop: the string body up to '"', '\' or a control byte.
          c = buf[i]!;
          while (c !== 0x22 && c !== 0x5c && c >= 0x20) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c === 0x22) {
            if (this.#capOn) {
              this.#capture(buf, capStart, i);
              this.#endCapture(isKey);
            }
            i++;
            if (isKey) {
              // Fast path for the usual `"key":`.
              if (i < n && buf[i] === 0x3a) {
                i++;
                state = S_VALUE;
              } else {
                state = S_COLON;
              }
            } else {
              state = S_AFTER;
            }
          } else if (c === 0x5c) {
            i++;
            state = S_ESC;
          } else {
            this.#fail(i, `unescaped control character ${hex(c)} in a string`);
          }
          break;
        }

        case S_AFTER: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          const top = stack[depth - 1];
          if (c === 0x2c) {
            i++;
            if (depth === 1) {
              state = S_TOP_NEXT;
            } else if (top === IN_OBJECT) {
              state = S_OBJ_KEY;
            } else {
              state = S_VALUE;
            }
          } else if (c === 0x7d && top === IN_OBJECT) {
            i++;
            depth--;
          } else if (c === 0x5d && top === IN_ARRAY) {
            i++;
            depth--;
            if (depth === 0) state = S_DONE;
          } else {
            this.#fail(i, `expected ',' or '${top === IN_OBJECT ? "}" : "]"}'`, c);
          }
          break;
        }

        case S_ARR_FIRST:
        case S_VALUE: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (depth === 2 && this.#pendingKey !== KEY_NONE && c !== 0x22 && this.#events === 1) {
            // A non-string value for `_T` or `MatchId`: the last one wins.
            this.#dropPending();
          }
          if (c === 0x22) {
            i++;
            isKey = false;
            state = S_STR;
            if (depth === 2 && this.#events === 1) {
              this.#startCapture();
              capStart = i;
            }
          } else if (c >= 0x31 && c <= 0x39) {
            i++;
            state = S_N_INT;
          } else if (c === 0x7b) {
            if (depth === MAX_JSON_DEPTH) this.#tooDeep(i);
            stack[depth++] = IN_OBJECT;
            i++;
            state = S_OBJ_FIRST;
          } else if (c === 0x5b) {
            if (depth === MAX_JSON_DEPTH) this.#tooDeep(i);
            stack[depth++] = IN_ARRAY;
            i++;
            state = S_ARR_FIRST;
          } else if (c === 0x2d) {
            i++;
            state = S_N_MINUS;
          } else if (c === 0x30) {
            i++;
            state = S_N_ZERO;
          } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
            this.#lit = c === 0x74 ? LIT_TRUE : c === 0x66 ? LIT_FALSE : LIT_NULL;
            this.#litPos = 1;
            i++;
            state = S_LIT;
          } else if (c === 0x5d && state === S_ARR_FIRST) {
            i++;
            depth--;
            state = S_AFTER;
          } else {
            this.#fail(
              i,
              state === S_ARR_FIRST ? "expected a JSON value or ']'" : "expected a JSON value",
              c,
            );
          }
          break;
        }

        case S_OBJ_FIRST:
        case S_OBJ_KEY: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c !== 0x22) {
            if (c === 0x7d && state === S_OBJ_FIRST) {
              i++;
              depth--;
              state = S_AFTER;
              break;
            }
            this.#fail(
              i,
              state === S_OBJ_FIRST ? "expected a string key or '}'" : "expected a string key",
              c,
            );
          }
          if (depth === 2 && this.#events === 1) {
            i++;
            isKey = true;
            state = S_STR;
            this.#startCapture();
            capStart = i;
            break;
          }
          // Fast path for minified members: `"key":value` pairs, nested
          // objects and closing brackets are handled here without going back
          // to the switch. Anything unusual (whitespace, escapes, arrays,
          // exponents, the end of the chunk, errors) leaves `i` at the start
          // of the token and hands it to the general states.
          member: for (;;) {
            // At the opening quote of a key.
            let j = i + 1;
            c = 0;
            while (j < n) {
              c = buf[j]!;
              if (c === 0x22 || c === 0x5c || c < 0x20) break;
              j++;
            }
            if (j === n || c !== 0x22) {
              i = j;
              isKey = true;
              state = S_STR;
              break;
            }
            i = j + 1;
            if (i === n || buf[i] !== 0x3a) {
              state = S_COLON;
              break;
            }
            i++;
            if (i === n) {
              state = S_VALUE;
              break;
            }
            c = buf[i]!;
            if (c === 0x22) {
              j = i + 1;
              while (j < n) {
                c = buf[j]!;
                if (c === 0x22 || c === 0x5c || c < 0x20) break;
                j++;
              }
              if (j === n || c !== 0x22) {
                i = j;
                isKey = false;
                state = S_STR;
                break;
              }
              i = j + 1;
            } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
              j = c === 0x2d ? i + 1 : i;
              if (j === n) {
                state = S_VALUE;
                break;
              }
              c = buf[j]!;
              if (c === 0x30) {
                j++;
              } else if (c >= 0x31 && c <= 0x39) {
                j++;
                while (j < n) {
                  c = buf[j]!;
                  if (c < 0x30 || c > 0x39) break;
                  j++;
                }
              } else {
                state = S_VALUE;
                break;
              }
              if (j < n && buf[j] === 0x2e) {
                j++;
                const digits = j;
                while (j < n) {
                  c = buf[j]!;
                  if (c < 0x30 || c > 0x39) break;
                  j++;
                }
                if (j === digits) {
                  state = S_VALUE;
                  break;
                }
              }
              if (j === n || buf[j] === 0x65 || buf[j] === 0x45) {
                state = S_VALUE;
                break;
              }
              i = j;
            } else if (c === 0x7b) {
              if (depth === MAX_JSON_DEPTH) this.#tooDeep(i);
              stack[depth++] = IN_OBJECT;
              i++;
              if (i < n && buf[i] === 0x22 && !(depth === 2 && this.#events === 1)) continue member;
              state = S_OBJ_FIRST;
              break;
            } else if (c === 0x66 && i + 5 <= n && buf[i + 1] === 0x61 && buf[i + 2] === 0x6c) {
              if (buf[i + 3] !== 0x73 || buf[i + 4] !== 0x65) {
                state = S_VALUE;
                break;
              }
              i += 5;
            } else if (c === 0x74 && i + 4 <= n && buf[i + 1] === 0x72) {
              if (buf[i + 2] !== 0x75 || buf[i + 3] !== 0x65) {
                state = S_VALUE;
                break;
              }
              i += 4;
            } else {
              state = S_VALUE;
              break;
            }
            // After a value: ',' or closing brackets.
            for (;;) {
              if (i === n) {
                state = S_AFTER;
                break member;
              }
              c = buf[i]!;
              const top = stack[depth - 1];
              if (c === 0x2c) {
                if (top === IN_OBJECT) {
                  i++;
                  if (i < n && buf[i] === 0x22 && !(depth === 2 && this.#events === 1)) {
                    continue member;
                  }
                  state = S_OBJ_KEY;
                  break member;
                }
                if (depth === 1 && i + 1 < n && buf[i + 1] === 0x7b) {
                  // The next event.
                  i += 2;
                  this.#events++;
                  stack[depth++] = IN_OBJECT;
                  if (i < n && buf[i] === 0x22 && !(depth === 2 && this.#events === 1)) {
                    continue member;
                  }
                  state = S_OBJ_FIRST;
                  break member;
                }
                state = S_AFTER;
                break member;
              }
              if (c === 0x7d && top === IN_OBJECT) {
                i++;
                depth--;
                continue;
              }
              if (c === 0x5d && top === IN_ARRAY && depth > 1) {
                i++;
                depth--;
                continue;
              }
              state = S_AFTER;
              break member;
            }
          }
          break;
        }

        case S_COLON: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c !== 0x3a) this.#fail(i, "expected ':'", c);
          i++;
          state = S_VALUE;
          break;
        }

        case S_N_INT: {
          c = buf[i]!;
          while (c >= 0x30 && c <= 0x39) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c === 0x2e) {
            i++;
            state = S_N_DOT;
          } else if (c === 0x65 || c === 0x45) {
            i++;
            state = S_N_E;
          } else {
            state = S_AFTER;
          }
          break;
        }

        case S_N_ZERO: {
          c = buf[i]!;
          if (c === 0x2e) {
            i++;
            state = S_N_DOT;
          } else if (c === 0x65 || c === 0x45) {
            i++;
            state = S_N_E;
          } else {
            state = S_AFTER;
          }
          break;
        }

        case S_N_FRAC: {
          c = buf[i]!;
          while (c >= 0x30 && c <= 0x39) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c === 0x65 || c === 0x45) {
            i++;
            state = S_N_E;
          } else {
            state = S_AFTER;
          }
          break;
        }

        case S_N_EXP: {
          c = buf[i]!;
          while (c >= 0x30 && c <= 0x39) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          state = S_AFTER;
          break;
        }

        case S_N_MINUS: {
          c = buf[i]!;
          if (c === 0x30) state = S_N_ZERO;
          else if (c >= 0x31 && c <= 0x39) state = S_N_INT;
          else this.#fail(i, "expected a digit", c);
          i++;
          break;
        }

        case S_N_DOT: {
          c = buf[i]!;
          if (c < 0x30 || c > 0x39) this.#fail(i, "expected a digit", c);
          i++;
          state = S_N_FRAC;
          break;
        }

        case S_N_E: {
          c = buf[i]!;
          if (c === 0x2b || c === 0x2d) state = S_N_ESIGN;
          else if (c >= 0x30 && c <= 0x39) state = S_N_EXP;
          else this.#fail(i, "expected a digit or a sign", c);
          i++;
          break;
        }

        case S_N_ESIGN: {
          c = buf[i]!;
          if (c < 0x30 || c > 0x39) this.#fail(i, "expected a digit", c);
          i++;
          state = S_N_EXP;
          break;
        }

        case S_ESC: {
          c = buf[i]!;
          if (SIMPLE_ESCAPE[c] === 1) {
            state = S_STR;
          } else if (c === 0x75) {
            this.#hexLeft = 4;
            state = S_HEX;
          } else {
            this.#fail(i, 'expected an escape character (one of " \\ / b f n r t u)', c);
          }
          i++;
          break;
        }

        case S_HEX: {
          c = buf[i]!;
          if (HEX_DIGIT[c] !== 1) this.#fail(i, "expected a hex digit of a \\u escape", c);
          i++;
          if (--this.#hexLeft === 0) state = S_STR;
          break;
        }

        case S_LIT: {
          const lit = this.#lit;
          let pos = this.#litPos;
          while (pos < lit.length && i < n) {
            c = buf[i]!;
            if (c !== lit[pos]) {
              this.#fail(i, `expected '${String.fromCharCode(...lit)}'`, c);
            }
            pos++;
            i++;
          }
          this.#litPos = pos;
          if (pos === lit.length) state = S_AFTER;
          break;
        }

        case S_TOP_FIRST:
        case S_TOP_NEXT: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c === 0x7b) {
            this.#events++;
            stack[depth++] = IN_OBJECT;
            i++;
            state = S_OBJ_FIRST;
          } else if (c === 0x5d && state === S_TOP_FIRST) {
            this.#notTelemetry(i, "empty array: no events");
          } else {
            const kind = valueKind(c);
            if (kind === undefined) {
              this.#fail(
                i,
                state === S_TOP_FIRST ? "expected a JSON value or ']'" : "expected a JSON value",
                c,
              );
            }
            this.#notTelemetry(
              i,
              `event ${this.#events} is ${kind}, expected an object (byte ${this.#bytes + i})`,
            );
          }
          break;
        }

        case S_START: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          if (c === 0x5b) {
            stack[depth++] = IN_ARRAY;
            i++;
            state = S_TOP_FIRST;
          } else {
            const kind = valueKind(c);
            if (kind === undefined) this.#fail(i, "expected a JSON value", c);
            this.#notTelemetry(
              i,
              `top-level JSON value is ${kind}, expected an array of events (byte ${
                this.#bytes + i
              })`,
            );
          }
          break;
        }

        case S_DONE: {
          c = buf[i]!;
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            if (++i === n) break;
            c = buf[i]!;
          }
          if (i === n) break;
          const offset = this.#bytes + i;
          this.#throw(
            new TelemetryError(
              "permanent",
              "invalid_json",
              `unexpected data after the end of the array at byte ${offset}`,
              { offset },
            ),
          );
        }
      }
    }

    if (this.#capOn) this.#capture(buf, capStart, n);
    this.#state = state;
    this.#depth = depth;
    this.#isKey = isKey;
    this.#bytes += n;
  }

  /**
   * Declares the end of content and returns the summary.
   *
   * @returns Bytes, events and the fields of the first event. Calling it again
   * returns the same summary.
   * @throws {TelemetryError} kind `permanent`: code `empty` when there was no
   * content but whitespace, `invalid_json` when the content ends early (with
   * the offset of the end), or the error a previous call threw.
   */
  end(): ValidationSummary {
    if (this.#error !== undefined) throw this.#error;
    if (this.#summary !== undefined) return this.#summary;
    const state = this.#state;
    if (state === S_START) {
      this.#throw(new TelemetryError("permanent", "empty", "content is empty", { offset: 0 }));
    }
    if (state !== S_DONE) {
      const offset = this.#bytes;
      let inside = INSIDE[state];
      if (inside === undefined) {
        inside = this.#stack[this.#depth - 1] === IN_OBJECT ? "an object" : "an array";
      }
      const events = this.#events;
      this.#throw(
        new TelemetryError(
          "permanent",
          "invalid_json",
          `unexpected end of JSON at byte ${offset} (inside ${inside}, after ${
            Math.max(0, events - 1)
          } complete events)`,
          { offset },
        ),
      );
    }
    this.#summary = { bytes: this.#bytes, events: this.#events, first: this.#first };
    return this.#summary;
  }

  #startCapture(): void {
    this.#capOn = true;
    this.#capLen = 0;
    this.#capOver = false;
  }

  #capture(buf: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (this.#capOver || len === 0) return;
    if (this.#capLen + len > MAX_CAPTURE_BYTES) {
      this.#capOver = true;
      return;
    }
    this.#capBuf.set(buf.subarray(start, end), this.#capLen);
    this.#capLen += len;
  }

  #endCapture(isKey: boolean): void {
    this.#capOn = false;
    if (isKey) {
      this.#pendingKey = KEY_NONE;
      if (this.#capOver) return;
      const key = decodeJsonString(this.#capBuf.subarray(0, this.#capLen));
      if (key === "_T") this.#pendingKey = KEY_TYPE;
      else if (key === "MatchId") this.#pendingKey = KEY_MATCH_ID;
      return;
    }
    if (this.#pendingKey === KEY_NONE) return;
    if (this.#capOver) {
      this.#dropPending();
      return;
    }
    const value = decodeJsonString(this.#capBuf.subarray(0, this.#capLen));
    if (this.#pendingKey === KEY_TYPE) this.#first.type = value;
    else this.#first.matchId = value;
    this.#pendingKey = KEY_NONE;
  }

  #dropPending(): void {
    if (this.#pendingKey === KEY_TYPE) delete this.#first.type;
    else if (this.#pendingKey === KEY_MATCH_ID) delete this.#first.matchId;
    this.#pendingKey = KEY_NONE;
  }

  #fail(i: number, expected: string, found?: number): never {
    const offset = this.#bytes + i;
    const what = found === undefined ? expected : `${expected} but found ${showByte(found)}`;
    return this.#throw(
      new TelemetryError("permanent", "invalid_json", `invalid JSON at byte ${offset}: ${what}`, {
        offset,
      }),
    );
  }

  #tooDeep(i: number): never {
    return this.#fail(i, `nesting deeper than ${MAX_JSON_DEPTH}`);
  }

  #notTelemetry(i: number, message: string): never {
    return this.#throw(
      new TelemetryError("permanent", "not_telemetry", message, { offset: this.#bytes + i }),
    );
  }

  #throw(err: TelemetryError): never {
    this.#error = err;
    throw err;
  }
}

/**
 * A pass-through stream stage that validates what flows through it with a
 * {@linkcode JsonValidator}: each chunk is validated, then passed on
 * unchanged; at the end the validator's summary becomes
 * {@linkcode ValidateStream.summary}. A violation errors the stream.
 *
 * @example Validate while copying
 * ```ts
 * import { ValidateStream } from "./json_validator.ts";
 * const validate = new ValidateStream();
 * const text = '[{"_T":"LogMatchDefinition"}]';
 * await ReadableStream.from([new TextEncoder().encode(text)])
 *   .pipeThrough(validate)
 *   .pipeTo(new WritableStream());
 * if (validate.summary?.first.type !== "LogMatchDefinition") throw new Error("unexpected");
 * ```
 */
export class ValidateStream extends TransformStream<Uint8Array, Uint8Array> {
  #validator: JsonValidator;
  #result: { summary: ValidationSummary | undefined };

  /**
   * Creates the stage with a fresh validator.
   *
   * @throws {TelemetryError} (through the stream) as {@linkcode JsonValidator.push}
   * and {@linkcode JsonValidator.end} do.
   */
  constructor() {
    const validator = new JsonValidator();
    const result: { summary: ValidationSummary | undefined } = { summary: undefined };
    super({
      transform(chunk, controller) {
        validator.push(chunk);
        controller.enqueue(chunk);
      },
      flush() {
        result.summary = validator.end();
      },
    });
    this.#validator = validator;
    this.#result = result;
  }

  /** The summary, once the stream has finished without error. */
  get summary(): ValidationSummary | undefined {
    return this.#result.summary;
  }

  /** Bytes validated so far. */
  get bytes(): number {
    return this.#validator.bytes;
  }

  /** Events started so far. */
  get events(): number {
    return this.#validator.events;
  }
}

/** A small document with every token and state, for {@linkcode warmUp}. */
const WARM_UP_DOCUMENT =
  '[ {"MatchId":"m.\\"q\\u00e9\\\\.a","_T" : "L", "n":[-0.5e+10, 0, 12.25E-3, -7, 1e5],\n' +
  ' "b":[true,false,null,{},[]], "s":"\\b\\f\\n\\r\\t\\/", "o":{"_T":"x"}},\r\n\t{"_T":"S","n":[-0.5e+10,0,1],' +
  '"o":{"a":{"b":[1,{"c":-0.25,"d":0}],"e":"\\u0041\\""},"f":{}},"x":1e5,"y":-3.25,"z":true,"w":false,"v":null,"u":12},' +
  '{"a":"\\\\"}]\n';

let warmedUp = false;

/**
 * Runs the validator once over a small document split at many places, so
 * that V8 has type feedback for every path before it optimizes `push`.
 * Without it, the first tens of MB run at a third of the speed while V8
 * deoptimizes at each path it meets for the first time. Costs a few ms, once.
 */
function warmUp(): void {
  warmedUp = true;
  const bytes = new TextEncoder().encode(WARM_UP_DOCUMENT);
  for (let cut = 0; cut <= bytes.length; cut += 7) {
    const validator = new JsonValidator();
    validator.push(bytes.subarray(0, cut));
    validator.push(bytes.subarray(cut));
    validator.end();
  }
}

/** Decodes the raw bytes between the quotes of a JSON string already known to be valid. */
function decodeJsonString(raw: Uint8Array): string {
  return JSON.parse(`"${new TextDecoder().decode(raw)}"`) as string;
}

/** "an object", "a number", ... for the first byte of a value; undefined when no value starts so. */
function valueKind(c: number): string | undefined {
  if (c === 0x7b) return "an object";
  if (c === 0x5b) return "an array";
  if (c === 0x22) return "a string";
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return "a number";
  if (c === 0x74 || c === 0x66) return "a boolean";
  if (c === 0x6e) return "null";
  return undefined;
}

/** A byte as 'x' when printable ASCII, else as hex. */
function showByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte ${hex(c)}`;
}

function hex(c: number): string {
  return `0x${c.toString(16).padStart(2, "0")}`;
}
