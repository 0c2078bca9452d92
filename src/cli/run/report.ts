/**
 * How a `sluice run` ends: the pending lines of a journaled output written and committed (and the
 * journal told the run finished, when the whole input went through), then what the user sees:
 * the errors, the summary, and the exit code.
 */
import { SluiceAbortError, type ExecutorStats, type JournalStatus } from '../../index.js';
import type { SluiceConfig } from '../config/schema.js';
import type { CliIo } from '../io.js';
import type { JournaledSink } from '../io/journaled-output.js';
import type { OutcomeSink } from '../io/output.js';
import { messageOf } from '../message.js';
import type { LogMode } from '../observe/reporter.js';
import type { Executed, RunCounts } from './execute.js';
import { EXIT } from './exit.js';
import { jobErrorLines, jobErrorOf } from './job-error.js';
import type { RunJournal } from './run-output.js';
import type { Stopper } from './stop.js';
import { formatSummary, interruptedTasks } from './summary.js';

/**
 * Writes the pending lines of the output before anything closes. A journaled output commits them
 * with no key in flight (a task that was interrupted is no crash), and when the whole input went
 * through, tells the journal the run finished. @returns what ended the run early: the run's own
 * error, or a failed write or commit (so that a last batch that fails is no success).
 */
export function endOutput(sink: OutcomeSink, journaled: JournaledSink | undefined, result: Executed): unknown {
  if (journaled === undefined) {
    try {
      sink.flush();
    } catch (error) {
      return result.error ?? error;
    }
    return result.error;
  }
  return endJournal(journaled, result);
}

function endJournal(sink: JournaledSink, result: Executed): unknown {
  if (sink.failure !== undefined) return result.error ?? sink.failure;
  try {
    if (result.complete) sink.finish();
    else sink.flush(true);
  } catch (error) {
    return result.error ?? error;
  }
  return result.error;
}

/** A retry whose run had ended before it was killed: its output was put in place, and there was nothing to run. */
export function reportReplaced(io: CliIo, output: string, status: JournalStatus): number {
  io.err(
    `sluice run: the retry of the failed tasks of ${output} had run them all; its output is in place now ` +
      `(${status.done} done, ${status.failed} failed${status.dead > 0 ? `, ${status.dead} dead` : ''})`,
  );
  return status.failed > 0 ? EXIT.failed : EXIT.ok;
}

export interface RunReport {
  readonly io: CliIo;
  readonly logMode: LogMode;
  readonly job: string;
  readonly config: SluiceConfig;
  readonly elapsedMs: number;
  readonly counts: RunCounts;
  readonly stats: ExecutorStats;
  readonly sink: OutcomeSink;
  readonly journal: RunJournal | undefined;
  readonly stopper: Stopper;
  /** What ended the run early, if anything did. */
  readonly error: unknown;
  /** The closing line about rejected records not shown, if any. */
  readonly rest: string | undefined;
}

/** Prints the errors and the summary; returns the exit code. */
export function reportRun(r: RunReport): number {
  const { io, counts, stats, stopper, journal } = r;
  const error = r.error instanceof SluiceAbortError ? undefined : r.error;
  const jobError = jobErrorOf(error);
  if (r.rest !== undefined) io.err(r.rest);
  if (jobError !== undefined) for (const line of jobErrorLines(jobError)) io.err(line);
  else if (error !== undefined) io.err(`sluice run: the run ended early: ${messageOf(error)}`);
  if (error !== undefined && journal !== undefined && jobError === undefined) {
    io.err(`sluice run: the journal holds every batch written before that; run again with --resume to go on`);
  }
  if (r.logMode !== 'none') {
    const summary = formatSummary(
      {
        job: r.job,
        elapsedMs: r.elapsedMs,
        completed: counts.completed,
        failed: counts.failed,
        rejected: counts.rejected,
        interrupted: interruptedTasks(stats, counts.completed, counts.failed),
        stats,
        output: r.config.output,
        lines: r.sink.lines,
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        ...(stopper.interruptedBy !== undefined ? { interruptedBy: stopper.interruptedBy } : {}),
        ...(stopper.forced ? { forced: true } : {}),
        ...(error !== undefined ? { error } : {}),
        ...(journal !== undefined
          ? {
              journal: {
                dir: journal.plan.dir,
                resumed: journal.plan.mode === 'resume' && !journal.retry,
                retry: journal.retry,
                skipped: journal.skipped,
                deadLetter: journal.deadLetters.path,
                deadLetters: journal.deadLetters.count,
              },
            }
          : {}),
      },
      r.logMode === 'json',
    );
    for (const line of summary) io.err(line);
  }
  if (jobError !== undefined) return EXIT.usage;
  if (stopper.interruptedBy !== undefined) return EXIT.interrupted;
  // A resume's output also holds the failures of the runs before it: those count too.
  const failed = counts.failed + counts.rejected + (journal?.failedBefore ?? 0);
  return failed > 0 || error !== undefined ? EXIT.failed : EXIT.ok;
}
