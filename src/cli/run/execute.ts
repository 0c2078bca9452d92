/**
 * The loop of `sluice run`: pulls outcomes from the executor and writes one line each (rejected
 * input records too), as they arrive. Every wait is raced against the stopper, so a run whose
 * tasks ignore the abort cannot hold the command: it stops waiting and reports what it saw.
 *
 * A journaled run skips the tasks its journal holds as settled, and hands each line to the sink
 * with its task's record (key, position, state) and, for a failure, its dead-letter line. A task
 * aborted by a signal or left behind is no outcome: nothing is written or recorded for it. The
 * suspects of a crash run alone, each committed as in flight before it starts (tasks.ts).
 */
import type { Executor, ExecutorStats, Job, Outcome, TaskRecord } from '../../index.js';
import type { SluiceInputRecordError } from '../errors.js';
import { deadLetterLine } from '../io/dead-letter.js';
import type { InputFormat } from '../io/open-input.js';
import { inputErrorLine, outcomeLine } from '../io/outcome-line.js';
import type { JournalEntry, OutcomeSink } from '../io/output.js';
import type { MetricsServer } from '../observe/metrics.js';
import { messageOf } from '../message.js';
import { createTaskPlaces, type TaskPlaces } from './places.js';
import { FORCED, type Stopper } from './stop.js';
import { taskSource, type Isolation, type TaskPlace } from './tasks.js';

/** The outcomes written so far; read by the progress display and the summary. */
export interface RunCounts {
  completed: number;
  failed: number;
  rejected: number;
}

export interface ExecuteOptions {
  readonly job: Job;
  readonly executor: Executor;
  readonly input: { readonly file?: string | undefined; readonly format: InputFormat; readonly limit?: number | undefined };
  readonly sink: OutcomeSink;
  readonly metrics?: MetricsServer | undefined;
  readonly stopper: Stopper;
  readonly counts: RunCounts;
  /** A rejected input record, after its line is written. */
  readonly onRejected: (error: SluiceInputRecordError) => void;
  /**
   * The output line of an outcome (`fileLine`: its task's line in the input file); undefined
   * writes none. @default outcomeLine, `sluice run`'s format
   */
  readonly line?: (outcome: Outcome, fileLine: number | undefined) => string | undefined;
  /** A journaled run: the open tasks' places (for the keys in flight), and which records are settled already. */
  readonly journal?: ExecuteJournal | undefined;
}

export interface ExecuteJournal {
  readonly places: TaskPlaces;
  readonly skip?: ((position: number, key: string, record: unknown) => boolean) | undefined;
  /** The keys of the suspects of a crash (in flight at one, not settled: `Journal.suspects()`), each run alone. */
  readonly suspects?: ReadonlySet<string> | undefined;
  /** Commits the pending lines and the keys in flight now (the journaled sink's `checkpoint`). */
  readonly checkpoint?: (() => void) | undefined;
  /** The most outcomes one commit holds (the sink's batch size). */
  readonly commitSize: number;
}

export interface Executed {
  /** What ended the iteration early: the run's rejection, or what writing or `onOutcome` threw. */
  readonly error?: unknown;
  /** The command stopped waiting for a run that did not stop after its abort. */
  readonly stuck: boolean;
  /** The whole input was read, and every task pulled from it has its outcome. */
  readonly complete: boolean;
}

