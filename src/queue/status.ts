/**
 * What a queue holds now: its job, its counts, and the workers on it (each refreshes its figures
 * every 2 s while it runs; one silent for 10 s is listed as gone), with the rate of outcomes over
 * the live workers and the time left at that rate.
 */
import { readMeta, type QueueMeta } from './meta.js';
import { workersKey } from './names.js';
import { openQueue, type QueueTarget } from './target.js';
import type { QueueCounts } from './worker.js';

export interface QueueWorkerFigures {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly started: string;
  /** ms since its last refresh. */
  readonly ageMs: number;
  /** Whether it refreshed within the last 10 s. */
  readonly live: boolean;
  readonly held: number;
  readonly claimed: number;
  readonly completed: number;
  readonly failed: number;
  /** Outcomes per second over its last 10 s. */
  readonly rate: number;
}

export interface QueueStatus {
  readonly queue: string;
  /** The Redis as shown to people (no password). */
  readonly redis: string;
  /** The queue's job and run (undefined: nothing was enqueued). */
  readonly job: QueueMeta | undefined;
  readonly counts: QueueCounts;
  readonly paused: boolean;
  readonly workers: readonly QueueWorkerFigures[];
  /** Outcomes per second over the live workers. */
  readonly rate: number;
  /** ms until waiting, delayed and active jobs are done at `rate`; undefined when nothing moves or nothing is left. */
  readonly etaMs: number | undefined;
}

const LIVE_MS = 10_000;

export async function queueStatus(target: QueueTarget): Promise<QueueStatus> {
  const opened = await openQueue(target);
  try {
    const [meta, c, paused, raw] = await Promise.all([
      readMeta(opened.client, opened.prefix, opened.name),
      opened.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'),
      opened.queue.isPaused(),
      opened.client.hgetall(workersKey(opened.prefix, opened.name)),
    ]);
    const counts: QueueCounts = {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    };
    const now = Date.now();
    const workers: QueueWorkerFigures[] = [];
    for (const text of Object.values(raw)) {
      try {
        const w = JSON.parse(text) as Omit<QueueWorkerFigures, 'ageMs' | 'live'> & { updated: number };
        const ageMs = Math.max(0, now - w.updated);
        workers.push({
          id: w.id,
          host: w.host,
          pid: w.pid,
          started: w.started,
          ageMs,
          live: ageMs <= LIVE_MS,
          held: w.held,
          claimed: w.claimed,
          completed: w.completed,
          failed: w.failed,
          rate: w.rate ?? 0,
        });
      } catch {
        // a field sluice did not write: not a worker's
      }
    }
    workers.sort((a, b) => a.id.localeCompare(b.id));
    const rate = workers.filter((w) => w.live).reduce((sum, w) => sum + w.rate, 0);
    const left = counts.waiting + counts.active + counts.delayed;
    return {
      queue: opened.name,
      redis: opened.shownAs,
      job: meta,
      counts,
      paused,
      workers,
      rate,
      etaMs: rate > 0 && left > 0 ? (left / rate) * 1000 : undefined,
    };
  } finally {
    await opened.close();
  }
}
