/** What the ceiling scenario's child (bench/ceiling/child.ts) measures and prints, shared with the scenario's report. */

import type { TimedRun } from '../harness/types.js';
/** How the cpu stage batches: the default, and one task per message (its payload moved, not copied). */
export const VARIANTS = { auto: 'auto', single: false } as const;
export type Variant = keyof typeof VARIANTS;

/** What the child prints per timed run (its `RESULT` line). */
export interface SizeResult extends TimedRun {
  readonly round: number;
  readonly sizeBytes: number;
  readonly variant: Variant;
  /** CPU time of the whole process (main thread and workers) over the timed run. */
  readonly processCpuMs: number;
  /** `executor.stats().mainThread.utilization` after the run, and the same read around it here. */
  readonly elu: number;
  readonly ownElu: number;
  readonly ioPeakRunning: number;
  readonly ioCapacity: number;
  /** The cpu stage's batching, as its stats report it. */
  readonly batch?: unknown;
}
