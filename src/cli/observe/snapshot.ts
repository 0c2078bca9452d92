/** What the run command hands the reporters and the metrics endpoint: the state of a run now. */
import type { ExecutorStats, ServiceStats } from '../../index.js';

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
}
