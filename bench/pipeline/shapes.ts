/**
 * The three workload shapes of the pipeline scenario and the strategies run on each. N is picked so
 * that the bound max(N·L/k, N·C/T) is about 1–1.25 s: a bounded strategy's run then takes
 * ~1.2–2 s and the slowest baseline ~3 s on 2 cores, and the whole scenario (5 strategies ×
 * 3 shapes × 3 rounds, a fresh process per run) fits in about 150 s.
 */

export interface Shape {
  readonly name: string;
  /** What the shape stresses, one line for the report. */
  readonly about: string;
  /** Fetch latency L of the doc server (ms). */
  readonly latencyMs: number;
  /** io concurrency k (the service limit). */
  readonly concurrency: number;
  /** Target CPU cost C of the CPU step (ms), calibrated into SHA-256 rounds. */
  readonly cpuMs: number;
  /** cpu threads T. */
  readonly threads: number;
  readonly sizeBytes: number;
  /** Timed tasks per run, full and quick. */
  readonly n: number;
  readonly quickN: number;
  /** Warm-up tasks through the strategy's own path before the timed run (a few waves of k). */
  readonly warmup: number;
}

export const SHAPES: readonly Shape[] = [
  {
    name: 'balanced',
    about: 'the old core bench: io and cpu bounds within 2× of each other (L/k = 1.25 ms, C/T = 2.5 ms)',
    latencyMs: 20,
    concurrency: 16,
    cpuMs: 5,
    threads: 2,
    sizeBytes: 256 * 1024,
    n: 360,
    quickN: 48,
    warmup: 48,
  },
  {
    name: 'cpu-bound',
    about: 'C/T = 10 ms ≫ L/k = 0.31 ms: the threads are the bottleneck',
    latencyMs: 5,
    concurrency: 16,
    cpuMs: 20,
    threads: 2,
    sizeBytes: 256 * 1024,
    n: 100,
    quickN: 16,
    warmup: 16,
  },
  {
    name: 'io-bound',
    about: 'L/k = 12.5 ms ≫ C/T = 0.5 ms: the service limit is the bottleneck',
    latencyMs: 100,
    concurrency: 8,
    cpuMs: 1,
    threads: 2,
    sizeBytes: 256 * 1024,
    n: 96,
    quickN: 16,
    warmup: 16,
  },
];

/** Every strategy, in the order of the tables; `sluice` is the one the others are compared to. */
export const STRATEGIES = ['promise-all', 'plimit-main', 'plimit-unbounded', 'plimit-await', 'sluice'] as const;
export type StrategyName = (typeof STRATEGIES)[number];
/** Quick mode (CI smoke): sluice and the five-line baseline only. */
export const QUICK_STRATEGIES: readonly StrategyName[] = ['plimit-await', 'sluice'];
/** Baselines that exceed the service limit k (no socket or call limit): never "the best baseline". */
export const UNLIMITED: readonly StrategyName[] = ['promise-all'];

/** max(N·L/k, N·C/T) in ms. */
export function boundMs(shape: Shape, n: number, cpuMs: number): number {
  return Math.max((n * shape.latencyMs) / shape.concurrency, (n * cpuMs) / shape.threads);
}
