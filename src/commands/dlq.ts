/**
 * `telemetry dlq list|replay|export|purge`: the dead-letter queue of one
 * environment. Each subcommand is one read of the queue (`src/queue/dlq.ts`)
 * with an output: the letter or JSON printer (`list`, `replay --dry-run`),
 * the export sink (`export`), or an action (`replay`, `purge`); then
 * `dlq_output.ts` prints how the run ended.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, InvalidArgumentError, Option } from "commander";
import { addBrokerOptions, confirmTimeoutOption } from "../cli/broker_options.ts";
import { parseDuration } from "../cli/duration.ts";
import { ExitCode, type ExitCodeValue } from "../cli/exit_code.ts";
import { type CommandIo, processIo } from "../cli/io.ts";
import { collectList, parsePositiveInt } from "../cli/parse.ts";
import { resolveBrokerSettings } from "../queue/broker_settings.ts";
import { checkFilter, DEAD_LETTER_KINDS, exportRecord, isFiltered } from "../queue/dead_letter.ts";
import type { DlqOptions, DlqProgress, DlqSummary } from "../queue/dlq.ts";
import { type DlqEnding, endDlqRun, letterPrinter, ofTotal } from "./dlq_output.ts";
import { writeExport } from "./dlq_export_sink.ts";
import { operatorHelp, startFailure, terminalBar, withInterrupt } from "./operator.ts";

/** The flags every `dlq` subcommand shares (`--amqp-url` goes to `resolveBrokerSettings` as it is). */
export type DlqFilterFlags = Partial<ReturnType<ReturnType<typeof dlqSubcommand>["opts"]>>;

/** What a `dlq` subcommand works on: the broker, the filters and the limit. */
export type DlqSelection =
  & Pick<Required<DlqOptions>, "broker" | "filter">
  & Pick<DlqOptions, "limit">;

/** What a subcommand's run works on: the selection, with the run's stop signal. */
type Selected = DlqOptions & DlqSelection;

/** A subcommand's run, once its selection is resolved and its stop signal set. */
type Run<F> = (flags: F, options: Selected, io: CommandIo) => Promise<ExitCodeValue>;

/** `--json`, as commander gives it. */
type JsonFlag = { json?: true };

