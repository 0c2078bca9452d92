/**
 * The tasks of a `sluice run`: the records of an input file (each through the job's `parse`, if
 * any) or the job's own input, cut to `limit`. A record that cannot be read or parsed is handed
 * to `onRejected` with its line number and skipped; the rest of the input still runs. Lazy: a
 * record is read only when the executor pulls a task.
 *
 * Each record has a position in the input (from 0: a file's records, the rejected ones included,
 * or the job's own tasks) and a key (the job's `key(task)`, else the position as a decimal
 * string): what a journaled run records. A task the journal holds as settled is `skip`ped: it is
 * not pulled, and its index (the task's place among the input's tasks, which outcome lines carry)
 * still counts, so a resumed run numbers its tasks as an uninterrupted run would.
 *
 * A journaled run isolates the suspects of a crash (`Isolation`): a task whose key was in flight
 * at a crash and is not settled waits until nothing is in flight, runs alone, and is committed as in
 * flight before it starts; the next task waits for its outcome. A crash then counts against the
 * suspect alone: a poison task reaches its third crash and is dead, the tasks that were in flight
 * beside it settle as they complete. The suspects come first: they were in flight at the crash, so
 * every task below them in the input is settled (tasks are pulled in input order).
 */
import type { Job } from '../../index.js';
import { SluiceInputRecordError } from '../errors.js';
import { openInput, type InputRecord } from '../io/open-input.js';

/** Where a task comes from: what a run journals for it and writes on its line. */
export interface TaskPlace {
  /** Its record's position in the input, from 0 (a file's rejected records take positions too). */
  readonly position: number;
  /** The job's `key(task)`, else the position as a decimal string. */
  readonly key: string;
  /** Its place among the input's tasks, from 0: the `index` of its outcome line. */
  readonly index: number;
  /** Its line in the input file; undefined for the job's own input. */
  readonly line?: number | undefined;
  /** The input record as read (before the job's `parse`), for the dead-letter file. */
  readonly record: unknown;
  /**
   * The job's `key(task)` threw or returned no non-empty string: what the run's key option gives
   * back for it (the throw again, or the bad value), so the run fails that task alone. Its `key`
   * is then `input@POSITION`.
   */
  readonly badKey?: (() => string) | undefined;
}

/** A rejected record of an input file, with its place. */
export interface RejectedRecord {
  readonly line: number;
  readonly error: SluiceInputRecordError;
  readonly position: number;
  readonly key: string;
}

export interface TaskSourceOptions {
  readonly job: Job;
  /** An input file; else the job's `input`. */
  readonly file?: string | undefined;
  readonly format: 'auto' | 'jsonl' | 'csv';
  /** Stop after this many tasks (settled ones included). */
  readonly limit?: number | undefined;
  /** A record that was skipped: reported to the output, counted as failed. */
  onRejected(record: RejectedRecord): void;
  /** Each task, as it is pulled. */
  onTask?(place: TaskPlace): void;
  /** Whether a record is settled already (a resume): it is passed over, rejected or not. */
  readonly skip?: ((position: number, key: string, record: unknown) => boolean) | undefined;
  /** The input ran out (or reached `limit`): every task of it was pulled or skipped. */
  onEnd?(): void;
  /** A journaled run: how to give the suspects of a crash their turn alone. */
  readonly isolation?: Isolation | undefined;
}

/**
 * How a journaled run isolates suspects. A suspect, the task after one, and the run's first
 * `recordFirst` tasks are each committed as in flight when pulled, before they run. The first
 * ones, because a batch records only the tasks in flight at its commit: a task that crashed the
 * run before the next commit (within 20 ms of its start) was on no record, and is among the first
 * tasks of the resume after the suspects (the tasks below it are settled or suspects), so that its
 * next crash counts against it.
 */
export interface Isolation {
  /**
   * How many of the run's first tasks (suspects aside) are committed as in flight when pulled: read
   * at each of them, since it follows the pipeline's window, which grows as the run starts.
   */
  recordFirst(): number;
  /** Whether the task of this key is a suspect: in flight at a crash, not settled. */
  isSuspect(key: string): boolean;
  /** Resolves true once no task is in flight (their lines written); false once the run pulls no more (a stop). */
  idle(): Promise<boolean>;
  /** Commits the pending lines and the keys in flight now; false when that failed (the run then ends, reporting it). */
  checkpoint(): boolean;
}

