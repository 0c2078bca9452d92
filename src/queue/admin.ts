/**
 * A queue's life cycle: pause (workers claim nothing until resumed; what they hold finishes),
 * resume, and clean: remove the kept outcomes once `queueResults` read them (else only with
 * `force`, since a removed job's id can be enqueued again), or, with `all`, the whole queue: its
 * jobs, its job record and its worker figures (refused while jobs are active, unless `force`).
 */
import { SluiceQueueError } from '../errors.js';
import { readMeta } from './meta.js';
import { metaKey, workersKey } from './names.js';
import { openQueue, type QueueTarget } from './target.js';

export async function pauseQueue(target: QueueTarget): Promise<void> {
  const opened = await openQueue(target);
  try {
    await opened.queue.pause();
  } finally {
    await opened.close();
  }
}

export async function resumeQueue(target: QueueTarget): Promise<void> {
  const opened = await openQueue(target);
  try {
    await opened.queue.resume();
  } finally {
    await opened.close();
  }
}

export interface CleanOptions {
  /** Remove the whole queue, not only its kept outcomes. */
  readonly all?: boolean;
  /** Remove outcomes nobody read, or a queue with active jobs. */
  readonly force?: boolean;
}

export interface Cleaned {
  /** Completed and failed jobs removed (with `all`: every job). */
  readonly removed: number;
}

export async function cleanQueue(target: QueueTarget, options: CleanOptions = {}): Promise<Cleaned> {
  const opened = await openQueue(target);
  const { queue, name } = opened;
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (options.all === true) {
      if ((counts.active ?? 0) > 0 && options.force !== true) {
        throw new SluiceQueueError(
          name,
          `queue ${name} has ${counts.active} active job(s): stop its workers first, or clean --all --force`,
        );
      }
      await queue.obliterate({ force: true });
      await opened.client.del(metaKey(opened.prefix, name), workersKey(opened.prefix, name));
      return { removed: total };
    }
    const meta = await readMeta(opened.client, opened.prefix, name);
    const kept = (counts.completed ?? 0) + (counts.failed ?? 0);
    if (kept > 0 && meta?.resultsRead !== true && options.force !== true) {
      throw new SluiceQueueError(
        name,
        `queue ${name} holds ${kept} result(s) not read since the last enqueue: read them (sluice results) or clean --force; ` +
          'a removed job can be enqueued again',
      );
    }
    let removed = 0;
    for (const kind of ['completed', 'failed'] as const) {
      for (;;) {
        const ids = await queue.clean(0, 1000, kind);
        removed += ids.length;
        if (ids.length < 1000) break;
      }
    }
    return { removed };
  } finally {
    await opened.close();
  }
}
