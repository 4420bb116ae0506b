/**
 * Ctrl-C (SIGINT) and SIGTERM for a one-shot command: instead of dying
 * mid-write, the command aborts its work through an `AbortSignal`, cleans
 * up, says `interrupted` and exits 130 or 143.
 *
 * @module
 */

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
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
    function listener() {
      if (received !== undefined) return;
      received = name;
      controller.abort(new Error(`interrupted by ${name}`));
    }
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  let disposed = false;
  function dispose() {
    if (disposed) return;
    disposed = true;
    for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
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
