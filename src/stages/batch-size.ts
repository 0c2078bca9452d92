/**
 * How many tasks a cpu stage sends a free thread in one message (B). Fixed, or `'auto'`: B starts
 * at 1 and follows two things the stage measures on every batch:
 *
 * - the time per task (the thread's time on the batch over its tasks), and
 * - the hand-off: how long a batch was away beyond its thread's time on it (the post, the thread's
 *   wake-up, the reply, the main thread's turn to read it), during which the thread did nothing.
 *
 * B = target / (time per task), where the target is `AUTO_BATCH.handoffs` hand-offs (so the
 * hand-off costs about 1/20 of the threads' time), kept within `minMs`..`maxMs`: about 1 ms of work
 * per batch on a machine whose hand-off is 50 µs, 6 ms where it is 300 µs (a busy 2-vCPU VM).
 * Tasks of `loneMs` or more always go one per message, and tiny ones get at most `max`.
 *
 * Each estimate is a median of the last `samples` batches; for the time per task, the larger of
 * that and the last batch's: B shrinks at once when tasks get longer (so a thread never holds a
 * long private queue), and grows back only as the median does, so one batch with a long task in
 * it (a skewed stream) makes one small batch after it, not many. 'auto' also keeps a batch's
 * binary input under about `maxBytes` (the same median over the bytes per task), since a batch's
 * inputs are copied to its thread and held until it answers: tasks with large payloads and little
 * work batch little, so the memory they hold stays near B = 1's.
 */
import type { BatchStats } from '../stats.js';

export const AUTO_BATCH = Object.freeze({
  /** Work per batch that 'auto' aims for, in hand-offs: the hand-off is then about 5% of the threads' time. */
  handoffs: 20,
  /** The least work per batch 'auto' aims for (ms). */
  minMs: 1,
  /** The most work per batch 'auto' aims for (ms): the longest a thread holds tasks that another could take. */
  maxMs: 10,
  /** The largest batch 'auto' makes: it bounds the tasks a stage holds ((threads + 1) x max) when tasks take no time. */
  max: 256,
  /** Batches the estimate looks back over. */
  samples: 16,
  /** Binary input per batch that 'auto' stays under: 1 MiB. */
  maxBytes: 1024 * 1024,
  /** Tasks that take this long (ms) or longer go one per message: the hand-off is then a few % of a task. */
  loneMs: 1,
});

export class BatchSize {
  readonly #auto: boolean;
  #size: number;
  #taskMs = 0;
  readonly #samples: number[] = [];
  readonly #bytes: number[] = [];
  readonly #handoffs: number[] = [];
  #handoffMs = 0;
  #peak = 0;
  #batches = 0;
  /** Tasks in messages now (on a thread, or posted to one), and the messages. */
  #onThreads = 0;
  #messages = 0;
  #peakOnThreads = 0;
  readonly #onChange: () => void;

  readonly #threads: number;

  /** `mode`: 'auto' or a fixed B (a positive integer); `onChange` is told when B moves. */
  constructor(mode: 'auto' | number, threads: number, onChange: () => void) {
    this.#threads = threads;
    this.#auto = mode === 'auto';
    this.#size = mode === 'auto' ? 1 : mode;
    this.#onChange = onChange;
  }

  /** B follows the measurements ('auto'); else it is fixed. */
  get auto(): boolean {
    return this.#auto;
  }

  /** B now. */
  get size(): number {
    return this.#size;
  }

  /** A batch of `tasks` was sent. */
  sent(tasks: number): void {
    this.#batches += 1;
    if (tasks > this.#peak) this.#peak = tasks;
    this.#onThreads += tasks;
    this.#messages += 1;
    if (this.#onThreads > this.#peakOnThreads) this.#peakOnThreads = this.#onThreads;
  }

  /** A batch of `tasks` came back, answered or not. */
  returned(tasks: number): void {
    this.#onThreads -= tasks;
    this.#messages -= 1;
  }

  /**
   * A batch of `tasks`, whose inputs held `bytes` of binary payloads, came back `awayMs` after it
   * was posted, having taken `ms` of its thread.
   */
  record(tasks: number, ms: number, bytes: number, awayMs: number): void {
    if (!(tasks > 0) || !(ms >= 0)) return;
    const sample = ms / tasks;
    this.#taskMs = push(this.#samples, sample);
    const taskBytes = push(this.#bytes, bytes / tasks);
    if (awayMs >= ms) this.#handoffMs = push(this.#handoffs, awayMs - ms);
    if (!this.#auto) return;
    const targetMs = Math.min(AUTO_BATCH.maxMs, Math.max(AUTO_BATCH.minMs, AUTO_BATCH.handoffs * this.#handoffMs));
    const estimate = Math.max(this.#taskMs, sample);
    const byTime = estimate >= AUTO_BATCH.loneMs ? 1 : estimate > 0 ? Math.floor(targetMs / estimate) : AUTO_BATCH.max;
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
    this.#peakOnThreads = this.#onThreads;
  }

  stats(): BatchStats {
    return {
      threads: this.#threads,
      busyThreads: this.#messages,
      size: this.#size,
      peak: this.#peak,
      batches: this.#batches,
      onThreads: this.#onThreads,
      peakOnThreads: this.#peakOnThreads,
      taskMs: this.#taskMs,
      handoffMs: this.#handoffMs,
    };
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
