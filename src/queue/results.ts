/**
 * A queue's results: every task's outcome, read from the jobs BullMQ kept (completed, then
 * failed), page by page in the order they finished (a page is a range of the finished set by
 * rank; jobs that finish meanwhile join its end, so a read during a run sees each job once).
 */
import type { Job as BullJob } from 'bullmq';
import { isJobData, type FailedReason, type StoredValue } from './job-data.js';
import { metaKey } from './names.js';
import { openQueue, type QueueTarget } from './target.js';

interface ResultBase {
  readonly key: string;
  /** The task's index among the input's tasks. */
  readonly index: number;
  /** Its line in the input file, when it came from one. */
  readonly line?: number | undefined;
  readonly task: unknown;
}

export type QueueResult =
  | (ResultBase & { readonly ok: true; readonly value: unknown })
  | (ResultBase & { readonly ok: false; readonly stage: string; readonly attempts: number; readonly error: unknown });

export interface QueueResultsOptions extends QueueTarget {
  /** Only the failed tasks. @default false */
  readonly failed?: boolean;
  /** Jobs per page. @default 500 */
  readonly pageSize?: number;
}

/**
 * Every kept outcome of the queue (the failed ones only with `failed`). Once a read went through
 * everything while no job was waiting, active or delayed, the queue notes that its results were
 * read: `cleanQueue` then removes them without `force`.
 */
export async function* queueResults(options: QueueResultsOptions): AsyncGenerator<QueueResult> {
  const opened = await openQueue(options);
  try {
    const before = await opened.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    const settledAtStart = Object.values(before).every((n) => n === 0);
    const pageSize = options.pageSize ?? 500;
    const kinds = options.failed === true ? (['failed'] as const) : (['completed', 'failed'] as const);
    for (const kind of kinds) {
      for (let start = 0; ; start += pageSize) {
        const jobs = await opened.queue.getJobs([kind], start, start + pageSize - 1, true);
        for (const job of jobs) {
          const result = resultOf(job as BullJob, kind);
          if (result !== undefined) yield result;
        }
        if (jobs.length < pageSize) break;
      }
    }
    if (settledAtStart && options.failed !== true) await opened.client.hset(metaKey(opened.prefix, opened.name), 'resultsRead', '1');
  } finally {
    await opened.close();
  }
}

function resultOf(job: BullJob, kind: 'completed' | 'failed'): QueueResult | undefined {
  if (!isJobData(job.data)) return undefined;
  const { k, i, l, t } = job.data;
  const base: ResultBase = { key: k, index: i, ...(l !== undefined ? { line: l } : {}), task: t };
  if (kind === 'completed') return { ...base, ok: true, value: (job.returnvalue as StoredValue | null)?.v };
  let reason: FailedReason;
  try {
    reason = JSON.parse(job.failedReason) as FailedReason;
    if (typeof reason?.stage !== 'string') throw new Error('not a sluice reason');
  } catch {
    reason = { stage: 'queue', attempts: job.attemptsMade, error: { name: 'Error', message: job.failedReason } };
  }
  return { ...base, ok: false, stage: reason.stage, attempts: reason.attempts, error: reason.error };
}
