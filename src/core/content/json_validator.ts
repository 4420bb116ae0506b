/**
 * Streaming byte-level JSON validator for telemetry files.
 *
 * {@linkcode JsonValidator} checks the full RFC 8259 grammar over chunks of
 * bytes, resumable at any byte boundary, without building values, plus the
 * telemetry shape: one top-level array whose elements are all objects. It
 * counts the events and captures `_T` and `MatchId` of the first one.
 * {@linkcode ValidateStream} wraps it as a pass-through stream stage.
 *
 * How it works: `push()` is a state machine with one `switch` case per state
 * (the `S_*` constants); each case reads as many bytes as its state allows,
 * then names the next state. A stack records whether each open container is
 * an object or an array. A fast path, `#skipMinifiedMembers()`, handles the
 * bulk of minified telemetry outside the `switch`.
 *
 * Speed notes, measured with `scripts/bench_validator.ts` (2026-11-30):
 * - The byte constants live in this module, not exported: V8 folds them into
 *   the optimized code, but not constants imported from another module
 *   (30% slower when they were in their own module).
 * - V8 inlines small helpers into `push()` within a budget of bytecode, most
 *   of which the first-event capture takes. `isWhitespace()` is a table
 *   lookup because that is a smaller function than four comparisons (10–20%
 *   faster on pretty-printed content).
 * - The `skip*()` helpers return `i`, never `n`: `n` comes from `buf.length`,
 *   which V8 may hold as a double, and an index mixed with it makes every
 *   later `buf[i]` convert (10% slower).
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";
import { type FirstEvent, FirstEventCapture } from "./first_event_capture.ts";

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

// The bytes of JSON's grammar.
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20; // the bytes below it are control characters
const QUOTE = 0x22; // "
const PLUS = 0x2b; // +
const COMMA = 0x2c; // ,
const MINUS = 0x2d; // -
const DOT = 0x2e; // .
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const COLON = 0x3a; // :
const LESS_THAN = 0x3c; // <
const UPPER_E = 0x45; // E
const OPEN_BRACKET = 0x5b; // [
const BACKSLASH = 0x5c; // \
const CLOSE_BRACKET = 0x5d; // ]
const LOWER_A = 0x61; // a
const LOWER_E = 0x65; // e
const LOWER_F = 0x66; // f
const LOWER_L = 0x6c; // l
const LOWER_N = 0x6e; // n
const LOWER_R = 0x72; // r
const LOWER_S = 0x73; // s
const LOWER_T = 0x74; // t
const LOWER_U = 0x75; // u
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const DEL = 0x7f; // the first byte after printable ASCII

const encoder = new TextEncoder();
const TRUE_BYTES = encoder.encode("true");
const FALSE_BYTES = encoder.encode("false");
const NULL_BYTES = encoder.encode("null");

/** 1 for the bytes that may follow `\` in a string, except `u`. */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const byte of encoder.encode('"\\/bfnrt')) SIMPLE_ESCAPE[byte] = 1;

/** 1 for JSON whitespace: space, tab, line feed, carriage return. */
const WHITESPACE = new Uint8Array(256);
for (const byte of [SPACE, TAB, LF, CR]) WHITESPACE[byte] = 1;

/** 1 for hex digits. */
const HEX_DIGIT = new Uint8Array(256);
for (const byte of encoder.encode("0123456789abcdefABCDEF")) HEX_DIGIT[byte] = 1;

// Parser states. Each names what the next byte may be. In the states up to
// S_DONE, between tokens, whitespace is skipped first.
const S_START = 0; // before the top-level value
const S_TOP_FIRST = 1; // after the top-level '[': an event object or ']'
const S_TOP_NEXT = 2; // after ',' at depth 1: an event object
const S_VALUE = 3; // any value
const S_ARR_FIRST = 4; // after '[': a value or ']'
const S_OBJ_FIRST = 5; // after '{': a key or '}'
const S_OBJ_KEY = 6; // after ',' in an object: a key
const S_COLON = 7; // after a key: ':'
const S_AFTER = 8; // after a value: ',' or the closing bracket
const S_DONE = 9; // after the top-level array: whitespace only
const S_STR = 10; // inside a string
const S_ESC = 11; // after '\' in a string
const S_HEX = 12; // inside the 4 hex digits of '\u'
const S_N_MINUS = 13; // after '-': a digit
const S_N_ZERO = 14; // after a leading '0'
const S_N_INT = 15; // in the integer digits
const S_N_DOT = 16; // after '.': a digit
const S_N_FRAC = 17; // in the fraction digits
const S_N_E = 18; // after 'e': a sign or digit
const S_N_ESIGN = 19; // after the exponent sign: a digit
const S_N_EXP = 20; // in the exponent digits
const S_LIT = 21; // inside true, false or null

