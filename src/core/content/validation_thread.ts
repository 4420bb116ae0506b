/**
 * JSON validation on a second core, for long-running processes (`consume`).
 * A {@linkcode ValidationThread} owns one worker (`validate_worker.ts`) running
 * a {@linkcode JsonValidator} per stream; the main thread copies each chunk
 * into a pooled buffer and goes on decompressing and writing while the
 * worker validates. One-shot commands validate inline
 * ({@linkcode inlineValidation}): a worker's start-up would cost them more
 * than it saves.
 *
 * @module
 */

import { type ErrorCode, type ErrorKind, TelemetryError } from "../errors.ts";
import { JsonValidator, type ValidationSummary } from "./json_validator.ts";

/** Size of the buffers that carry content to the worker. */
const BUFFER_SIZE = 256 * 1024;

/** Buffers per stream: at most this many × 256 KiB are in flight. */
const MAX_BUFFERS = 8;

/** A validation in progress, inline or in a worker. */
export interface Validation {
  /** Content bytes pushed so far. */
  readonly bytes: number;
  /** Feeds the next chunk; rejects with the first validation error seen so far. */
  push(chunk: Uint8Array): Promise<void>;
  /** Ends the content; resolves with the summary or rejects with the error. */
  end(): Promise<ValidationSummary>;
  /**
   * Waits until everything pushed so far was validated; rejects with the
   * validation error if there was one. Used when the pipeline failed
   * elsewhere, so that an error earlier in the content is the one reported,
   * as with inline validation.
   */
  flush(): Promise<void>;
  /** Gives up (the pipeline failed); safe to call more than once. */
  drop(): void;
}

/** Opens a {@linkcode Validation} for one stream. */
export type OpenValidation = () => Validation;

/**
 * A validation on the calling thread.
 *
 * @returns The validation.
 *
 * @example
 * ```ts
 * import { inlineValidation } from "./validation_thread.ts";
 * const validation = inlineValidation();
 * await validation.push(new TextEncoder().encode('[{"_T":"LogMatchStart"}]'));
 * const summary = await validation.end();
 * if (summary.events !== 1) throw new Error("unexpected");
 * ```
 */
export function inlineValidation(): Validation {
  const validator = new JsonValidator();
  return {
    get bytes() {
      return validator.bytes;
    },
    push(chunk) {
      try {
        validator.push(chunk);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    },
    end() {
      try {
        return Promise.resolve(validator.end());
      } catch (err) {
        return Promise.reject(err);
      }
    },
    flush: () => Promise.resolve(),
    drop() {},
  };
}

type WorkerError = { kind: ErrorKind; code: ErrorCode; message: string; offset?: number };
type WorkerMessage =
  | { type: "ack"; id: number; buffer: ArrayBuffer }
  | { type: "summary"; id: number; summary: ValidationSummary }
  | { type: "error"; id: number; error: WorkerError };

/** The main-thread side of one stream validated in the worker. */
class RemoteValidation implements Validation {
  readonly #id: number;
  readonly #worker: Worker;
  readonly #forget: () => void;
  readonly #pool: ArrayBuffer[] = [];
  #created = 0;
  #bytes = 0;
  #wake: (() => void) | undefined;
  #error: TelemetryError | undefined;
  #summary = Promise.withResolvers<ValidationSummary>();
  #closed = false;

  constructor(id: number, worker: Worker, forget: () => void) {
    this.#id = id;
    this.#worker = worker;
    this.#forget = forget;
    this.#summary.promise.catch(() => {});
  }

  get bytes(): number {
    return this.#bytes;
  }

  receive(message: WorkerMessage): void {
    if (message.type === "ack") {
      this.#pool.push(message.buffer);
    } else if (message.type === "summary") {
      this.#close();
      this.#summary.resolve(message.summary);
    } else {
      this.#fail(message.error);
    }
    this.#wake?.();
  }

  async push(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += BUFFER_SIZE) {
      while (this.#pool.length === 0 && this.#created >= MAX_BUFFERS && this.#error === undefined) {
        await new Promise<void>((resolve) => this.#wake = resolve);
      }
      if (this.#error !== undefined) throw this.#error;
      let buffer = this.#pool.pop();
      if (buffer === undefined) {
        buffer = new ArrayBuffer(BUFFER_SIZE);
        this.#created++;
      }
      const piece = chunk.subarray(offset, offset + BUFFER_SIZE);
      new Uint8Array(buffer).set(piece);
      this.#worker.postMessage({ type: "push", id: this.#id, buffer, length: piece.length }, [
        buffer,
      ]);
      this.#bytes += piece.length;
    }
  }

  end(): Promise<ValidationSummary> {
    if (!this.#closed) this.#worker.postMessage({ type: "end", id: this.#id });
    return this.#summary.promise;
  }

  async flush(): Promise<void> {
    // The worker acks every push, failed or not: a full pool means it has seen them all.
    while (this.#pool.length < this.#created && this.#error === undefined && !this.#closed) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#error !== undefined) throw this.#error;
  }

  drop(): void {
    if (this.#closed) return;
    this.#worker.postMessage({ type: "drop", id: this.#id });
    this.#close();
    this.#summary.reject(new Error("validation dropped"));
  }

  #fail(error: WorkerError): void {
    const { kind, code, message, offset } = error;
    this.#error ??= new TelemetryError(kind, code, message, offset === undefined ? {} : { offset });
    this.#close();
    this.#summary.reject(this.#error);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#forget();
  }
}

/**
 * One validation worker shared by the streams of a long-running process.
 * Started on first use; {@linkcode ValidationThread.close} stops it.
 */
export class ValidationThread {
  #worker: Worker | undefined;
  #open = new Map<number, RemoteValidation>();
  #nextId = 1;

  /**
   * Starts validating a new stream.
   *
   * @returns The validation; end it with `end()` or `drop()`.
   */
  open(): Validation {
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    const validation = new RemoteValidation(id, worker, () => this.#open.delete(id));
    this.#open.set(id, validation);
    return validation;
  }

  /** Stops the worker; open validations fail. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#failAll("validation worker stopped");
  }

  #start(): Worker {
    const worker = new Worker(new URL("./validate_worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      this.#open.get(event.data.id)?.receive(event.data);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#worker = undefined;
      this.#failAll(`validation worker failed: ${event.message}`);
    };
    this.#worker = worker;
    return worker;
  }

  #failAll(message: string): void {
    for (const [id, validation] of [...this.#open]) {
      validation.receive({ type: "error", id, error: { kind: "transient", code: "io", message } });
    }
  }
}
