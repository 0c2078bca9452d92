/**
 * What `sluice worker` says: one notice line per event of its queue (Redis lost and back, a lock
 * lost, a late outcome dropped, a job failed after too many stalls), and the summary it prints
 * last (a human line or two, or one JSON line with `--log json`). Event messages come redacted
 * from the library; the command redacts every line it writes once more.
 */
import type { QueueWorkerEvent, QueueWorkerStats } from '../../index.js';
import { messageOf } from '../message.js';

/** The notice line of an event; `redis` is the Redis as shown to people (no password). */
export function eventLine(event: QueueWorkerEvent, redis: string): string {
  switch (event.type) {
    case 'redis-error':
      return `sluice worker: lost Redis at ${redis}: ${event.message}; retrying`;
    case 'redis-back':
      return `sluice worker: Redis at ${redis} is back`;
    case 'lock-lost':
      return `sluice worker: lost the lock of task ${event.key}: another worker may run it now, so its outcome here will be dropped`;
    case 'late-outcome':
      return `sluice worker: dropped the late outcome of task ${event.key} (its lock was lost: another worker does it)`;
    case 'stalled-failed':
      return (
        `sluice worker: task ${event.key} failed for good: its job stalled more than allowed ` +
        `(${event.attempts} attempt${event.attempts === 1 ? '' : 's'}; each worker that held it died or stopped renewing its lock)`
      );
  }
}

export interface WorkerSummary {
  readonly job: string;
  readonly queue: string;
  /** The Redis as shown to people. */
  readonly redis: string;
  /** The worker's id (as `sluice status --queue` lists it), once it started. */
  readonly worker: string | undefined;
  /** Why it ended: `drained`, `drain` (a stop), `abort`, `error`, or `forced` (it stopped waiting for tasks that ignored the abort). */
  readonly reason: string;
  readonly elapsedMs: number;
  readonly stats: QueueWorkerStats | undefined;
  readonly interruptedBy?: string | undefined;
  readonly error?: unknown;
}

export function formatWorkerSummary(s: WorkerSummary, json: boolean): string[] {
  const st = s.stats;
  const claimed = st?.claimed ?? 0;
  const completed = st?.completed ?? 0;
  const failed = st?.failed ?? 0;
  const handedBack = st?.handedBack ?? 0;
  const dropped = st?.dropped ?? 0;
  const held = st?.held ?? 0;
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? (completed + failed) / seconds : 0;
  if (json) {
    const code = (s.error as { code?: unknown } | undefined)?.code;
    return [
      JSON.stringify({
        type: 'summary',
        job: s.job,
        queue: s.queue,
        redis: s.redis,
        ...(s.worker !== undefined ? { worker: s.worker } : {}),
        reason: s.reason,
        elapsedMs: Math.round(s.elapsedMs),
        claimed,
        completed,
        failed,
        stalledFailed: st?.stalledFailed ?? 0,
        handedBack,
        dropped,
        peakHeld: st?.peakHeld ?? 0,
        ...(held > 0 ? { stillHeld: held } : {}),
        tasksPerSecond: Number(rate.toFixed(1)),
        ...(s.interruptedBy !== undefined ? { interruptedBy: s.interruptedBy } : {}),
        ...(s.error !== undefined ? { error: messageOf(s.error) } : {}),
        ...(typeof code === 'string' ? { errorCode: code } : {}),
      }),
    ];
  }
  const stalled = (st?.stalledFailed ?? 0) > 0 ? ` (${st!.stalledFailed} after too many stalls)` : '';
  const lines = [
    `sluice worker: ${s.job} on queue ${s.queue} at ${s.redis}: claimed ${claimed}, completed ${completed}, failed ${failed}${stalled}, ` +
      `handed back ${handedBack}, dropped late ${dropped}, peak held ${st?.peakHeld ?? 0} in ${seconds.toFixed(1)} s ` +
      `(${rate.toFixed(1)} tasks/s)`,
  ];
  if (s.reason === 'drained') lines.push('sluice worker: the queue is drained (nothing waiting or delayed, no job of this worker active)');
  if (s.interruptedBy !== undefined) {
    const what =
      s.reason === 'forced'
        ? `${held} held job${held === 1 ? '' : 's'} could not be handed back (tasks that ignore the abort): ` +
          'they go back to waiting when their locks expire, at the next stalled check'
        : handedBack > 0
          ? `${handedBack} held job${handedBack === 1 ? ' was' : 's were'} handed back to waiting for other workers`
          : 'every held task finished and was stored';
    lines.push(`sluice worker: stopped by ${s.interruptedBy}: ${what}`);
  }
  return lines;
}
