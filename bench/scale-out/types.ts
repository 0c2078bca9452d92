/** What the scale-out bench's nodes (worker-child.ts) and the scenario share. */
import type { QueueWorkerStats } from 'sluice';

/** Width of a bucket of outcomes, ms. */
export const BUCKET_MS = 100;

/** What a node reports at its end. */
export interface NodeReport {
  readonly mode: 'queue' | 'direct';
  readonly reason: string;
  readonly error?: string;
  /** Outcomes seen (ok and failed). */
  readonly outcomes: number;
  readonly failed: number;
  /** Epoch ms of the first and last outcome. */
  readonly firstAt?: number;
  readonly lastAt?: number;
  /** Outcomes per bucket: [bucket start / BUCKET_MS, outcomes, failed outcomes]. */
  readonly buckets: readonly (readonly [number, number, number])[];
  /** The worker's own counters (queue mode). */
  readonly stats?: WorkerCounters;
  /** Worker events by type (lock lost, Redis errors...). */
  readonly events: Readonly<Record<string, number>>;
  /** Causes of failed outcomes, by message (ids removed). */
  readonly causes: Readonly<Record<string, number>>;
}

/** The worker's counters a node reports: those of sluice's `QueueWorkerStats` (its summary line carries the same). */
export type WorkerCounters = Pick<
  QueueWorkerStats,
  'claimed' | 'completed' | 'failed' | 'handedBack' | 'dropped' | 'stalledFailed' | 'peakHeld'
>;

/** The counters of a worker's stats or summary, and nothing else of it. */
export function workerCounters(s: WorkerCounters): WorkerCounters {
  const { claimed, completed, failed, handedBack, dropped, stalledFailed, peakHeld } = s;
  return { claimed, completed, failed, handedBack, dropped, stalledFailed, peakHeld };
}