// What the stack holds for each open container.
const IN_OBJECT = 1;
const IN_ARRAY = 2;

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
  #lit: Uint8Array = NULL_BYTES;
  #litPos = 0;
  #error: TelemetryError | undefined;
  #summary: ValidationSummary | undefined;
  #capture = new FirstEventCapture(MAX_CAPTURE_BYTES);

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
   * The `_T` and `MatchId` of the first event captured so far; final once
   * {@linkcode JsonValidator.firstEventComplete} is true.
   */
  get first(): FirstEvent {
    return this.#capture.fields;
  }

  /** Whether the first event has been read to its closing brace. */
  get firstEventComplete(): boolean {
    // An event's '{' counts it and opens depth 2; its '}' brings depth back to 1.
    return this.#events > 1 || (this.#events === 1 && this.#depth <= 1);
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
    const capture = this.#capture;
    // The state is kept in locals while the chunk is scanned, and saved at the end.
    let state = this.#state;
    let depth = this.#depth;
    let isKey = this.#isKey;
    let i = 0;
    let c = 0;
    let capStart = 0;

    while (i < n) {
      switch (state) {
        case S_STR: {
          i = skipPlainString(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          if (c === QUOTE) {
            if (capture.capturing) {
              capture.append(buf, capStart, i);
              capture.end(isKey);
            }
            i++;
            if (!isKey) {
              state = S_AFTER;
            } else if (i < n && buf[i] === COLON) {
              // The usual `"key":`, without a trip through S_COLON.
              i++;
              state = S_VALUE;
            } else {
              state = S_COLON;
            }
          } else if (c === BACKSLASH) {
            i++;
            state = S_ESC;
          } else {
            this.#fail(i, `unescaped control character ${hex(c)} in a string`);
          }
          break;
        }

        case S_AFTER: {
          i = skipWhitespace(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          const top = stack[depth - 1];
          if (c === COMMA) {
            i++;
            if (depth === 1) state = S_TOP_NEXT;
            else if (top === IN_OBJECT) state = S_OBJ_KEY;
            else state = S_VALUE;
          } else if (c === CLOSE_BRACE && top === IN_OBJECT) {
            i++;
            depth--;
          } else if (c === CLOSE_BRACKET && top === IN_ARRAY) {
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
          i = skipWhitespace(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          const inFirstEvent = this.#inFirstEvent(depth);
          if (inFirstEvent && c !== QUOTE) capture.nonStringValue();
          if (c === QUOTE) {
            i++;
            isKey = false;
            state = S_STR;
            if (inFirstEvent) {
              capture.start();
              capStart = i;
            }
          } else if (c >= DIGIT_1 && c <= DIGIT_9) {
            i++;
            state = S_N_INT;
          } else if (c === OPEN_BRACE) {
            if (depth === MAX_JSON_DEPTH) this.#tooDeep(i);
            stack[depth++] = IN_OBJECT;
            i++;
            state = S_OBJ_FIRST;
          } else if (c === OPEN_BRACKET) {
            if (depth === MAX_JSON_DEPTH) this.#tooDeep(i);
            stack[depth++] = IN_ARRAY;
            i++;
            state = S_ARR_FIRST;
          } else if (c === MINUS) {
            i++;
            state = S_N_MINUS;
          } else if (c === DIGIT_0) {
            i++;
            state = S_N_ZERO;
          } else if (c === LOWER_T || c === LOWER_F || c === LOWER_N) {
            this.#lit = c === LOWER_T ? TRUE_BYTES : c === LOWER_F ? FALSE_BYTES : NULL_BYTES;
            this.#litPos = 1;
            i++;
            state = S_LIT;
          } else if (c === CLOSE_BRACKET && state === S_ARR_FIRST) {
            i++;
            depth--;
            state = S_AFTER;
          } else {
            const expected = state === S_ARR_FIRST ? "a JSON value or ']'" : "a JSON value";
            this.#fail(i, `expected ${expected}`, c);
          }
          break;
        }

        case S_OBJ_FIRST:
        case S_OBJ_KEY: {
          i = skipWhitespace(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          if (c === CLOSE_BRACE && state === S_OBJ_FIRST) {
            i++;
            depth--;
            state = S_AFTER;
          } else if (c !== QUOTE) {
            const expected = state === S_OBJ_FIRST ? "a string key or '}'" : "a string key";
            this.#fail(i, `expected ${expected}`, c);
          } else if (this.#inFirstEvent(depth)) {
            i++;
            isKey = true;
            state = S_STR;
            capture.start();
            capStart = i;
          } else {
            i = this.#skipMinifiedMembers(buf, i, depth);
            state = this.#state;
            depth = this.#depth;
            isKey = true; // The only string the fast path stops inside is a key.
          }
          break;
        }

        case S_COLON: {
          i = skipWhitespace(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          if (c !== COLON) this.#fail(i, "expected ':'", c);
          i++;
          state = S_VALUE;
          break;
        }

        case S_N_MINUS: {
          c = buf[i]!;
          if (c === DIGIT_0) state = S_N_ZERO;
          else if (isDigit(c)) state = S_N_INT;
          else this.#fail(i, "expected a digit", c);
          i++;
          break;
        }

        case S_N_ZERO: // as S_N_INT, but without digits to skip
        case S_N_INT: {
          if (state === S_N_INT) i = skipDigits(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          if (c === DOT) {
            i++;
            state = S_N_DOT;
          } else if (isExponent(c)) {
            i++;
            state = S_N_E;
          } else {
            state = S_AFTER;
          }
          break;
        }

        case S_N_DOT: // as S_N_ESIGN, then the fraction digits
        case S_N_ESIGN: {
          c = buf[i]!;
          if (!isDigit(c)) this.#fail(i, "expected a digit", c);
          i++;
          state = state === S_N_DOT ? S_N_FRAC : S_N_EXP;
          break;
        }

        case S_N_FRAC: // as S_N_EXP, but an exponent may follow
        case S_N_EXP: {
          i = skipDigits(buf, i, n);
          if (i === n) break;
          if (state === S_N_FRAC && isExponent(buf[i]!)) {
            i++;
            state = S_N_E;
          } else {
            state = S_AFTER;
          }
          break;
        }

        case S_N_E: {
          c = buf[i]!;
          if (c === PLUS || c === MINUS) state = S_N_ESIGN;
          else if (isDigit(c)) state = S_N_EXP;
          else this.#fail(i, "expected a digit or a sign", c);
          i++;
          break;
        }

        case S_ESC: {
          c = buf[i]!;
          if (SIMPLE_ESCAPE[c] === 1) {
            state = S_STR;
          } else if (c === LOWER_U) {
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
            if (c !== lit[pos]) this.#fail(i, `expected '${String.fromCharCode(...lit)}'`, c);
            pos++;
            i++;
          }
          this.#litPos = pos;
          if (pos === lit.length) state = S_AFTER;
          break;
        }

        case S_START: // the top level: its '[', then an event's '{'
        case S_TOP_FIRST:
        case S_TOP_NEXT: {
          i = skipWhitespace(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          if (state === S_START) {
            if (c !== OPEN_BRACKET) this.#notAnArray(buf, i);
            stack[depth++] = IN_ARRAY;
            state = S_TOP_FIRST;
          } else {
            if (c !== OPEN_BRACE) this.#notAnEvent(i, c, state === S_TOP_FIRST);
            this.#events++;
            stack[depth++] = IN_OBJECT;
            state = S_OBJ_FIRST;
          }
          i++;
          break;
        }

        case S_DONE: {
          i = skipWhitespace(buf, i, n);
          if (i === n) break;
          c = buf[i]!;
          const offset = this.#bytes + i;
          const message = `unexpected data after the end of the array at byte ${offset}`;
          this.#throw(new TelemetryError("permanent", "invalid_json", message, { offset }));
        }
      }
    }

    if (capture.capturing) capture.append(buf, capStart, n);
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
      this.#throw(
        new TelemetryError("permanent", "empty", "content is empty", {
          offset: 0,
          endOfInput: true,
        }),
      );
    }
    if (state !== S_DONE) {
      const offset = this.#bytes;
      let inside = INSIDE[state];
      if (inside === undefined) {
        inside = this.#stack[this.#depth - 1] === IN_OBJECT ? "an object" : "an array";
      }
      const complete = Math.max(0, this.#events - 1);
      const message = `unexpected end of JSON at byte ${offset} ` +
        `(inside ${inside}, after ${complete} complete events)`;
      this.#throw(
        new TelemetryError("permanent", "invalid_json", message, { offset, endOfInput: true }),
      );
    }
    this.#summary = { bytes: this.#bytes, events: this.#events, first: this.#capture.fields };
    return this.#summary;
  }

  /**
   * The fast path of `push()`, for the bulk of minified telemetry. Called at
   * the opening quote of a key outside the first event, it runs through
   * `"key":value` members whose value is an object, a string without
   * escapes, a number without exponent, `true` or `false`, then through
   * closing brackets and on into the next event, without going through the
   * `switch` for each token. At anything else (whitespace, escapes, arrays,
   * exponents, `null`, the end of the chunk, the first event's members,
   * errors) it stops at the start of the token and leaves it to the states
   * of `push()`, which then see what they would have seen without it.
   *
   * Measured: 411 MB/s with it, 227 MB/s without in memory (1.8×); 371 and
   * 257 MB/s behind `GunzipStream` (1.4×); 219 and 173 MB/s on the first
   * 40 MB in a fresh process (1.3×). `scripts/bench_validator.ts` with a copy
   * of this file without it as `--baseline`, 200 MB of fixture telemetry,
   * medians of 3 processes, 2026-11-30.
   *
   * @returns The index where it stopped. It sets `#state` and `#depth` to
   * those there; when it stops inside a string, that string is a key.
   */
  #skipMinifiedMembers(buf: Uint8Array, i: number, depth: number): number {
    const n = buf.length;
    const stack = this.#stack;
    let c = 0;
    let j = 0;
    member: for (;;) {
      // The key, from its opening quote, then ':'.
      j = skipPlainString(buf, i + 1, n);
      if (j === n || buf[j] !== QUOTE) return this.#stopAt(j, S_STR, depth);
      i = j + 1;
      if (i === n || buf[i] !== COLON) return this.#stopAt(i, S_COLON, depth);
      i++;
      // The value.
      if (i === n) return this.#stopAt(i, S_VALUE, depth);
      c = buf[i]!;
      if (c === QUOTE) {
        // A string without escapes.
        j = skipPlainString(buf, i + 1, n);
        if (j === n || buf[j] !== QUOTE) return this.#stopAt(i, S_VALUE, depth);
        i = j + 1;
      } else if (c === MINUS || isDigit(c)) {
        j = skipSimpleNumber(buf, i, n);
        if (j === i) return this.#stopAt(i, S_VALUE, depth);
        i = j;
      } else if (c === OPEN_BRACE) {
        if (depth === MAX_JSON_DEPTH) this.#tooDeep(i);
        stack[depth++] = IN_OBJECT;
        i++;
        if (i < n && buf[i] === QUOTE) continue member;
        return this.#stopAt(i, S_OBJ_FIRST, depth);
      } else if (
        c === LOWER_F && i + 5 <= n && buf[i + 1] === LOWER_A && buf[i + 2] === LOWER_L &&
        buf[i + 3] === LOWER_S && buf[i + 4] === LOWER_E
      ) {
        i += 5;
      } else if (
        c === LOWER_T && i + 4 <= n && buf[i + 1] === LOWER_R && buf[i + 2] === LOWER_U &&
        buf[i + 3] === LOWER_E
      ) {
        i += 4;
      } else {
        return this.#stopAt(i, S_VALUE, depth);
      }
      // After the value: closing brackets (not the top-level one), then ','
      // and the next member or event.
      for (;;) {
        if (i === n) return this.#stopAt(i, S_AFTER, depth);
        c = buf[i]!;
        const top = stack[depth - 1];
        if (c === COMMA) {
          if (top === IN_OBJECT) {
            i++;
            if (i < n && buf[i] === QUOTE && !this.#inFirstEvent(depth)) continue member;
            return this.#stopAt(i, S_OBJ_KEY, depth);
          }
          if (depth === 1 && i + 1 < n && buf[i + 1] === OPEN_BRACE) {
            // The next event (never the first one).
            i += 2;
            this.#events++;
            stack[depth++] = IN_OBJECT;
            if (i < n && buf[i] === QUOTE) continue member;
            return this.#stopAt(i, S_OBJ_FIRST, depth);
          }
          return this.#stopAt(i, S_AFTER, depth);
        }
        if (c === CLOSE_BRACE && top === IN_OBJECT) {
          i++;
          depth--;
        } else if (c === CLOSE_BRACKET && top === IN_ARRAY && depth > 1) {
          i++;
          depth--;
        } else {
          return this.#stopAt(i, S_AFTER, depth);
        }
      }
    }
  }

  /** Where the fast path stops: saves the state and depth there, returns `i`. */
  #stopAt(i: number, state: number, depth: number): number {
    this.#state = state;
    this.#depth = depth;
    return i;
  }

  /** Whether a key or value at `depth` is directly inside the first event. */
  #inFirstEvent(depth: number): boolean {
    return depth === 2 && this.#events === 1;
  }

  /** Throws for `c` at `i`, where an event must start (`first`: or the top-level array end). */
  #notAnEvent(i: number, c: number, first: boolean): never {
    if (c === CLOSE_BRACKET && first) this.#notTelemetry(i, "empty array: no events");
    const kind = valueKind(c);
    if (kind === undefined) {
      this.#fail(i, first ? "expected a JSON value or ']'" : "expected a JSON value", c);
    }
    const where = `byte ${this.#bytes + i}`;
    return this.#notTelemetry(i, `event ${this.#events} is ${kind}, expected an object (${where})`);
  }

  /** Throws for the byte at `i`, where the top-level array must start. */
  #notAnArray(buf: Uint8Array, i: number): never {
    const c = buf[i]!;
    if (c === LESS_THAN) {
      // A server that answers 200 with a page (a captive portal, a login or error page).
      const offset = this.#bytes + i;
      const xml = startsWithAt(buf, i, XML_DECLARATION);
      const what = xml ? "an XML document (starts with '<?xml')" : "an HTML page (starts with '<')";
      const message =
        `the content is ${what}, not JSON: the URL may point to an error or login page`;
      return this.#throw(new TelemetryError("permanent", "invalid_json", message, { offset }));
    }
    const kind = valueKind(c);
    if (kind === undefined) this.#fail(i, "expected a JSON value", c);
    const where = `byte ${this.#bytes + i}`;
    return this.#notTelemetry(
      i,
      `top-level JSON value is ${kind}, expected an array of events (${where})`,
    );
  }

  #fail(i: number, expected: string, found?: number): never {
    const offset = this.#bytes + i;
    const what = found === undefined ? expected : `${expected} but found ${showByte(found)}`;
    const message = `invalid JSON at byte ${offset}: ${what}`;
    return this.#throw(new TelemetryError("permanent", "invalid_json", message, { offset }));
  }

  #tooDeep(i: number): never {
    return this.#fail(i, `nesting deeper than ${MAX_JSON_DEPTH}`);
  }

  #notTelemetry(i: number, message: string): never {
    const offset = this.#bytes + i;
    return this.#throw(new TelemetryError("permanent", "not_telemetry", message, { offset }));
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

