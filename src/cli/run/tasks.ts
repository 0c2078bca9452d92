/**
 * The tasks of a `sluice run`: the records of an input file (each through the job's `parse`, if
 * any) or the job's own input, cut to `limit`. A record that cannot be read or parsed is handed
 * to `onRejected` with its line number and skipped; the rest of the input still runs. Lazy: a
 * record is read only when the executor pulls a task.
 */
import type { Job } from '../../index.js';
import { SluiceInputRecordError } from '../errors.js';
import { openInput, type InputRecord } from '../io/open-input.js';

export interface TaskSourceOptions {
  readonly job: Job;
  /** An input file; else the job's `input`. */
  readonly file?: string | undefined;
  readonly format: 'auto' | 'jsonl' | 'csv';
  /** Stop after this many tasks. */
  readonly limit?: number | undefined;
  /** A record that was skipped: reported to the output, counted as failed. */
  onRejected(record: { readonly line: number; readonly error: SluiceInputRecordError }): void;
  /** The line of each task taken from a file, in the order they are pulled. */
  onTask?(line: number | undefined): void;
}

export function taskSource(options: TaskSourceOptions): AsyncIterable<unknown> {
  const { limit, onTask } = options;
  return {
    async *[Symbol.asyncIterator]() {
      if (limit !== undefined && limit <= 0) return;
      let taken = 0;
      for await (const { task, line } of tasksOf(options)) {
        onTask?.(line);
        yield task;
        taken += 1;
        if (limit !== undefined && taken >= limit) return;
      }
    },
  };
}

/** Every task with its file line (none for the job's own input); rejected records go to `onRejected`. */
async function* tasksOf(options: TaskSourceOptions): AsyncGenerator<{ readonly task: unknown; readonly line?: number }> {
  const { job, file, format, onRejected } = options;
  if (file === undefined) {
    const input = typeof job.input === 'function' ? job.input() : job.input;
    if (input === undefined) return;
    for await (const task of input as AsyncIterable<unknown>) yield { task };
    return;
  }
  for await (const record of openInput(file, format) as AsyncIterable<InputRecord>) {
    if ('error' in record) {
      onRejected(record);
      continue;
    }
    if (!job.parse) {
      yield { task: record.task, line: record.line };
      continue;
    }
    let task: unknown;
    try {
      task = job.parse(record.task, record.line);
    } catch (error) {
      onRejected({
        line: record.line,
        error: new SluiceInputRecordError(file, record.line, "a record the job's parse() accepts", record.task, error),
      });
      continue;
    }
    yield { task, line: record.line };
  }
}

/** The number of tasks when it can be known up front without reading a file (an array input). */
export function knownJobInputSize(job: Job, limit: number | undefined): number | undefined {
  const input = job.input;
  if (!Array.isArray(input)) return undefined;
  return limit === undefined ? input.length : Math.min(limit, input.length);
}
