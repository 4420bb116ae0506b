/**
 * Ctrl-C (SIGINT) and SIGTERM for a one-shot command: instead of dying
 * mid-write, the command aborts its work through an `AbortSignal`, cleans
 * up, says `interrupted` and exits 130 or 143.
 *
 * @module
 */

import { onShutdownSignals } from "../core/shutdown_signals.ts";

/** The signals that stop a command. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** A stop requested by a signal; `dispose()` (or `using`) removes the listeners. */
export interface Interrupt extends Disposable {
  /** Aborted at the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The first stop signal received, if any. */
  readonly received: StopSignal | undefined;
  /** Removes the listeners: the signals kill the process again. */
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM. While listening, Deno does not exit on
 * them: the first one aborts {@linkcode Interrupt.signal}, later ones are
 * ignored while the command cleans up (which takes milliseconds).
 *
 * @returns The interrupt; dispose of it when the command ends.
 *
 * @example
 * ```ts
 * import { listenForInterrupt } from "./interrupt.ts";
 * using interrupt = listenForInterrupt();
 * if (interrupt.signal.aborted) throw new Error("unexpected");
 * ```
 */
export function listenForInterrupt(): Interrupt {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const removeListeners = onShutdownSignals({
    graceful(name) {
      received = name as StopSignal;
      controller.abort(new Error(`interrupted by ${name}`));
    },
    immediate() {}, // the command is already cleaning up, which takes milliseconds
  });
  let disposed = false;
  function dispose() {
    if (disposed) return;
    disposed = true;
    removeListeners();
  }
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
