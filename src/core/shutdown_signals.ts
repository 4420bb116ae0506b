/**
 * SIGTERM/SIGINT handling: the first signal asks for a graceful stop, a
 * second one for an immediate stop.
 *
 * @module
 */

/** What to do on signals. */
export interface ShutdownHandlers {
  /** The first SIGTERM or SIGINT. */
  graceful(signal: Deno.Signal): void;
  /** Any later SIGTERM or SIGINT. */
  immediate(signal: Deno.Signal): void;
}

/**
 * Listens for SIGTERM and SIGINT. While listening, Deno does not exit on
 * them by itself.
 *
 * @param handlers The graceful and immediate reactions.
 * @returns A function that removes the listeners.
 *
 * @example
 * ```ts
 * import { onShutdownSignals } from "./shutdown_signals.ts";
 * const dispose = onShutdownSignals({ graceful() {}, immediate() {} });
 * dispose();
 * ```
 */
export function onShutdownSignals(handlers: ShutdownHandlers): () => void {
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  let received = 0;
  const listeners = signals.map((signal) => {
    function listener() {
      received++;
      if (received === 1) handlers.graceful(signal);
      else handlers.immediate(signal);
    }
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}
