/**
 * `sluice enqueue JOB [--input FILE] [--limit N] --queue NAME`: puts a job's tasks on a queue, for
 * `sluice worker` to run. The tasks are those `sluice run` would run (the input file's records
 * through the job's `parse`, else the job's own input), keyed as `sluice run` keys them (the job's
 * `key`, else the position) and numbered alike (index, line), so `sluice results` writes the lines
 * `sluice run` would. The queue records the job (its name and the fingerprint of its module) at the
 * first enqueue; an enqueue of another job onto it is refused. A task already on the queue is not
 * added again: re-running the same enqueue adds nothing.
 *
 * Prints one line on stdout (`--log json`: one JSON object). A record that cannot be read, that
 * the job's `parse` rejects, or whose task has no key or is not JSON is reported on stderr with its
 * line and skipped. Exit 0; 1 when a record was skipped; 2 for a refusal (usage, config, job,
 * queue, Redis unreachable); 130 when a signal stopped it (what was added stays).
 */
import { describeConnection, enqueueEntries, type EnqueueResult, type Job, type QueueEntry } from '../../index.js';
import { SluiceInputRecordError } from '../errors.js';
import type { CliIo } from '../io.js';
import { probeInput } from '../io/open-input.js';
import { loadJob } from '../job/load.js';
import { messageOf } from '../message.js';
import { RUN_DEFAULTS } from '../run/defaults.js';
import { EXIT } from '../run/exit.js';
import { createRejectLog } from '../run/rejects.js';
import { taskSource, type TaskPlace } from '../run/tasks.js';
import { queueJobIdentity, type ParsedQueueArgs, type QueueCommandSpec } from './args.js';
import { runQueueCommand, type QueueCommandContext } from './command.js';

const USAGE_LINE = 'Usage: sluice enqueue JOB --queue NAME [--input FILE] [options]';

const SPEC: QueueCommandSpec = {
  runFlags: ['input', 'input-format', 'limit', 'log', 'config'],
  queueFlags: ['queue', 'redis', 'prefix'],
};

const HELP = [
  USAGE_LINE,
  '',
  "Puts the job's tasks on a queue for `sluice worker JOB` to run: the records of --input through the job's",
  "parse(), else the job's own input; each keyed by the job's key(task), else its position. A task already on",
  'the queue is not added again. The queue is tied to the job (its name and module file) at the first enqueue.',
  'Prints one line of counts on stdout (--log json: one JSON object). Exit codes: 0 enqueued, 1 some input records',
  'were skipped (listed on stderr with their lines), 2 refused, 130 interrupted (what was added stays).',
  '',
];

/** Line numbers listed, at most, for the skipped records not shown in full. */
const MORE_LINES_SHOWN = 20;

export async function enqueueCommand(argv: readonly string[], rawIo: CliIo): Promise<number> {
  const check = (parsed: ParsedQueueArgs): string | undefined =>
    parsed.positionals.length === 1 ? undefined : `expected one job module, got ${parsed.positionals.length}`;
  const def = { name: 'enqueue', spec: SPEC, help: HELP, usage: USAGE_LINE, check };
  return runQueueCommand(argv, rawIo, def, (context) => enqueueJob(rawIo, context));
}

async function enqueueJob(rawIo: CliIo, { io, parsed, config, target }: QueueCommandContext): Promise<number> {
  const cwd = rawIo.cwd ?? process.cwd();
  const jobFile = parsed.positionals[0]!;
  let restoreStdout: (() => void) | undefined;
  try {
    if (config.input !== undefined) await probeInput(config.input, config.inputFormat);
    // stdout carries the summary: what the job module prints as it loads goes to stderr.
    restoreStdout = rawIo.redirectStdout?.();
    const { job, path } = await loadJob(jobFile, cwd);
    const identity = await queueJobIdentity(job, path);

    const stop = new AbortController();
    const unsubscribe = io.onSignal?.((signal) => {
      if (!stop.signal.aborted) io.err(`sluice enqueue: ${signal}: stopping after this chunk (what was added stays on the queue)`);
      stop.abort();
    });
    const skipped = createSkipped(io, config.input);
    let result: EnqueueResult;
    try {
      const source = entriesOf(job, config.input, config.inputFormat, config.limit, skipped);
      result = await enqueueEntries(identity, source.entries, {
        ...target,
        signal: stop.signal,
        onRejected: ({ position, error }) => skipped.task(source.placeOf(position), position, error),
      });
    } finally {
      unsubscribe?.();
    }
    const rejected = skipped.count;
    skipped.end();
    const shownAs = describeConnection(target.connection);
    if (config.log === 'json') {
      io.out(
        JSON.stringify({
          queue: target.queue,
          redis: shownAs,
          prefix: target.prefix,
          job: identity.name,
          runId: result.runId,
          added: result.added,
          existing: result.existing,
          rejected,
          complete: result.complete,
        }),
      );
    } else {
      io.out(
        `enqueued ${result.added} new task(s) on queue ${target.queue} at ${shownAs} (${result.existing} already there, ${rejected} rejected)`,
      );
    }
    if (!result.complete) {
      io.err('sluice enqueue: interrupted: the rest of the input was not enqueued; run the same enqueue again to add it');
      return EXIT.interrupted;
    }
    return rejected > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    restoreStdout?.();
  }
}

