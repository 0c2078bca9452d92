import type { BatchStats } from '../stats.js';

/** A stage as the pipeline drives it. The pipeline never has more than `capacity` tasks in it. */
export interface StageRunner {
  readonly name: string;
  readonly kind: 'io' | 'cpu';
  /** Read at every admission: a service-backed stage follows its service's current limit. */
  readonly capacity: number;
  /**
   * Runs one task's input through the stage. Resolves with the stage's result; rejects with a
   * `StageFailure` (a failure after some attempts), a `StageFatal` (the stage cannot run any
   * task), or anything else (the task failed at its first attempt).
   */
  run(input: unknown, task: TaskRef, signal: AbortSignal): Promise<unknown>;
  /** Calls `listener` when `capacity` changes, so the pipeline can admit more at once. */
  onCapacityChange?(listener: () => void): () => void;
  /**
   * The buffer in front of this stage follows its capacity (unless the executor's `buffer` is
   * set): a batching cpu stage refills a whole batch at once, and its capacity moves with B.
   */
  readonly followsCapacity?: boolean;
  /** A run starts: counters that are per run start from zero. */
  startRun?(): void;
  /** A cpu stage's batching, as `stats()` reports it. */
  batchStats?(): BatchStats;
  close(): Promise<void>;
}

/**
 * The task a runner runs, as the pipeline holds it (its own item, passed as it is: no object is
 * made per task to call a runner; the runner builds the context its stage needs).
 */
export interface TaskRef {
  /** The task as it came from the input. */
  readonly task: unknown;
  /** The task's position in the input, from 0. */
  readonly index: number;
  /**
   * What the run's `key` function returned for the task (once, when it was pulled); undefined
   * without one: the key is then `String(index)`, made only where it is read.
   */
  readonly key: string | undefined;
}

/**
 * What a runner rejects with when its task failed after `attempts` attempts (an io stage on a
 * service that retried dropped calls): the task fails with `error`.
 */
export class StageFailure {
  constructor(
    readonly error: unknown,
    readonly attempts: number,
    /** The stage the task failed in, when it is not this runner's own (a lane runs a whole pipeline). */
    readonly stage?: string,
  ) {}
}

/**
 * What a runner rejects with when its stage cannot run any task (a cpu stage whose worker module
 * fails to load or lacks its export): a job error, not a task failure. The run stops admitting,
 * lets what is in flight settle, and ends with `error`; the tasks that met it get no outcome.
 */
export class StageFatal {
  constructor(readonly error: unknown) {}
}