export async function execute(options: ExecuteOptions): Promise<Executed> {
  const { job, executor, input, sink, metrics, stopper, counts, journal } = options;
  const places = journal?.places ?? createTaskPlaces();
  let inputDone = false;
  const isolating = journal?.checkpoint === undefined ? undefined : isolation(journal, stopper, executor);
  const tasks = taskSource({
    job,
    file: input.file,
    format: input.format,
    limit: input.limit,
    skip: journal?.skip,
    onRejected(record) {
      counts.rejected += 1;
      const entry = journal === undefined ? undefined : rejectedEntry(record);
      sink.write(inputErrorLine(record), entry);
      metrics?.recordOutcome({ ok: false, stage: 'input' });
      options.onRejected(record.error);
    },
    onTask: (place) => places.pulled(place),
    onEnd() {
      inputDone = true;
    },
    isolation: isolating?.isolation,
  });

  // The key of each task reaches its stages as ctx.key (where the executor takes a key option).
  const runOptions = {
    signal: stopper.abort,
    drain: stopper.drain,
    key(_task: unknown, index: number): string {
      const place = places.get(index);
      return place?.badKey !== undefined ? place.badKey() : (place?.key ?? String(index));
    },
  };
  const run = executor.run(tasks, runOptions);
  const over = (stuck: boolean, failure?: unknown): Executed => {
    // A commit of the isolation failed: the input ended there, and the run reports why.
    const error = failure ?? isolating?.failure();
    isolating?.release();
    return {
      ...(error !== undefined ? { error } : {}),
      stuck,
      complete: !stuck && error === undefined && inputDone && places.open === 0,
    };
  };
  for (;;) {
    let next: IteratorResult<Outcome> | typeof FORCED;
    try {
      next = await stopper.race(run.next());
    } catch (error) {
      // The run has settled: it rejects only after what was in flight stopped.
      return over(false, error);
    }
    if (next === FORCED) return over(true);
    if (next.done === true) return over(false);
    const outcome = next.value;
    try {
      const place = places.take(outcome.index);
      const text = options.line
        ? options.line(outcome, place?.line)
        : outcomeLine(place === undefined || place.index === outcome.index ? outcome : { ...outcome, index: place.index }, lineOf(place));
      if (text !== undefined) sink.write(text, journal !== undefined && place !== undefined ? outcomeEntry(place, outcome) : undefined);
      if (outcome.ok) counts.completed += 1;
      else counts.failed += 1;
      metrics?.recordOutcome(outcome.ok ? { ok: true } : { ok: false, stage: outcome.stage });
      const hook = job.onOutcome?.(outcome);
      if (hook !== undefined && (await stopper.race(Promise.resolve(hook))) === FORCED) return over(true);
    } catch (error) {
      // Stop the run as leaving a for-await loop would, but wait for it no longer than an abort.
      stopper.expire();
      const stopped = await stopper.race<unknown>(run.return?.() ?? Promise.resolve()).catch(() => undefined);
      return over(stopped === FORCED, error);
    }
  }
}

/**
 * The first tasks of a resume after a crash (one with suspects) each committed as in flight when
 * pulled (tasks.ts): more than a commit's outcomes plus the tasks in flight beside them (the
 * pipeline's window: its stages' capacities and buffers, which grow as batches and limits do), so
 * that a task that crashed the run before a commit recorded it is on record at its next turn. A
 * commit each, at the start only, and at least this many. Any other journaled run records its
 * first task so.
 */
const RECORD_FIRST_AFTER_CRASH = 256;

/** The most tasks the pipeline holds now: its stages' capacities and its buffers' bounds. */
function windowOf(stats: ExecutorStats): number {
  let n = 0;
  for (const s of stats.stages) n += s.capacity;
  for (const b of stats.buffers) n += b.bound;
  return n;
}

/**
 * The isolation of suspects (tasks.ts) over this run's places and journal: `idle` gives up at the
 * run's first stop signal or its end (`release`), and a failed checkpoint is kept for the report.
 */
function isolation(
  journal: ExecuteJournal,
  stopper: Stopper,
  executor: Executor,
): { readonly isolation: Isolation; failure(): unknown; release(): void } {
  const { places, suspects, checkpoint } = journal;
  let release!: () => void;
  const released = new Promise<false>((resolve) => {
    release = () => resolve(false);
  });
  for (const signal of [stopper.drain, stopper.abort]) {
    if (signal.aborted) release();
    else signal.addEventListener('abort', () => release(), { once: true });
  }
  let failure: unknown;
  return {
    isolation: {
      recordFirst:
        suspects !== undefined && suspects.size > 0
          ? () => Math.max(RECORD_FIRST_AFTER_CRASH, journal.commitSize + windowOf(executor.stats()))
          : () => 1,
      isSuspect: (key) => suspects?.has(key) === true,
      idle: () => Promise.race([places.idle().then(() => true), released]),
      checkpoint() {
        try {
          checkpoint!();
          return true;
        } catch (error) {
          failure = error;
          return false;
        }
      },
    },
    failure: () => failure,
    release,
  };
}

function lineOf(place: TaskPlace | undefined): { line: number } | undefined {
  return place?.line !== undefined ? { line: place.line } : undefined;
}

/** What a journal records for an outcome: done, or failed with its cause and a dead-letter line. */
function outcomeEntry(place: TaskPlace, outcome: Outcome): JournalEntry {
  if (outcome.ok) return { record: { key: place.key, position: place.position, state: 'done', attempts: 1 } };
  const record: TaskRecord = {
    key: place.key,
    position: place.position,
    state: 'failed',
    attempts: outcome.attempts,
    cause: causeOf(outcome.error),
  };
  return { record, deadLetter: deadLetterLine(place, outcome) };
}

function rejectedEntry(rejected: { line: number; error: SluiceInputRecordError; position: number; key: string }): JournalEntry {
  const { line, error, position, key } = rejected;
  return {
    record: { key, position, state: 'failed', attempts: 1, cause: causeOf(error) },
    deadLetter: deadLetterLine({ key, position, line, record: error.received }, { stage: 'input', attempts: 1, error }),
  };
}

/** An error's code and message, for the journal. */
function causeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `${code}: ${messageOf(error)}` : messageOf(error);
}