/** Whether a byte is JSON whitespace. */
function isWhitespace(byte: number): boolean {
  return WHITESPACE[byte] === 1;
}

function isDigit(byte: number): boolean {
  return byte >= DIGIT_0 && byte <= DIGIT_9;
}

/** Whether a byte starts the exponent of a number. */
function isExponent(byte: number): boolean {
  return byte === LOWER_E || byte === UPPER_E;
}

/** The index of the first byte from `i` on that is not whitespace, or `n`. */
function skipWhitespace(buf: Uint8Array, i: number, n: number): number {
  while (i < n && isWhitespace(buf[i]!)) i++;
  return i;
}

/** The index of the first byte from `i` on that is not a digit, or `n`. */
function skipDigits(buf: Uint8Array, i: number, n: number): number {
  while (i < n && isDigit(buf[i]!)) i++;
  return i;
}

/**
 * Skips the bytes of a string that need no attention: returns the index of
 * the first `"`, `\` or control character from `i` on, or `n`.
 */
function skipPlainString(buf: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const byte = buf[i]!;
    if (byte === QUOTE || byte === BACKSLASH || byte < SPACE) break;
    i++;
  }
  return i;
}

/**
 * Skips a number without exponent (`-12.5`) when it is whole in the chunk
 * (followed by a byte that is not an exponent): returns the index after it,
 * or `start` when there is no such number there.
 */
