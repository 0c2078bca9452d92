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
