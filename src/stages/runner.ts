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
  run(input: unknown, ctx: StageTaskContext): Promise<unknown>;
  /** Calls `listener` when `capacity` changes, so the pipeline can admit more at once. */
  onCapacityChange?(listener: () => void): () => void;
  close(): Promise<void>;
}

/** What the pipeline tells a stage runner about the task it runs; an io stage's `TaskContext` adds to it. */
export interface StageTaskContext<T = unknown> {
  /** The task as it came from the input. */
  readonly task: T;
  /** The task's position in the input, from 0. */
  readonly index: number;
  /** The name of the stage running. */
  readonly stage: string;
  /** The run's signal: aborted when the run is aborted or the consumer stops early. */
  readonly signal: AbortSignal;
}

/**
 * What a runner rejects with when its task failed after `attempts` attempts (an io stage on a
 * service that retried dropped calls): the task fails with `error`.
 */
export class StageFailure {
  constructor(
    readonly error: unknown,
    readonly attempts: number,
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
