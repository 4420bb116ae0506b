/**
 * `telemetry dlq list|replay|export|purge`: the dead-letter queue of one
 * environment. This file turns flags into settings, renders results and
 * maps the end to an exit code; the broker work is `src/queue/dlq.ts`.
 *
 * @module
 */

import {
  Command,
  type CommandUnknownOpts,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from "commander";
import { resolve } from "node:path";
import { addBrokerOptions, BROKER_ENV_HELP, confirmTimeoutOption } from "../cli/broker_options.ts";
import { parseDuration } from "../cli/duration.ts";
import { ExitCode, exitCodeFor, exitCodeForSignal, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { listenForInterrupt } from "../cli/interrupt.ts";
import { collectList, parsePositiveInt } from "../cli/parse.ts";
import { ProgressBar } from "../cli/progress_bar.ts";
import { errorLine, TelemetryError } from "../core/errors.ts";
import { type BrokerSettings, resolveBrokerSettings } from "../queue/broker_settings.ts";
import {
  DEAD_LETTER_KINDS,
  type DeadLetterFilter,
  type DeadLetterKind,
  exportRecord,
  isFiltered,
} from "../queue/dead_letter.ts";
import type { DeadLetter, DlqOptions, DlqProgress, DlqSummary } from "../queue/dlq.ts";
import {
  kindLines,
  LETTER_HEADER,
  letterJson,
  letterLine,
  ofTotal,
  shortWarning,
  summaryJson,
} from "./dlq_output.ts";
import {
  type AsyncWriter,
  exportFileSink,
  type ExportSink,
  exportStreamSink,
} from "./dlq_export_sink.ts";

/** The flags every `dlq` subcommand shares. */
export interface DlqFilterFlags {
  /** `--env`. */
  env?: string | undefined;
  /** `--amqp-url`. */
  amqpUrl?: string | undefined;
  /** `--kind`, repeatable. */
  kind?: DeadLetterKind[] | undefined;
  /** `--match-id`, repeatable. */
  matchId?: string[] | undefined;
  /** `--error-contains`. */
  errorContains?: string | undefined;
  /** `--older-than`, in milliseconds. */
  olderThan?: number | undefined;
  /** `--newer-than`, in milliseconds. */
  newerThan?: number | undefined;
  /** `--limit`. */
  limit?: number | undefined;
}

/** What a `dlq` subcommand works on: the broker, the filters and the limit. */
export interface DlqSelection {
  /** The broker and queue names. */
  broker: BrokerSettings;
  /** Which dead letters. */
  filter: DeadLetterFilter;
  /** At most this many. */
  limit: number | undefined;
}

/** What a run of a subcommand works with. */
export interface DlqCommandContext {
  /** Where results and errors go. */
  io: CommandIo;
  /** The environment variables. */
  env: Record<string, string | undefined>;
  /** Stops the run; the command listens for SIGINT/SIGTERM when absent. */
  signal?: AbortSignal;
  /** Where `export -o -` writes its records, asynchronously. @default {Deno.stdout} */
  stdout?: AsyncWriter;
}

/**
 * Parses `--kind` values (comma-separated, repeatable).
 *
 * @param value This occurrence's value.
 * @param previous The kinds so far.
 * @returns The kinds so far plus this one's.
 * @throws {InvalidArgumentError} On a kind the worker never writes.
 */
export function collectKinds(
  value: string,
  previous: DeadLetterKind[] | undefined,
): DeadLetterKind[] {
  const kinds = collectList(value, []);
  for (const kind of kinds) {
    if (!(DEAD_LETTER_KINDS as readonly string[]).includes(kind)) {
      throw new InvalidArgumentError(`expected one of ${DEAD_LETTER_KINDS.join(", ")}`);
    }
  }
  return [...(previous ?? []), ...kinds as DeadLetterKind[]];
}

/**
 * Adds the broker flags and the filters every `dlq` subcommand shares.
 *
 * @param command The subcommand.
 * @returns The same command, typed with the added flags.
 */
function addDlqOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>) {
  return addBrokerOptions(command)
    .addOption(
      new Option("--kind <kind>", "only dead letters of this x-error-kind (repeatable, a,b)")
        .choices(DEAD_LETTER_KINDS).argParser(collectKinds),
    )
    .addOption(
      new Option("--match-id <id>", "only the dead letters of this match (repeatable, a,b)")
        .argParser(collectList),
    )
    .addOption(
      new Option("--error-contains <text>", "only dead letters whose x-error contains this text"),
    )
    .addOption(
      new Option("--older-than <duration>", "only dead letters that failed at least this long ago")
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--newer-than <duration>", "only dead letters that failed less than this long ago")
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--limit <n>", "at most the first N matching dead letters")
        .argParser(parsePositiveInt),
    );
}

function defineListCommand() {
  return addDlqOptions(
    new Command("list").description(
      "print one line per dead letter, then the counts by kind (the queue is left as it was)",
    ),
  ).addOption(new Option("--json", "print one JSON object per dead letter, then a summary"));
}

function defineReplayCommand() {
  return addDlqOptions(
    new Command("replay").description(
      "move dead letters back to match.telemetry.{env}, where they get a fresh delivery count",
    ),
  )
    .addOption(new Option("--dry-run", "print the dead letters that would be replayed; move none"))
    .addOption(new Option("--json", "print JSON (with --dry-run, one object per dead letter too)"))
    .addOption(
      confirmTimeoutOption(),
    );
}

function defineExportCommand() {
  return addDlqOptions(
    new Command("export").description(
      "write dead letters (body, headers, properties) to NDJSON, leaving them in the queue",
    ),
  ).addOption(
    new Option("-o, --output <file>", "the NDJSON file (written atomically), or - for stdout")
      .makeOptionMandatory(),
  );
}

function definePurgeCommand() {
  return addDlqOptions(
    new Command("purge").description("delete dead letters for good (needs --yes)"),
  )
    .addOption(new Option("--yes", "really delete them (without it: say how many, exit 2)"))
    .addOption(new Option("--json", "print the summary as JSON"));
}

/** Flags of `telemetry dlq list`. */
export type DlqListFlags = ReturnType<ReturnType<typeof defineListCommand>["opts"]>;
/** Flags of `telemetry dlq replay`. */
export type DlqReplayFlags = ReturnType<ReturnType<typeof defineReplayCommand>["opts"]>;
/** Flags of `telemetry dlq export`. */
export type DlqExportFlags = ReturnType<ReturnType<typeof defineExportCommand>["opts"]>;
/** Flags of `telemetry dlq purge`. */
export type DlqPurgeFlags = ReturnType<ReturnType<typeof definePurgeCommand>["opts"]>;

/**
 * Every field `toDlqSelection` reads is a flag defined above: renaming a
 * flag without renaming the field makes this fail to compile.
 */
type EveryFilterFlagDefined = Required<DlqListFlags> extends Required<DlqFilterFlags> ? true
  : never;
const everyFilterFlagDefined: EveryFilterFlagDefined = true;

const FILTER_HELP = `
Filters (all optional, combined with AND; --older-than/--newer-than compare
x-failed-at with now, in s, m, h, d or w):
  --kind transient,redelivered   --match-id ID   --error-contains "HTTP 5"
  --older-than 30m   --newer-than 7d   --limit 100 (the first 100 that match)`;

const EXIT_HELP = `
Exit codes: 0 done; 1 the broker was unreachable or lost, the queue does not
exist (wrong --env?), or another client is reading it; 2 usage error; 130/143
stopped by Ctrl-C/SIGTERM (what was done stays done, the rest stays in place).`;

/**
 * Builds the `dlq` command and its subcommands.
 *
 * @param onExit Receives the exit code when an action ends.
 * @returns The commander command.
 */
export function dlqCommand(onExit: (code: ExitCodeValue) => void): CommandUnknownOpts {
  void everyFilterFlagDefined;
  const context = (): DlqCommandContext => ({ io: processIo, env: Deno.env.toObject() });
  const list = defineListCommand();
  list.addHelpText(
    "after",
    `${FILTER_HELP}

Columns: match id, x-error-kind, x-attempts, x-failed-at, x-worker-id,
x-original-queue, x-error. The dead letters are read and put back in place:
the queue keeps the same messages in the same order, also if list is killed.

Examples:
  telemetry dlq list --env prod
  telemetry dlq list --env prod --kind permanent --newer-than 1d
  telemetry dlq list --env prod --json | jq -r 'select(.error_kind=="transient") | .match_id'

Environment:
${BROKER_ENV_HELP}
${EXIT_HELP}`,
  );
  list.action(async (flags) => onExit(await runDlqList(flags, context())));

  const replay = defineReplayCommand();
  replay.addHelpText(
    "after",
    `${FILTER_HELP}

Each dead letter is published to match.telemetry.{env} (persistent, mandatory,
confirmed by the broker; body, headers and properties unchanged) before it is
removed from the DLQ, so a crash can leave a job in both queues but never in
neither. The worker gives a replayed job a fresh delivery count. Dead letters
that do not match stay in the DLQ, in order.

Examples:
  telemetry dlq replay --env prod --kind transient --dry-run
  telemetry dlq replay --env prod --kind transient,redelivered
  telemetry dlq replay --env prod --match-id fc6db7bd-f16b-43e5-aa2d-1d6e2a66c57c
  telemetry dlq replay --env prod --error-contains "HTTP 503" --older-than 2h --limit 500

Environment:
${BROKER_ENV_HELP}
${EXIT_HELP}`,
  );
  replay.action(async (flags) => onExit(await runDlqReplay(flags, context())));

  const exporter = defineExportCommand();
  exporter.addHelpText(
    "after",
    `${FILTER_HELP}

One JSON object per line: {"body": …, "body_encoding": "utf8"|"base64",
"headers": {…}, "properties": {…}}. The dead letters stay in the queue, in
order. A file is written to a temp file beside it first (.<file>.<hex>.partial),
renamed when complete and removed on an error, Ctrl-C or SIGTERM. With -o - a
slow reader pauses the export (the broker connection stays alive).

Examples:
  telemetry dlq export --env prod -o dlq-prod.ndjson
  telemetry dlq export --env prod --kind permanent -o - | jq -r '.headers["x-error"]' | sort | uniq -c

Environment:
${BROKER_ENV_HELP}
${EXIT_HELP}`,
  );
  exporter.action(async (flags) => onExit(await runDlqExport(flags, context())));

  const purge = definePurgeCommand();
  purge.addHelpText(
    "after",
    `${FILTER_HELP}

Without --yes nothing is deleted: purge says how many dead letters would go and
exits 2. Dead letters that do not match stay, in order. Export them first if in
doubt (telemetry dlq export … -o FILE).

Examples:
  telemetry dlq purge --env prod --kind permanent --older-than 14d
  telemetry dlq purge --env prod --kind permanent --older-than 14d --yes

Environment:
${BROKER_ENV_HELP}
${EXIT_HELP}`,
  );
  purge.action(async (flags) => onExit(await runDlqPurge(flags, context())));

  const dlq = new Command("dlq")
    .description("list, replay, export or purge the dead letters of one environment")
    .addHelpText(
      "after",
      `
Works on dlq.telemetry.{env}, where 'telemetry consume' puts the jobs it gave up
on (headers x-error, x-error-kind, x-attempts, x-failed-at, x-worker-id, ...).

Examples:
  telemetry dlq list --env prod
  telemetry dlq replay --env prod --kind transient --dry-run
  telemetry dlq export --env prod -o dlq-prod.ndjson
  telemetry dlq purge --env prod --kind permanent --older-than 14d --yes`,
    );
  for (const subcommand of [list, replay, exporter, purge]) {
    subcommand.exitOverride().showHelpAfterError("(run with --help for usage)");
    dlq.addCommand(subcommand);
  }
  return dlq;
}

/**
 * Validates the shared flags and resolves the broker settings.
 *
 * @param flags The parsed flags.
 * @param env The environment variables.
 * @returns The broker, the filter and the limit.
 * @throws {TelemetryError} kind `usage` for a bad `--env`/`--amqp-url`, or time filters that select nothing.
 *
 * @example
 * ```ts
 * import { toDlqSelection } from "./dlq.ts";
 * const selection = toDlqSelection({ env: "prod", kind: ["transient"], olderThan: 60_000 }, {});
 * if (selection.broker.names.deadLetterQueue !== "dlq.telemetry.prod") throw new Error("unexpected");
 * ```
 */
export function toDlqSelection(
  flags: DlqFilterFlags,
  env: Record<string, string | undefined>,
): DlqSelection {
  const broker = resolveBrokerSettings({ env: flags.env, amqpUrl: flags.amqpUrl }, env);
  const { olderThan, newerThan } = flags;
  if (olderThan !== undefined && newerThan !== undefined && olderThan >= newerThan) {
    throw usage(
      "--older-than and --newer-than select nothing: --older-than must be the shorter duration " +
        "(e.g. --older-than 2h --newer-than 7d: failed between 7 days and 2 hours ago)",
    );
  }
  if (flags.errorContains !== undefined && flags.errorContains.trim() === "") {
    throw usage("--error-contains needs some text");
  }
  return {
    broker,
    filter: {
      kinds: flags.kind,
      matchIds: flags.matchId,
      errorContains: flags.errorContains,
      olderThanMs: olderThan,
      newerThanMs: newerThan,
    },
    limit: flags.limit,
  };
}

/**
 * Runs `dlq list`.
 *
 * @param flags The parsed flags.
 * @param context Output, environment variables and an optional stop signal.
 * @returns The exit code.
 */
export async function runDlqList(
  flags: DlqListFlags,
  context: DlqCommandContext,
): Promise<ExitCodeValue> {
  const { io } = context;
  const json = flags.json === true;
  return await withSelection(flags, context, async (selection, signal) => {
    const { scanDeadLetters } = await import("../queue/dlq.ts");
    const print = letterPrinter(io, json);
    const summary = await scanDeadLetters({ ...options(selection, signal), onDeadLetter: print });
    // `dlq list | head`: the reader has what it wanted.
    if (closedPipe(summary)) return ExitCode.Ok;
    if (summary.failure !== undefined) {
      return reportFailure(io, summary, {
        what: "list",
        after: `the queue is unchanged (list removes nothing)`,
      });
    }
    return reportDone(io, summary, {
      json: json ? { listed: summary.done } : undefined,
      line: countLine(summary, selection),
      afterLetters: true,
    });
  });
}

/**
 * Runs `dlq replay`.
 *
 * @param flags The parsed flags.
 * @param context Output, environment variables and an optional stop signal.
 * @returns The exit code.
 */
export async function runDlqReplay(
  flags: DlqReplayFlags,
  context: DlqCommandContext,
): Promise<ExitCodeValue> {
  const { io } = context;
  const json = flags.json === true;
  return await withSelection(flags, context, async (selection, signal) => {
    const { replayDeadLetters, scanDeadLetters } = await import("../queue/dlq.ts");
    const { names } = selection.broker;
    const target = names.queue;
    if (flags.dryRun === true) {
      const print = letterPrinter(io, json);
      const summary = await scanDeadLetters({ ...options(selection, signal), onDeadLetter: print });
      if (closedPipe(summary)) return ExitCode.Ok;
      if (summary.failure !== undefined) {
        return reportFailure(io, summary, { what: "dry run", after: "nothing was changed" });
      }
      return reportDone(io, summary, {
        json: json ? { dry_run: true, replayed: 0, target } : undefined,
        line: `dry run: would replay ${ofTotal(summary.matched, summary.total)} from ` +
          `${summary.queue} to ${target} (nothing changed)`,
        afterLetters: true,
      });
    }
    const bar = progressBar(io, "replay", "replayed");
    const summary = await replayDeadLetters({
      ...options(selection, signal),
      confirmTimeoutMs: Math.round(flags.confirmTimeout * 1000),
      onProgress: bar,
    });
    bar?.finish();
    if (summary.failure !== undefined) {
      const doubled = summary.done - summary.removed;
      return reportFailure(io, summary, {
        what: "replay",
        after: `replayed ${summary.removed} (now in ${target})` +
          (doubled > 0
            ? `; ${doubled} more were copied to ${target} but are still in the DLQ too`
            : "") +
          `; every other dead letter is still in ${summary.queue}, in order`,
      });
    }
    const left = summary.total - summary.removed;
    return reportDone(io, summary, {
      json: json ? { replayed: summary.removed, target } : undefined,
      line: `replayed ${ofTotal(summary.removed, summary.total)} from ${summary.queue} to ` +
        `${target}${left > 0 ? ` (${left} left in the DLQ, in order)` : ""}`,
    });
  });
}

/**
 * Runs `dlq export`.
 *
 * @param flags The parsed flags.
 * @param context Output, environment variables and an optional stop signal.
 * @returns The exit code.
 */
export async function runDlqExport(
  flags: DlqExportFlags,
  context: DlqCommandContext,
): Promise<ExitCodeValue> {
  const { io, stdout = Deno.stdout } = context;
  const toStdout = flags.output === "-";
  return await withSelection(flags, context, async (selection, signal) => {
    const { scanDeadLetters } = await import("../queue/dlq.ts");
    let sink: ExportSink;
    try {
      // Before connecting: an output that cannot be written fails before the broker is touched.
      sink = toStdout
        ? exportStreamSink(stdout, { signal })
        : await exportFileSink(resolve(flags.output));
    } catch (err) {
      io.error(`error: cannot write ${flags.output}: ${errorLine(err)}`);
      return ExitCode.Failed;
    }
    const bar = toStdout ? undefined : progressBar(io, "export", "exported");
    let summary: DlqSummary;
    try {
      summary = await scanDeadLetters({
        ...options(selection, signal),
        onDeadLetter: (letter) => sink.write(JSON.stringify(exportRecord(letter.message))),
        onProgress: bar,
      });
      bar?.finish();
      if (summary.failure === undefined) await sink.commit();
    } catch (err) {
      // Only the output can fail here: the broker's failures come back in the summary.
      bar?.finish();
      const what = toStdout ? "the output is incomplete" : `${flags.output} was not written`;
      io.error(`error: export failed: ${errorLine(err)}; ${what}; the queue is unchanged`);
      return ExitCode.Failed;
    } finally {
      // A no-op after a commit; otherwise the temp file goes (also on Ctrl-C or SIGTERM).
      await sink.abort();
    }
    if (summary.failure !== undefined) {
      return reportFailure(io, summary, {
        what: "export",
        after: toStdout
          ? "the output is incomplete; the queue is unchanged"
          : `${flags.output} was not written; the queue is unchanged`,
      });
    }
    const line = `exported ${ofTotal(summary.done, summary.total)} from ${summary.queue} to ` +
      (toStdout ? "stdout" : flags.output);
    // On stdout the summary would mix with the records: it goes to stderr then.
    if (toStdout) io.error(line);
    else io.print(line);
    warnShort(io, summary);
    return ExitCode.Ok;
  });
}

/**
 * Runs `dlq purge`.
 *
 * @param flags The parsed flags.
 * @param context Output, environment variables and an optional stop signal.
 * @returns The exit code: 2 without `--yes`.
 */
export async function runDlqPurge(
  flags: DlqPurgeFlags,
  context: DlqCommandContext,
): Promise<ExitCodeValue> {
  const { io } = context;
  const json = flags.json === true;
  return await withSelection(flags, context, async (selection, signal) => {
    const { purgeDeadLetters, scanDeadLetters } = await import("../queue/dlq.ts");
    if (flags.yes !== true) {
      // Counting is a read of the queue, which leaves it as it was.
      const count = await scanDeadLetters(options(selection, signal));
      const how = count.failure === undefined
        ? `run it again with --yes to remove the ${ofTotal(count.matched, count.total)} that ${
          isFiltered(selection.filter) ? "match" : "are"
        } in ${count.queue}`
        : `run it again with --yes (could not count them: ${count.failure.message})`;
      io.error(`error: purge deletes dead letters for good: ${how}`);
      return ExitCode.Usage;
    }
    const bar = progressBar(io, "purge", "removed");
    const summary = await purgeDeadLetters({ ...options(selection, signal), onProgress: bar });
    bar?.finish();
    if (summary.failure !== undefined) {
      return reportFailure(io, summary, {
        what: "purge",
        after:
          `removed ${summary.removed}; every other dead letter is still in ${summary.queue}, ` +
          `in order`,
      });
    }
    const left = summary.total - summary.removed;
    return reportDone(io, summary, {
      json: json ? { removed: summary.removed } : undefined,
      line: `removed ${ofTotal(summary.removed, summary.total)} from ${summary.queue}` +
        (left > 0 ? ` (${left} left, in order)` : ""),
    });
  });
}

/** Resolves the selection, listens for Ctrl-C, runs `body`, maps an interrupt to 130/143. */
async function withSelection(
  flags: DlqFilterFlags,
  context: DlqCommandContext,
  body: (selection: DlqSelection, signal: AbortSignal | undefined) => Promise<ExitCodeValue>,
): Promise<ExitCodeValue> {
  const { io, env } = context;
  let selection: DlqSelection;
  try {
    selection = toDlqSelection(flags, env);
  } catch (err) {
    io.error(`error: ${errorLine(err)}`);
    return exitCodeFor(err);
  }
  const interrupt = context.signal === undefined ? listenForInterrupt() : undefined;
  try {
    const code = await body(selection, context.signal ?? interrupt?.signal);
    const received = interrupt?.received;
    return code === ExitCode.Failed && received !== undefined ? exitCodeForSignal(received) : code;
  } finally {
    interrupt?.dispose();
  }
}

function options(selection: DlqSelection, signal: AbortSignal | undefined): DlqOptions {
  return {
    broker: selection.broker,
    filter: selection.filter,
    limit: selection.limit,
    signal,
  };
}

/** Prints each dead letter as a line (after a header) or a JSON object. */
function letterPrinter(io: CommandIo, json: boolean): (letter: DeadLetter) => void {
  let first = true;
  return ({ info, position }) => {
    if (json) {
      io.print(JSON.stringify(letterJson(info, position)));
      return;
    }
    if (first) io.print(LETTER_HEADER);
    first = false;
    io.print(letterLine(info));
  };
}

/** "3 of 340 dead letters in dlq.telemetry.prod match", "no dead letters in …". */
function countLine(summary: DlqSummary, selection: DlqSelection): string {
  if (summary.total === 0) return `no dead letters in ${summary.queue}`;
  const filtered = isFiltered(selection.filter) || selection.limit !== undefined;
  return `${ofTotal(summary.done, summary.total)} in ${summary.queue}${filtered ? " match" : ""}`;
}

/**
 * The end of a run that went through: its JSON summary (with `json`'s
 * extra fields), or its line and the counts by kind (after a blank line
 * when dead letters were printed above it); then the short-queue warning.
 */
function reportDone(
  io: CommandIo,
  summary: DlqSummary,
  options: { json: Record<string, unknown> | undefined; line: string; afterLetters?: boolean },
): ExitCodeValue {
  const { json, line, afterLetters = false } = options;
  if (json !== undefined) {
    io.print(JSON.stringify(summaryJson(summary, json)));
  } else {
    if (afterLetters && summary.done > 0) io.print("");
    io.print(line);
    for (const kinds of kindLines(summary.byKind)) io.print(kinds);
  }
  warnShort(io, summary);
  return ExitCode.Ok;
}

/** Prints the one error line of a run that stopped early; returns its exit code. */
function reportFailure(
  io: CommandIo,
  summary: DlqSummary,
  context: { what: string; after: string },
): ExitCodeValue {
  const { failure } = summary;
  if (failure === undefined) return ExitCode.Ok;
  if (BEFORE_START.has(failure.kind)) {
    io.error(`error: ${failure.message}`);
    return ExitCode.Failed;
  }
  const where = summary.total > 0 ? ` after ${summary.scanned} of ${summary.total}` : "";
  const reason = failure.kind === "interrupted" ? "interrupted" : failure.message;
  io.error(`error: ${context.what} stopped${where}: ${reason}; ${context.after}`);
  return ExitCode.Failed;
}

/** Failures that happen before a run takes any dead letter: the reason says it all. */
const BEFORE_START = new Set(["unreachable", "refused", "no_queue", "busy"]);

/** Whether the run stopped because the reader of stdout went away (`| head`). */
function closedPipe(summary: DlqSummary): boolean {
  return summary.failure?.kind === "handler" && /broken pipe/i.test(summary.failure.message);
}

function warnShort(io: CommandIo, summary: DlqSummary): void {
  const warning = shortWarning(summary);
  if (warning !== undefined) io.error(warning);
}

/** A progress bar on a terminal's stderr, as an `onProgress` callback. */
function progressBar(
  io: CommandIo,
  label: string,
  verb: string,
): ((progress: DlqProgress) => void) & { finish(): void } | undefined {
  if (!io.isTty) return undefined;
  const bar = new ProgressBar({ label, unit: "items" });
  return Object.assign(
    (p: DlqProgress) => bar.update(p.scanned, p.total, `${verb} ${p.done}`),
    { finish: () => bar.finish() },
  );
}

function usage(message: string): TelemetryError {
  return new TelemetryError("usage", "bad_option", message);
}
