/**
 * The summary `sluice run` prints last: a human line, or a JSON line with `--log json`. It
 * accounts for every task the executor pulled: completed, failed, or interrupted (pulled, then
 * aborted by a signal or stopped by an error: not an outcome, so no output line). Rejected input
 * records are counted apart: they never became tasks.
 */
import type { ExecutorStats, LanesStats } from '../../index.js';
import { messageOf } from '../message.js';
import { busyList } from '../observe/ceiling-warning.js';

export interface RunSummary {
  readonly job: string;
  readonly elapsedMs: number;
  readonly completed: number;
  /** Tasks whose outcome failed. */
  readonly failed: number;
  /** Input records that could not be read or parsed. */
  readonly rejected: number;
  /** Tasks pulled that ended with no outcome: `stats.tasks.pulled - completed - failed`. */
  readonly interrupted: number;
  readonly stats: ExecutorStats;
  readonly output: string | undefined;
  /** Lines written to the output. */
  readonly lines: number;
  /** The process's peak resident set size, in bytes. */
  readonly peakRssBytes: number;
  readonly interruptedBy?: string;
  /** The command stopped waiting for tasks that ignored the abort. */
  readonly forced?: boolean;
  /**
   * What ended the run early, other than an interruption (the input threw, a worker module could
   * not load). The command reports it on its own line; only the JSON summary carries it too.
   */
  readonly error?: unknown;
  /** A journaled run: its journal folder, whether it resumed, and its dead-letter file. */
  readonly journal?: RunJournalSummary;
}

export interface RunJournalSummary {
  readonly dir: string;
  readonly resumed: boolean;
  /** The run retried the failed tasks of a finished run (its other records are the skipped ones). */
  readonly retry: boolean;
  /** Input records passed over as settled by an earlier run. */
  readonly skipped: number;
  readonly deadLetter: string;
  /** Lines in the dead-letter file (this run's failures and those kept from before). */
  readonly deadLetters: number;
}

/** Tasks pulled that have no outcome (yet): started, then aborted or abandoned. */
export function interruptedTasks(stats: ExecutorStats, completed: number, failed: number): number {
  return Math.max(0, stats.tasks.pulled - completed - failed);
}

/** A run in lanes: how many, how often one was started again, and each one's utilisation over the run. */
function lanesSummary(l: LanesStats): { count: number; restarts: number; utilization: number[] } {
  return { count: l.lanes.length, restarts: l.restarts, utilization: l.lanes.map((lane) => Math.round(lane.utilization * 1000) / 1000) };
}

/** `lanes 2 (busy 80% 78%), 0 restarts; ` (the main thread before it only dispatched to them). */
function lanesText(l: LanesStats): string {
  const busy = l.lanes.length > 0 ? ` (busy ${busyList(l.lanes.map((lane) => lane.utilization))})` : '';
  return `lanes ${l.lanes.length}${busy}, ${l.restarts} restart${l.restarts === 1 ? '' : 's'}; `;
}

export function formatSummary(s: RunSummary, json: boolean): string[] {
  const tasks = s.completed + s.failed;
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? tasks / seconds : 0;
  if (json) {
    const code = (s.error as { code?: unknown } | undefined)?.code;
    return [
      JSON.stringify({
        type: 'summary',
        job: s.job,
        elapsedMs: Math.round(s.elapsedMs),
        tasks,
        completed: s.completed,
        failed: s.failed,
        interrupted: s.interrupted,
        rejectedRecords: s.rejected,
        tasksPerSecond: Number(rate.toFixed(1)),
        peakBuffered: s.stats.buffered.peak,
        mainThreadUtilization: Math.round(s.stats.mainThread.utilization * 1000) / 1000,
        ...(s.stats.lanes !== undefined ? { lanes: lanesSummary(s.stats.lanes) } : {}),
        peakRssBytes: s.peakRssBytes,
        pulled: s.stats.tasks.pulled,
        output: s.output ?? '-',
        lines: s.lines,
        ...(s.interruptedBy !== undefined ? { interruptedBy: s.interruptedBy } : {}),
        ...(s.forced === true ? { forced: true } : {}),
        ...(s.error !== undefined ? { error: messageOf(s.error) } : {}),
        ...(typeof code === 'string' ? { errorCode: code } : {}),
        ...(s.journal !== undefined
          ? {
              journal: s.journal.dir,
              resumed: s.journal.resumed,
              retry: s.journal.retry,
              skipped: s.journal.skipped,
              deadLetter: s.journal.deadLetter,
              deadLetters: s.journal.deadLetters,
            }
          : {}),
      }),
    ];
  }
  const failedText =
    s.rejected > 0 ? `${s.failed + s.rejected} failed (${s.rejected} input record${s.rejected === 1 ? '' : 's'})` : `${s.failed} failed`;
  const interruptedText = s.interrupted > 0 || s.interruptedBy !== undefined ? `, ${s.interrupted} interrupted` : '';
  const lines = [
    `sluice: ${s.job}: ${s.completed} completed, ${failedText}${interruptedText} in ${seconds.toFixed(1)} s ` +
      `(${rate.toFixed(1)} tasks/s); main thread ${Math.round(s.stats.mainThread.utilization * 100)}% busy; ` +
      (s.stats.lanes !== undefined ? lanesText(s.stats.lanes) : '') +
      `peak buffered payloads ${s.stats.buffered.peak}; ` +
      `peak RSS ${(s.peakRssBytes / 2 ** 20).toFixed(0)} MiB; ` +
      `${s.lines} line${s.lines === 1 ? '' : 's'} written to ${s.output === undefined || s.output === '-' ? 'stdout' : s.output}`,
  ];
  const started = `${s.interrupted} started task${s.interrupted === 1 ? ' was' : 's were'}`;
  if (s.interruptedBy !== undefined) {
    const inFlight =
      s.interrupted > 0 ? `${started} aborted (no output line: a later run can do them again)` : 'every started task finished';
    lines.push(`sluice: interrupted by ${s.interruptedBy}: ${inFlight}; the rest of the input was not started`);
  } else if (s.interrupted > 0) {
    lines.push(`sluice: ${started} stopped before finishing (no output line): the run ended early`);
  }
  const j = s.journal;
  if (j !== undefined) {
    const records = `${j.skipped} input record${j.skipped === 1 ? '' : 's'}`;
    const resumed = j.retry
      ? `retried the failed tasks: ${records} not to retry were skipped; `
      : j.resumed
        ? `resumed: ${records} settled before were skipped; `
        : '';
    const dead = j.deadLetters > 0 ? `; ${j.deadLetters} failed task${j.deadLetters === 1 ? '' : 's'} in ${j.deadLetter}` : '';
    lines.push(`sluice: ${resumed}journal ${j.dir}${dead}`);
  }
  return lines;
}
