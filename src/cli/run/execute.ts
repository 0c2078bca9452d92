/**
 * The loop of `sluice run`: pulls outcomes from the executor and writes one line each (rejected
 * input records too), as they arrive. Every wait is raced against the stopper, so a run whose
 * tasks ignore the abort cannot hold the command: it stops waiting and reports what it saw.
 */
import type { Executor, Job, Outcome } from '../../index.js';
import type { SluiceInputRecordError } from '../errors.js';
import type { InputFormat } from '../io/open-input.js';
import { inputErrorLine, outcomeLine } from '../io/outcome-line.js';
import type { OutcomeSink } from '../io/output.js';
import type { MetricsServer } from '../observe/metrics.js';
import { FORCED, type Stopper } from './stop.js';
import { taskSource } from './tasks.js';

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
}

export interface Executed {
  /** What ended the iteration early: the run's rejection, or what writing or `onOutcome` threw. */
  readonly error?: unknown;
  /** The command stopped waiting for a run that did not stop after its abort. */
  readonly stuck: boolean;
}

export async function execute(options: ExecuteOptions): Promise<Executed> {
  const { job, executor, input, sink, metrics, stopper, counts } = options;
  // The file line of each open task: the executor numbers tasks in pull order, from 0.
  const lineOf = new Map<number, number>();
  let pulled = 0;
  const tasks = taskSource({
    job,
    file: input.file,
    format: input.format,
    limit: input.limit,
    onRejected(record) {
      counts.rejected += 1;
      sink.write(inputErrorLine(record));
      metrics?.recordOutcome({ ok: false, stage: 'input' });
      options.onRejected(record.error);
    },
    onTask(line) {
      if (line !== undefined) lineOf.set(pulled, line);
      pulled += 1;
    },
  });

  const run = executor.run(tasks, { signal: stopper.abort, drain: stopper.drain });
  for (;;) {
    let next: IteratorResult<Outcome> | typeof FORCED;
    try {
      next = await stopper.race(run.next());
    } catch (error) {
      // The run has settled: it rejects only after what was in flight stopped.
      return { error, stuck: false };
    }
    if (next === FORCED) return { stuck: true };
    if (next.done === true) return { stuck: false };
    const outcome = next.value;
    try {
      const line = lineOf.get(outcome.index);
      lineOf.delete(outcome.index);
      const text = options.line ? options.line(outcome, line) : outcomeLine(outcome, line !== undefined ? { line } : undefined);
      if (text !== undefined) sink.write(text);
      if (outcome.ok) counts.completed += 1;
      else counts.failed += 1;
      metrics?.recordOutcome(outcome.ok ? { ok: true } : { ok: false, stage: outcome.stage });
      const hook = job.onOutcome?.(outcome);
      if (hook !== undefined && (await stopper.race(Promise.resolve(hook))) === FORCED) return { stuck: true };
    } catch (error) {
      // Stop the run as leaving a for-await loop would, but wait for it no longer than an abort.
      stopper.expire();
      const stopped = await stopper.race<unknown>(run.return?.() ?? Promise.resolve()).catch(() => undefined);
      return { error, stuck: stopped === FORCED };
    }
  }
}
