/** The figures `executor.stats()` reports: counters and peaks, never timings. */

export interface StageStats {
  readonly name: string;
  readonly kind: 'io' | 'cpu';
  /** Most tasks the stage holds at once: io concurrency, or cpu threads. */
  readonly capacity: number;
  /** Tasks holding a slot: running, or finished and waiting for room downstream. Never > capacity. */
  readonly active: number;
  /** Highest `active` seen in this run. */
  readonly peakActive: number;
  /** Tasks running now (io call in flight, or on a worker thread). */
  readonly running: number;
  /** Highest `running` seen in this run. */
  readonly peakRunning: number;
  readonly completed: number;
  readonly failed: number;
}

export interface BufferStats {
  /** `upstream→downstream`, or `output` for outcomes waiting for the consumer. */
  readonly name: string;
  readonly size: number;
  readonly peak: number;
  readonly bound: number;
}

export interface TaskStats {
  /** Tasks taken from the input. */
  readonly pulled: number;
  /** Pulled and not yet yielded as an outcome (nor dropped by an abort). */
  readonly open: number;
  readonly peakOpen: number;
  /** Outcomes with `ok: true`. */
  readonly completed: number;
  /** Outcomes with `ok: false`. */
  readonly failed: number;
}

export interface ExecutorStats {
  readonly stages: readonly StageStats[];
  /** The buffers between stages, then the output buffer. */
  readonly buffers: readonly BufferStats[];
  /**
   * Payloads that finished a stage and wait for the next one (in a buffer, or holding their slot
   * because the buffer is full): the fetched-but-unprocessed data in memory.
   */
  readonly buffered: { readonly size: number; readonly peak: number };
  readonly tasks: TaskStats;
}
