/** The summary `sluice run` prints last: a human line, or a JSON line with `--log json`. */
import type { ExecutorStats } from '../../index.js';

export interface RunSummary {
  readonly job: string;
  readonly elapsedMs: number;
  readonly completed: number;
  /** Tasks whose outcome failed. */
  readonly failed: number;
  /** Input records that could not be read or parsed. */
  readonly rejected: number;
  readonly stats: ExecutorStats;
  readonly output: string | undefined;
  /** Lines written to the output. */
  readonly lines: number;
  /** The process's peak resident set size, in bytes. */
  readonly peakRssBytes: number;
  readonly interruptedBy?: string;
  /** What ended the run early, other than an interruption (the input threw, say). */
  readonly error?: unknown;
}

export function formatSummary(s: RunSummary, json: boolean): string[] {
  const tasks = s.completed + s.failed;
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? tasks / seconds : 0;
  const error = s.error === undefined ? undefined : s.error instanceof Error ? s.error.message : String(s.error);
  if (json) {
    return [
      JSON.stringify({
        type: 'summary',
        job: s.job,
        elapsedMs: Math.round(s.elapsedMs),
        tasks,
        completed: s.completed,
        failed: s.failed,
        rejectedRecords: s.rejected,
        tasksPerSecond: Number(rate.toFixed(1)),
        peakBuffered: s.stats.buffered.peak,
        peakRssBytes: s.peakRssBytes,
        pulled: s.stats.tasks.pulled,
        output: s.output ?? '-',
        lines: s.lines,
        ...(s.interruptedBy !== undefined ? { interruptedBy: s.interruptedBy } : {}),
        ...(error !== undefined ? { error } : {}),
      }),
    ];
  }
  const failedText = s.rejected > 0 ? `${s.failed + s.rejected} failed (${s.rejected} input record${s.rejected === 1 ? '' : 's'})` : `${s.failed} failed`;
  const lines = [
    `sluice: ${s.job}: ${s.completed} completed, ${failedText} in ${seconds.toFixed(1)} s ` +
      `(${rate.toFixed(1)} tasks/s); peak buffered payloads ${s.stats.buffered.peak}; ` +
      `peak RSS ${(s.peakRssBytes / 2 ** 20).toFixed(0)} MiB; ` +
      `${s.lines} line${s.lines === 1 ? '' : 's'} written to ${s.output === undefined || s.output === '-' ? 'stdout' : s.output}`,
  ];
  if (s.interruptedBy !== undefined) lines.push(`sluice: interrupted by ${s.interruptedBy}: the rest of the input was not started`);
  if (error !== undefined) lines.push(`sluice: the run ended early: ${error}`);
  return lines;
}
