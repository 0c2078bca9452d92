/** The stats snapshot of a run, and the zeros of a run that never started: one shape for both. */
import type { ResolvedOptions } from '../options.js';
import type { StageRunner } from '../stages/runner.js';
import type { ExecutorStats, StageStats, TaskStats } from '../stats.js';

/** A stage's counters in a run: its public stats less what the runner says (name, kind, capacity). */
export type StageCounters = Omit<StageStats, 'name' | 'kind' | 'capacity'>;

interface SizeAndPeak {
  readonly size: number;
  readonly peak: number;
}

/** What a run counts, as `statsOf` reads it. */
export interface RunCounters {
  /** One per stage. */
  readonly stages: readonly StageCounters[];
  /** One per buffer between stages. */
  readonly buffers: readonly SizeAndPeak[];
  readonly output: SizeAndPeak;
  readonly buffered: SizeAndPeak;
  readonly tasks: TaskStats;
}

export function statsOf(opts: ResolvedOptions, runners: readonly StageRunner[], counters: RunCounters): ExecutorStats {
  const { bounds, outputBound } = opts;
  return {
    stages: runners.map((r, i) => {
      const s = counters.stages[i]!;
      return {
        name: r.name,
        kind: r.kind,
        capacity: r.capacity,
        active: s.active,
        peakActive: s.peakActive,
        running: s.running,
        peakRunning: s.peakRunning,
        completed: s.completed,
        failed: s.failed,
      };
    }),
    buffers: [
      ...bounds.map((bound, i) => ({
        name: `${runners[i]!.name}→${runners[i + 1]!.name}`,
        size: counters.buffers[i]!.size,
        peak: counters.buffers[i]!.peak,
        bound,
      })),
      { name: 'output', size: counters.output.size, peak: counters.output.peak, bound: outputBound },
    ],
    buffered: { size: counters.buffered.size, peak: counters.buffered.peak },
    tasks: { ...counters.tasks },
  };
}

const ZERO_STAGE: StageCounters = { active: 0, peakActive: 0, running: 0, peakRunning: 0, completed: 0, failed: 0 };
const ZERO: SizeAndPeak = { size: 0, peak: 0 };

/** The stats of a run that has not started: `executor.stats()` before any run. */
export function zeroStats(opts: ResolvedOptions, runners: readonly StageRunner[]): ExecutorStats {
  return statsOf(opts, runners, {
    stages: runners.map(() => ZERO_STAGE),
    buffers: opts.bounds.map(() => ZERO),
    output: ZERO,
    buffered: ZERO,
    tasks: { pulled: 0, open: 0, peakOpen: 0, completed: 0, failed: 0 },
  });
}