function skipSimpleNumber(buf: Uint8Array, start: number, n: number): number {
  let i = buf[start] === MINUS ? start + 1 : start;
  if (i === n) return start;
  const first = buf[i]!;
  if (first === DIGIT_0) i++;
  else if (isDigit(first)) i = skipDigits(buf, i + 1, n);
  else return start;
  if (i < n && buf[i] === DOT) {
    const fraction = i + 1;
    i = skipDigits(buf, fraction, n);
    if (i === fraction) return start;
  }
  if (i === n || isExponent(buf[i]!)) return start;
  return i;
}

/** "an object", "a number", ... for the first byte of a value; undefined when no value starts so. */
function valueKind(byte: number): string | undefined {
  if (byte === OPEN_BRACE) return "an object";
  if (byte === OPEN_BRACKET) return "an array";
  if (byte === QUOTE) return "a string";
  if (byte === MINUS || isDigit(byte)) return "a number";
  if (byte === LOWER_T || byte === LOWER_F) return "a boolean";
  if (byte === LOWER_N) return "null";
  return undefined;
}

/** A byte for messages: 'x' when printable ASCII, else its hex. */
/** What an XML document starts with. */
const XML_DECLARATION = new TextEncoder().encode("<?xml");

/** Whether `buf` holds `prefix` at `i`. */
function startsWithAt(buf: Uint8Array, i: number, prefix: Uint8Array): boolean {
  if (i + prefix.length > buf.length) return false;
  return prefix.every((byte, k) => buf[i + k] === byte);
}