/** A `dlq` subcommand with the broker flags and the filters every one shares. */
function dlqSubcommand(name: string, description: string) {
  return addBrokerOptions(new Command(name).description(description))
    .addOption(
      new Option("--kind <kind>", "only dead letters of this x-error-kind (repeatable, a,b)")
        .choices(DEAD_LETTER_KINDS).argParser((value: string, previous: string[] | undefined) => {
          const kinds = collectList(value, previous ?? []);
          if (kinds.some((kind) => !(DEAD_LETTER_KINDS as readonly string[]).includes(kind))) {
            throw new InvalidArgumentError(`expected one of ${DEAD_LETTER_KINDS.join(", ")}`);
          }
          return kinds;
        }),
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

/**
 * Builds the `dlq` command and its subcommands.
 *
 * @param onExit Receives the exit code when an action ends.
 * @returns The commander command.
 */
export function dlqCommand(onExit: (code: ExitCodeValue) => void): CommandUnknownOpts {
  const dlq = new Command("dlq")
    .description("list, replay, export or purge the dead letters of one environment")
    .addHelpText(
      "after",
      `
Works on dlq.telemetry.{env}, where 'telemetry consume' puts the jobs it gave up
on (headers x-error, x-error-kind, x-attempts, x-failed-at, x-worker-id, ...).
More: docs/operations.md (order, no-loss, the error lines).

Examples:
  telemetry dlq list --env prod
  telemetry dlq replay --env prod --kind transient --dry-run
  telemetry dlq export --env prod -o dlq-prod.ndjson
  telemetry dlq purge --env prod --kind permanent --older-than 14d --yes`,
    );
  function add<F extends DlqFilterFlags>(
    command: Command,
    help: { about: string; examples: string[] },
    run: Run<F>,
  ): void {
    const about = `${FILTER_HELP}\n\n${help.about}`;
    command.addHelpText("after", operatorHelp({ ...help, about, exitCodes: EXIT_HELP }));
    command.action(async (flags) => {
      // The flags are F: `command` defines them.
      onExit(await runDlq(flags as F, run));
    });
    dlq.addCommand(command.exitOverride().showHelpAfterError("(run with --help for usage)"));
  }
  const json = (text: string) => new Option("--json", text);
  const list = dlqSubcommand(
    "list",
    "print one line per dead letter, then the counts by kind (the queue is left as it was)",
  ).addOption(json("print one JSON object per dead letter, then a summary"));
  add(list, {
    about: `Columns: match id, x-error-kind, x-attempts, x-failed-at, x-worker-id,
x-original-queue, x-error. The queue keeps the same messages in the same order,
also if list is killed.`,
    examples: [
      "telemetry dlq list --env prod --kind permanent --newer-than 1d",
      `telemetry dlq list --env prod --json | jq -r 'select(.error_kind=="transient") | .match_id'`,
    ],
  }, runList);
  const replay = dlqSubcommand(
    "replay",
    "move dead letters back to match.telemetry.{env}, where they get a fresh delivery count",
  )
    .addOption(new Option("--dry-run", "print the dead letters that would be replayed; move none"))
    .addOption(json("print JSON (with --dry-run, one object per dead letter too)"))
    .addOption(confirmTimeoutOption());
  add(replay, {
    about: `Each dead letter is published to match.telemetry.{env} (persistent, confirmed;
body, headers and properties unchanged) before it leaves the DLQ: a crash can
leave a job in both queues, never in neither. The rest stays in order.`,
    examples: [
      "telemetry dlq replay --env prod --kind transient,redelivered --dry-run",
      `telemetry dlq replay --env prod --error-contains "HTTP 503" --older-than 2h --limit 500`,
    ],
  }, runReplay);
  const exporter = dlqSubcommand(
    "export",
    "write dead letters (body, headers, properties) to NDJSON, leaving them in the queue",
  ).addOption(
    new Option("-o, --output <file>", "the NDJSON file (written atomically), or - for stdout")
      .makeOptionMandatory(),
  );
  add(exporter, {
    about: `One JSON object per line: {"body": …, "body_encoding": "utf8"|"base64",
"headers": {…}, "properties": {…}}; the queue is left as it was. A file is
written as .<file>.<hex>.partial beside it, renamed when complete, removed on
an error or a stop; with -o - a slow reader pauses the export.`,
    examples: [
      "telemetry dlq export --env prod -o dlq-prod.ndjson",
      `telemetry dlq export --env prod --kind permanent -o - | jq -r '.headers["x-error"]' | sort | uniq -c`,
    ],
  }, runExport);
  const purge = dlqSubcommand("purge", "delete dead letters for good (needs --yes)")
    .addOption(new Option("--yes", "really delete them (without it: say how many, exit 2)"))
    .addOption(json("print the summary as JSON"));
  add(purge, {
    about: `Without --yes nothing is deleted: purge says how many dead letters would go and
exits 2. Export them first if in doubt (telemetry dlq export … -o FILE).`,
    examples: ["telemetry dlq purge --env prod --kind permanent --older-than 14d --yes"],
  }, runPurge);
  return dlq;
}

const FILTER_HELP = `Filters (all optional, combined with AND; --older-than/--newer-than compare
x-failed-at with now, in s, m, h, d or w; --limit 100: the first 100 that match).`;

const EXIT_HELP = `Exit codes: 0 done; 1 the broker was unreachable or lost, the queue does not
exist (wrong --env?), or another client is reading it; 2 usage error; 130/143
stopped by Ctrl-C/SIGTERM (what was done stays done, the rest stays in place).`;

/**
 * Validates the shared flags and resolves the broker settings.
 *
 * @param flags The parsed flags.
 * @param env The environment variables.
 * @returns The broker, the filter and the limit.
 * @throws {TelemetryError} kind `usage` for a bad `--env`/`--amqp-url`, or filters that select nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toDlqSelection } from "./dlq.ts";
 * const selection = toDlqSelection({ env: "prod", kind: ["transient"], olderThan: 60_000 }, {});
 * assert.equal(selection.broker.names.deadLetterQueue, "dlq.telemetry.prod");
 * ```
 */
export function toDlqSelection(
  flags: DlqFilterFlags,
  env: Record<string, string | undefined>,
): DlqSelection {
  const broker = resolveBrokerSettings({ env: flags.env, amqpUrl: flags.amqpUrl }, env);
  const { kind: kinds, matchId: matchIds, errorContains } = flags;
  const times = { olderThanMs: flags.olderThan, newerThanMs: flags.newerThan };
  return {
    broker,
    filter: checkFilter({ kinds, matchIds, errorContains, ...times }),
    limit: flags.limit,
  };
}

/** Resolves the selection, then runs the subcommand with a stop signal (Ctrl-C exits 130). */
async function runDlq<F extends DlqFilterFlags>(flags: F, run: Run<F>): Promise<ExitCodeValue> {
  let selection: DlqSelection;
  try {
    selection = toDlqSelection(flags, Deno.env.toObject());
  } catch (err) {
    return startFailure(processIo, err);
  }
  return await withInterrupt(undefined, async (signal, stopped) => {
    const code = await run(flags, { ...selection, signal }, processIo);
    return code === ExitCode.Failed ? stopped() ?? code : code;
  });
}

async function runList(flags: DlqFilterFlags & JsonFlag, options: Selected, io: CommandIo) {
  const match = isFiltered(options.filter) || options.limit !== undefined ? " match" : "";
  return await readLetters(io, options, {
    what: "list",
    after: () => "the queue is unchanged (list removes nothing)",
    line: (s) =>
      s.total === 0
        ? `no dead letters in ${s.queue}`
        : `${ofTotal(s.done, s.total)} in ${s.queue}${match}`,
    json: flags.json === true ? (s) => ({ listed: s.done }) : undefined,
  });
}

async function runReplay(
  flags: DlqFilterFlags & JsonFlag & { dryRun?: true; confirmTimeout: number },
  options: Selected,
  io: CommandIo,
) {
  const target = options.broker.names.queue;
  const json = flags.json === true;
  if (flags.dryRun === true) {
    return await readLetters(io, options, {
      what: "dry run",
      after: () => "nothing was changed",
      line: (s) =>
        `dry run: would replay ${ofTotal(s.matched, s.total)} from ${s.queue} to ${target} ` +
        "(nothing changed)",
      json: json ? () => ({ dryRun: true, replayed: 0, target }) : undefined,
    });
  }
  const { replayDeadLetters } = await import("../queue/dlq.ts");
  const confirmTimeoutMs = Math.round(flags.confirmTimeout * 1000);
  const summary = await withBar(
    io,
    "replay",
    (onProgress) => replayDeadLetters({ ...options, confirmTimeoutMs, onProgress }),
  );
  return endDlqRun(io, summary, {
    what: "replay",
    after: (s) => {
      const doubled = s.done - s.removed;
      const both = `; ${doubled} more were copied to ${target} but are still in the DLQ too`;
      return `replayed ${s.removed} (now in ${target})${doubled > 0 ? both : ""}`;
    },
    line: (s) => `replayed ${ofTotal(s.removed, s.total)} from ${s.queue} to ${target}`,
    json: json ? (s) => ({ replayed: s.removed, target }) : undefined,
    removes: { where: " in the DLQ" },
  });
}

async function runExport(
  flags: DlqFilterFlags & { output: string },
  options: Selected,
  io: CommandIo,
) {
  const { output } = flags;
  const toStdout = output === "-";
  const lost = `${toStdout ? "the output is incomplete" : `${output} was not written`}; ` +
    "the queue is unchanged";
  const { scanDeadLetters } = await import("../queue/dlq.ts");
  const read = (write: (line: string) => Promise<void>) =>
    withBar(toStdout ? undefined : io, "export", (onProgress) =>
      scanDeadLetters({
        ...options,
        onProgress,
        onDeadLetter: ({ message }) => write(JSON.stringify(exportRecord(message))),
      }));
  const complete = (summary: DlqSummary) => summary.failure === undefined;
  const { read: summary, error } = await writeExport(output, read, {
    complete,
    signal: options.signal,
  });
  if (error?.kind === "open") io.error(`error: cannot write ${output}: ${error.message}`);
  if (error?.kind === "write") io.error(`error: export failed: ${error.message}; ${lost}`);
  if (summary === undefined) return ExitCode.Failed;
  return endDlqRun(io, summary, {
    what: "export",
    after: () => lost,
    line: (s) =>
      `exported ${ofTotal(s.done, s.total)} from ${s.queue} to ${toStdout ? "stdout" : output}`,
    // On stdout the summary would mix with the records: it goes to stderr then.
    lineTo: (line) => toStdout ? io.error(line) : io.print(line),
  });
}

async function runPurge(
  flags: DlqFilterFlags & JsonFlag & { yes?: true },
  options: Selected,
  io: CommandIo,
) {
  const { purgeDeadLetters, scanDeadLetters } = await import("../queue/dlq.ts");
  if (flags.yes !== true) {
    // Counting is a read of the queue, which leaves it as it was.
    const { failure, matched, total, queue } = await scanDeadLetters(options);
    const which = isFiltered(options.filter) ? "match" : "are";
    const how = failure === undefined
      ? `run it again with --yes to remove the ${ofTotal(matched, total)} that ${which} in ${queue}`
      : `run it again with --yes (could not count them: ${failure.message})`;
    io.error(`error: purge deletes dead letters for good: ${how}`);
    return ExitCode.Usage;
  }
  const summary = await withBar(
    io,
    "purge",
    (onProgress) => purgeDeadLetters({ ...options, onProgress }),
  );
  return endDlqRun(io, summary, {
    what: "purge",
    after: (s) => `removed ${s.removed}`,
    line: (s) => `removed ${ofTotal(s.removed, s.total)} from ${s.queue}`,
    json: flags.json === true ? (s) => ({ removed: s.removed }) : undefined,
    removes: { where: "" },
  });
}

/** `list` and `replay --dry-run`: one read of the queue, printing each dead letter. */
async function readLetters(io: CommandIo, options: DlqOptions, ending: DlqEnding) {
  const { scanDeadLetters } = await import("../queue/dlq.ts");
  const onDeadLetter = letterPrinter(io, ending.json !== undefined);
  const summary = await scanDeadLetters({ ...options, onDeadLetter });
  return endDlqRun(io, summary, { ...ending, letters: true });
}

/** Runs `run` with a progress bar on a terminal's stderr (none without `io`), then ends the bar. */
async function withBar(
  io: CommandIo | undefined,
  label: "export" | "replay" | "purge",
  run: (onProgress: ((p: DlqProgress) => void) | undefined) => Promise<DlqSummary>,
): Promise<DlqSummary> {
  const bar = io && terminalBar(io, { label, unit: "items" });
  const verb = { export: "exported", replay: "replayed", purge: "removed" }[label];
  try {
    return await run(bar && ((p) => bar.update(p.scanned, p.total, `${verb} ${p.done}`)));
  } finally {
    bar?.finish();
  }
}
