/**
 * Worker side of {@linkcode ValidationThread}: runs one {@linkcode JsonValidator}
 * per stream id, so validation runs on its own core while the main thread
 * receives, decompresses and writes.
 *
 * Main → worker: `{ type: "push", id, buffer, length }` (the buffer is
 * transferred), `{ type: "end", id }`, `{ type: "drop", id }`.
 * Worker → main: `{ type: "ack", id, buffer }` for every push (the buffer
 * goes back for reuse), `{ type: "summary", id, summary }`, and
 * `{ type: "error", id, error }` with the TelemetryError's kind, code,
 * message and offset.
 *
 * @module
 */

import { TelemetryError } from "../errors.ts";
import { JsonValidator } from "./json_validator.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

type MainMessage =
  | { type: "push"; id: number; buffer: ArrayBuffer; length: number }
  | { type: "end"; id: number }
  | { type: "drop"; id: number };

const scope = globalThis as unknown as WorkerScope;

/** Validators by stream id; `null` once a stream failed (its later pushes are ignored). */
const validators = new Map<number, JsonValidator | null>();

function reportError(id: number, err: unknown): void {
  validators.set(id, null);
  const error = err instanceof TelemetryError
    ? { kind: err.kind, code: err.code, message: err.message, offset: err.offset }
    : { kind: "permanent", code: "invalid_json", message: String(err), offset: undefined };
  scope.postMessage({ type: "error", id, error });
}

scope.onmessage = (event: MessageEvent) => {
  const message = event.data as MainMessage;
  const { id } = message;
  if (message.type === "drop") {
    validators.delete(id);
  } else if (message.type === "push") {
    let validator = validators.get(id);
    if (validator === undefined) {
      validator = new JsonValidator();
      validators.set(id, validator);
    }
    try {
      validator?.push(new Uint8Array(message.buffer, 0, message.length));
    } catch (err) {
      reportError(id, err);
    }
    // The buffer goes back whatever happened, so the sender's pool stays whole.
    scope.postMessage({ type: "ack", id, buffer: message.buffer }, [message.buffer]);
  } else {
    const validator = validators.get(id) ?? new JsonValidator();
    validators.delete(id);
    if (validator === null) return; // its error was reported already
    try {
      scope.postMessage({ type: "summary", id, summary: validator.end() });
    } catch (err) {
      reportError(id, err);
      validators.delete(id);
    }
  }
};
