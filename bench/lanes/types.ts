/** What the lanes scenario's children (./child.ts, ./adaptive-child.ts) print, shared with its reports. */
import type { ChildReport } from '../adaptive/types.js';
import type { TimedRun } from '../harness/types.js';

/**
 * The designs side by side: one lane (today's: io stages on the main thread), P lanes, and
 * 'auto' (one lane per four cores, at least 2). A label names how the executor was asked for.
 */
export type Design = '1' | '2' | 'auto' | '4';

/** `createJobExecutor`'s `lanes` option for a design. */
export const lanesOption = (d: Design): number | 'auto' => (d === 'auto' ? 'auto' : Number(d));

/** What ./child.ts prints per timed run (its `RESULT` line). */
export interface CellResult extends TimedRun {
  readonly round: number;
  readonly design: Design;
  /** Lanes the executor runs (1: in-process). */
  readonly lanes: number;
  readonly sizeBytes: number;
  /** CPU time of the whole process (main thread, lanes, cpu pools, V8's threads). */
  readonly processCpuMs: number;
  /** Each lane thread's CPU time over the timed run (schedstat), ordered by thread id; empty with one lane. */
  readonly laneCpuMs: readonly number[];
  /** `stats().lanes.lanes[i].utilization` at the end of the timed run (over the lane's run so far), and its recent one. */
  readonly laneElu: readonly number[];
  readonly laneRecentElu: readonly number[];
  /** Tasks each lane completed in the timed run (stats, by lane number). */
  readonly laneCompleted: readonly number[];
  /** `stats().mainThread.utilization` after the run: the main thread's (the dispatcher's, with lanes). */
  readonly mainElu: number;
  /** The service's limit, and the most requests the server had in flight at once during the timed run (its own counter). */
  readonly limit: number;
  readonly serverPeak: number;
  readonly serverServed: number;
  /** The most permits in flight across lanes, as the main thread's view of the service counts them (over the child's life). */
  readonly servicePeak: number;
  /** The process's peak RSS during the timed run (the kernel's high-water mark, reset at its start), MiB. */
  readonly peakRssMiB: number;
  /** Messages of tasks the main thread sent to lanes in the timed run (stats); 0 with one lane. */
  readonly batches: number;
  /** The cpu stage's measured time per task (ms), from its batch stats. */
  readonly taskMs?: number;
}

/** ./child.ts's last line (`DONE`). */
export interface ChildDone {
  readonly design: Design;
  readonly lanes: number;
  /** From `createJobExecutor` called to resolved (lanes started, each with its pipeline built). */
  readonly startMs: number;
  readonly closeMs: number;
  readonly cpuMs: number;
}

/** ./adaptive-child.ts's report: the adaptive bench's, and the lanes' figures. */
export interface AdaptiveChildReport extends ChildReport {
  readonly lanes: number;
  /** The highest limit the service's algorithm set (it starts at its initial limit). */
  readonly peakLimit: number;
  /** Tasks each lane completed. */
  readonly laneCompleted: readonly number[];
}