/** The key of a task: the job's `key(task)`, with the way to fail the task when it has none. */
type KeyOf = (task: unknown, position: number) => { readonly key: string; readonly badKey?: () => string };

export function keyFunction(job: Job): KeyOf | undefined {
  const key = job.key as ((task: unknown) => unknown) | undefined;
  if (typeof key !== 'function') return undefined;
  return (task, position) => {
    try {
      const value = key(task);
      if (typeof value === 'string' && value.length > 0) return { key: value };
      return { key: `input@${position}`, badKey: () => value as string };
    } catch (error) {
      return {
        key: `input@${position}`,
        badKey: () => {
          throw error;
        },
      };
    }
  };
}

export function taskSource(options: TaskSourceOptions): AsyncIterable<unknown> {
  const { limit, onTask, onRejected, skip, onEnd, isolation } = options;
  const keyOf = keyFunction(options.job);
  return {
    async *[Symbol.asyncIterator]() {
      if (limit !== undefined && limit <= 0) {
        onEnd?.();
        return;
      }
      let position = 0;
      let index = 0;
      /** The last task pulled is a suspect, running alone. */
      let isolating = false;
      /** The first tasks committed as in flight when pulled so far, and whether that start is over. */
      let recorded = 0;
      let started = isolation === undefined;
      for await (const item of tasksOf(options)) {
        const at = position++;
        if ('error' in item) {
          // A rejected record has no task to key: its key is its position (marked when the job keys its tasks).
          const key = keyOf === undefined ? String(at) : `input@${at}`;
          if (skip?.(at, key, item.error.received) !== true) onRejected({ line: item.line, error: item.error, position: at, key });
          continue;
        }
        const { key, badKey } = keyOf === undefined ? { key: String(at), badKey: undefined } : keyOf(item.task, at);
        const taskIndex = index++;
        if (skip?.(at, key, item.record) !== true) {
          const suspect = isolation?.isSuspect(key) === true;
          // A suspect waits until nothing is in flight; the task after it, for its outcome.
          if ((suspect || isolating) && !(await isolation!.idle())) return;
          onTask?.({ position: at, key, index: taskIndex, line: item.line, record: item.record, badKey });
          let first = false;
          if (!started && !suspect) {
            first = recorded < isolation!.recordFirst();
            started = !first;
          }
          // On record as in flight before it runs: a suspect, the task after one, the first ones.
          if (isolation !== undefined && (suspect || isolating || first) && !isolation.checkpoint()) return;
          if (first) recorded += 1;
          isolating = suspect;
          yield item.task;
        }
        if (limit !== undefined && index >= limit) break;
      }
      onEnd?.();
    },
  };
}

type Item =
  | { readonly task: unknown; readonly record: unknown; readonly line?: number }
  | { readonly line: number; readonly error: SluiceInputRecordError };

/** Every record with its file line (none for the job's own input): a task, or why it was rejected. */
async function* tasksOf(options: TaskSourceOptions): AsyncGenerator<Item> {
  const { job, file } = options;
  if (file === undefined) {
    const input = typeof job.input === 'function' ? job.input() : job.input;
    if (input === undefined) return;
    for await (const task of input as AsyncIterable<unknown>) yield { task, record: task };
    return;
  }
  for await (const record of openInput(file, options.format) as AsyncIterable<InputRecord>) {
    if ('error' in record) {
      yield record;
      continue;
    }
    if (!job.parse) {
      yield { task: record.task, record: record.task, line: record.line };
      continue;
    }
    let task: unknown;
    try {
      task = job.parse(record.task, record.line);
    } catch (error) {
      yield {
        line: record.line,
        error: new SluiceInputRecordError(file, record.line, "a record the job's parse() accepts", record.task, error),
      };
      continue;
    }
    yield { task, record: record.task, line: record.line };
  }
}

/** The number of tasks when it can be known up front without reading a file (an array input). */
export function knownJobInputSize(job: Job, limit: number | undefined): number | undefined {
  const input = job.input;
  if (!Array.isArray(input)) return undefined;
  return limit === undefined ? input.length : Math.min(limit, input.length);
}
