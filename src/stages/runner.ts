import type { TaskContext } from './types.js';

/** A stage as the pipeline drives it. The pipeline never has more than `capacity` tasks in it. */
export interface StageRunner {
  readonly name: string;
  readonly kind: 'io' | 'cpu';
  /** Read at every admission: a service-backed stage follows its service's current limit. */
  readonly capacity: number;
  run(input: unknown, ctx: TaskContext): Promise<unknown>;
  /** Calls `listener` when `capacity` changes, so the pipeline can admit more at once. */
  onCapacityChange?(listener: () => void): () => void;
  close(): Promise<void>;
}

/**
 * What a runner rejects with when its stage cannot run any task (a cpu stage whose worker module
 * fails to load or lacks its export): a job error, not a task failure. The run stops admitting,
 * lets what is in flight settle, and ends with `error`; the tasks that met it get no outcome.
 */
export class StageFatal {
  constructor(readonly error: unknown) {}
}
