/** What the run command hands the reporters and the metrics endpoint: the state of a run now. */
import type { ExecutorStats, QueueCounts, ServiceStats } from '../../index.js';

export interface RunSnapshot {
  /** Since the run started, in ms. */
  readonly elapsedMs: number;
  /** Tasks in the input, when known (a counted file); undefined for a stream. */
  readonly total?: number;
  /** Outcomes written: `completed + failed`. */
  readonly done: number;
  readonly completed: number;
  /** Failed tasks, input-record errors included. */
  readonly failed: number;
  /** `executor.stats()`. */
  readonly stats: ExecutorStats;
  /** `stats()` of every service the job uses. */
  readonly services: readonly ServiceStats[];
  /** A first SIGINT arrived: no new tasks are pulled, pulled ones finish. */
  readonly draining: boolean;
  /** A queue worker's figures (`sluice worker`); absent for `sluice run`. */
  readonly queue?: QueueSnapshot;
}

/** What a queue worker adds to its snapshot: its own jobs, and the queue's. */
export interface QueueSnapshot {
  /** Jobs this worker holds now: claimed, outcome not stored (nor handed back) yet. */
  readonly held: number;
  /** The most jobs it held at once. */
  readonly peakHeld: number;
  /** Jobs it claimed. */
  readonly claimed: number;
  /** Jobs it handed back to waiting (a stop). */
  readonly handedBack: number;
  /** Outcomes it dropped because the job's lock was lost (another worker redoes the task). */
  readonly dropped: number;
  /** The queue's jobs by state (every worker's), as of the worker's last look; undefined before the first. */
  readonly jobs?: QueueCounts;
}
