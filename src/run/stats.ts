/** The stats snapshot of a run, and the zeros of a run that never started: one shape for both. */
import type { ResolvedOptions } from '../options.js';
import type { StageRunner } from '../stages/runner.js';
import type { ExecutorStats, MainThreadStats, StageStats, TaskStats } from '../stats.js';
import { IDLE_MAIN_THREAD } from './elu.js';

/** A stage's counters in a run: its public stats less what the runner says (name, kind, capacity). */
export type StageCounters = Omit<StageStats, 'name' | 'kind' | 'capacity'>;

interface SizeAndPeak {
  readonly size: number;
  readonly peak: number;
}

interface BufferCounters extends SizeAndPeak {
  /** The bound now (it follows a batching stage's capacity). */
  readonly bound: number;
  readonly peakBound: number;
}

/** What a run counts, as `statsOf` reads it. */
export interface RunCounters {
  /** One per stage. */
  readonly stages: readonly StageCounters[];
  /** One per buffer between stages. */
  readonly buffers: readonly BufferCounters[];
  readonly output: BufferCounters;
  readonly buffered: SizeAndPeak;
  readonly tasks: TaskStats;
  readonly mainThread: MainThreadStats;
}

export function statsOf(opts: ResolvedOptions, runners: readonly StageRunner[], counters: RunCounters): ExecutorStats {
  const { bounds } = opts;
  return {
    stages: runners.map((r, i) => {
      const s = counters.stages[i]!;
      const batch = r.batchStats?.();
      return {
        name: r.name,
        kind: r.kind,
        capacity: r.capacity,
        active: s.active,
        peakActive: s.peakActive,
        peakCapacity: s.peakCapacity,
        running: s.running,
        peakRunning: s.peakRunning,
        completed: s.completed,
        failed: s.failed,
        ...(batch ? { batch } : {}),
      };
    }),
    buffers: [
      ...bounds.map((_, i) => ({
        name: `${runners[i]!.name}→${runners[i + 1]!.name}`,
        size: counters.buffers[i]!.size,
        peak: counters.buffers[i]!.peak,
        bound: counters.buffers[i]!.bound,
        peakBound: counters.buffers[i]!.peakBound,
      })),
      {
        name: 'output',
        size: counters.output.size,
        peak: counters.output.peak,
        bound: counters.output.bound,
        peakBound: counters.output.peakBound,
      },
    ],
    buffered: { size: counters.buffered.size, peak: counters.buffered.peak },
    tasks: { ...counters.tasks },
    mainThread: { ...counters.mainThread },
  };
}

const ZERO_STAGE: StageCounters = { active: 0, peakActive: 0, peakCapacity: 0, running: 0, peakRunning: 0, completed: 0, failed: 0 };
const ZERO: SizeAndPeak = { size: 0, peak: 0 };

/** The stats of a run that has not started: `executor.stats()` before any run. */
export function zeroStats(opts: ResolvedOptions, runners: readonly StageRunner[]): ExecutorStats {
  return statsOf(opts, runners, {
    stages: runners.map(() => ZERO_STAGE),
    buffers: opts.bounds.map((bound) => ({ ...ZERO, bound, peakBound: 0 })),
    output: { ...ZERO, bound: opts.outputBound, peakBound: 0 },
    buffered: ZERO,
    tasks: { pulled: 0, open: 0, peakOpen: 0, completed: 0, failed: 0 },
    mainThread: IDLE_MAIN_THREAD,
  });
}
