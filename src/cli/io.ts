/**
 * Where a command writes its results, behind an interface so tests capture
 * them. Results go to stdout; log lines and progress go to stderr.
 *
 * @module
 */

/** The output of a command. */
export interface CommandIo {
  /** Writes one result line to stdout. */
  print(line: string): void;
  /** Writes one line to stderr. */
  error(line: string): void;
  /** Whether stderr is a terminal (progress bars). */
  isTty: boolean;
}

const encoder = new TextEncoder();

function writeLine(stream: { writeSync(p: Uint8Array): number }, line: string): void {
  const bytes = encoder.encode(line + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
}

/** Standard output and error of the process. */
export const processIo: CommandIo = {
  print: (line) => writeLine(Deno.stdout, line),
  error: (line) => writeLine(Deno.stderr, line),
  isTty: Deno.stderr.isTerminal(),
};