interface Skipped {
  /** A record of the input file that was not read or parsed. */
  record(error: SluiceInputRecordError): void;
  /** A task that cannot go on the queue (no key, not JSON). */
  task(place: TaskPlace | undefined, position: number, error: unknown): void;
  /** Writes the closing line when some were not shown. */
  end(): void;
  readonly count: number;
}

/** Skipped records on stderr as `sluice run` shows them (the first few in full), then the others' lines. */
function createSkipped(io: CliIo, file: string | undefined): Skipped {
  const log = createRejectLog((line) => io.err(line), RUN_DEFAULTS.rejectsShown);
  const more: string[] = [];
  let count = 0;
  const add = (error: SluiceInputRecordError | undefined, text: string): void => {
    count += 1;
    if (count > RUN_DEFAULTS.rejectsShown) more.push(text);
    else if (error !== undefined) log.add(error);
    else io.err(`sluice: skipped ${text}`);
  };
  return {
    record(error) {
      add(error, `line ${error.line}`);
    },
    task(place, position, error) {
      const line = place?.line;
      if (file !== undefined && line !== undefined) {
        const expected = 'a task that can go on a queue (a non-empty string key, a JSON value)';
        add(new SluiceInputRecordError(file, line, expected, place?.record, error), `line ${line}`);
      } else add(undefined, `task #${position} of the job's input: ${messageOf(error)}`);
    },
    end() {
      if (more.length === 0) return;
      const listed = more.slice(0, MORE_LINES_SHOWN).join(', ');
      const rest = more.length > MORE_LINES_SHOWN ? `, and ${more.length - MORE_LINES_SHOWN} more` : '';
      io.err(`sluice: ${more.length} more input record(s) were skipped: ${listed}${rest}`);
    },
    get count() {
      return count;
    },
  };
}

interface Entries {
  readonly entries: AsyncIterable<QueueEntry>;
  /** The place of the entry at `position` if it is the last one pulled (where `enqueueEntries` rejects one). */
  placeOf(position: number): TaskPlace | undefined;
}

/**
 * The job's tasks as queue entries, as `sluice run` takes them (tasks.ts): a task whose key
 * failed is skipped here, since its job id cannot be made.
 */
function entriesOf(
  job: Job,
  file: string | undefined,
  format: 'auto' | 'jsonl' | 'csv',
  limit: number | undefined,
  skipped: Skipped,
): Entries {
  let last: TaskPlace | undefined;
  const tasks = taskSource({
    job,
    file,
    format,
    limit,
    onRejected: (record) => skipped.record(record.error),
    onTask: (place) => {
      last = place;
    },
  });
  return {
    entries: {
      async *[Symbol.asyncIterator]() {
        for await (const task of tasks) {
          const place = last!;
          if (place.badKey !== undefined) {
            let error: unknown;
            try {
              error = new Error(`key(task) returned ${JSON.stringify(place.badKey()) ?? 'undefined'}, not a non-empty string`);
            } catch (thrown) {
              error = new Error(`key(task) threw: ${messageOf(thrown)}`, { cause: thrown });
            }
            skipped.task(place, place.position, error);
            continue;
          }
          yield { key: place.key, position: place.position, index: place.index, line: place.line, task };
        }
      },
    },
    placeOf: (position) => (last?.position === position ? last : undefined),
  };
}
