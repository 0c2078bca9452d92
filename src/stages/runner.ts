import type { TaskContext } from './types.js';

/** A stage as the pipeline drives it. The pipeline never calls `run` more than `capacity` at once. */
export interface StageRunner {
  readonly name: string;
  readonly kind: 'io' | 'cpu';
  readonly capacity: number;
  run(input: unknown, ctx: TaskContext): Promise<unknown>;
  close(): Promise<void>;
}
