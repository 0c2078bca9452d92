/**
 * How many tasks a cpu stage sends a free thread in one message (B). Fixed, or `'auto'`: B starts
 * at 1 and follows the per-task time the threads measure, so that one batch is about
 * `AUTO_BATCH.targetMs` of work: long tasks keep B = 1, tiny ones get up to `AUTO_BATCH.max`.
 *
 * Each batch's reply says how long its thread took; the sample is that time over its task count.
 * The estimate is the median of the last `AUTO_BATCH.samples` samples, so a few long tasks in a
 * stream of short ones (a skewed batch) do not shrink B for the batches after them. 'auto' also
 * keeps a batch's binary input under about `AUTO_BATCH.maxBytes` (the same median over the bytes
 * per task), since a batch's inputs are copied to its thread and held until it answers: tasks
 * with large payloads and little work batch little, so the memory they hold stays near B = 1's.
 */
import type { BatchStats } from '../stats.js';

export const AUTO_BATCH = Object.freeze({
  /** Work per batch that 'auto' aims for, in ms: a thread's hand-off (~50-130 µs here) is then a few % of it. */
  targetMs: 2,
  /** The largest batch 'auto' makes: it bounds the tasks a stage holds (threads x max) when tasks take no time. */
  max: 256,
  /** Batches the estimate looks back over. */
  samples: 16,
  /** Binary input per batch that 'auto' stays under: 1 MiB. */
  maxBytes: 1024 * 1024,
});

export class BatchSize {
  readonly #auto: boolean;
  #size: number;
  #taskMs = 0;
  readonly #samples: number[] = [];
  readonly #bytes: number[] = [];
  #peak = 0;
  #batches = 0;
  readonly #onChange: () => void;

  /** `mode`: 'auto' or a fixed B (a positive integer); `onChange` is told when B moves. */
  constructor(mode: 'auto' | number, onChange: () => void) {
    this.#auto = mode === 'auto';
    this.#size = mode === 'auto' ? 1 : mode;
    this.#onChange = onChange;
  }

  /** B now. */
  get size(): number {
    return this.#size;
  }

  /** A batch of `tasks` was sent. */
  sent(tasks: number): void {
    this.#batches += 1;
    if (tasks > this.#peak) this.#peak = tasks;
  }

  /** A batch of `tasks`, whose inputs held `bytes` of binary payloads, came back after `ms` on its thread. */
  record(tasks: number, ms: number, bytes: number): void {
    if (!(tasks > 0) || !(ms >= 0)) return;
    this.#taskMs = push(this.#samples, ms / tasks);
    const taskBytes = push(this.#bytes, bytes / tasks);
    if (!this.#auto) return;
    const byTime = this.#taskMs > 0 ? Math.floor(AUTO_BATCH.targetMs / this.#taskMs) : AUTO_BATCH.max;
    const byBytes = taskBytes > 0 ? Math.floor(AUTO_BATCH.maxBytes / taskBytes) : AUTO_BATCH.max;
    const size = Math.max(1, Math.min(AUTO_BATCH.max, byTime, byBytes));
    if (size === this.#size) return;
    this.#size = size;
    this.#onChange();
  }

  /** A run starts: its peak and batch count start from zero; B and the estimate carry over. */
  resetCounts(): void {
    this.#peak = 0;
    this.#batches = 0;
  }

  stats(): BatchStats {
    return { size: this.#size, peak: this.#peak, batches: this.#batches, taskMs: this.#taskMs };
  }
}

/** Adds a sample to the last `AUTO_BATCH.samples` and returns their median. */
function push(samples: number[], sample: number): number {
  samples.push(sample);
  if (samples.length > AUTO_BATCH.samples) samples.shift();
  return median(samples);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