function showByte(byte: number): string {
  return byte >= SPACE && byte < DEL ? `'${String.fromCharCode(byte)}'` : `byte ${hex(byte)}`;
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}

/** A minified event shaped like telemetry's, for {@linkcode warmUp}. */
const WARM_UP_EVENT =
  '{"c":{"n":"p_1","t":3,"h":91.5,"l":{"x":5028.7,"y":-584.8,"z":0},"i":"a.00f","b":false,' +
  '"r":true,"z":["p"]},"e":12,"a":64,"m":{"g":1.5},"_D":"2024-11-28T12:00:00.001Z","_T":"L"}';

/**
 * A small document with every token and state, then a few minified events
 * for the fast path, for {@linkcode warmUp}.
 */
const WARM_UP_DOCUMENT =
  '[ {"MatchId":"m.\\"q\\u00e9\\\\.a","_T" : "L", "n":[-0.5e+10, 0, 12.25E-3, -7, 1e5],\n' +
  ' "b":[true,false,null,{},[]], "s":"\\b\\f\\n\\r\\t\\/", "o":{"_T":"x"}},\r\n\t{"_T":"S","n":[-0.5e+10,0,1],' +
  '"o":{"a":{"b":[1,{"c":-0.25,"d":0}],"e":"\\u0041\\""},"f":{}},"x":1e5,"y":-3.25,"z":true,"w":false,"v":null,"u":12},' +
  `{"a":"\\\\"},${[WARM_UP_EVENT, WARM_UP_EVENT, WARM_UP_EVENT, WARM_UP_EVENT].join(",")}]\n`;

let warmedUp = false;

/**
 * Runs the validator once over a small document split at many places, so
 * that V8 has type feedback for every path before it optimizes `push()`.
 * Without it, V8 optimizes `push()` for the paths of the first bytes, then
 * deoptimizes at each path it meets for the first time. Costs a few ms, once.
 *
 * Measured: 219 MB/s with it, 176 MB/s without (1.25×) on the first 40 MB
 * in a fresh process; once warm, 0.87–1.04 times the speed without it in
 * memory, no difference behind `GunzipStream`. `scripts/bench_validator.ts
 * --cold 5` with a copy of this file without it as `--baseline`, medians of
 * 3 × 5 processes, 2026-11-30. It takes about 15 ms.
 */
function warmUp(): void {
  warmedUp = true;
  const bytes = encoder.encode(WARM_UP_DOCUMENT);
  for (let cut = 0; cut <= bytes.length; cut += 14) {
    const validator = new JsonValidator();
    validator.push(bytes.subarray(0, cut));
    validator.push(bytes.subarray(cut));
    validator.end();
  }
}
