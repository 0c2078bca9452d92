/**
 * The outcome side of a run: outcomes waiting for the consumer (in input order through a reorder
 * window when `ordered`), the consumer's pending `next()` calls, and the error the iteration ends
 * with. The scheduler decides when an outcome may come here; this side only hands them out.
 */
import type { Outcome } from '../outcome.js';

interface Waiter {
  resolve(result: IteratorResult<Outcome>): void;
  reject(error: unknown): void;
}

/** In the reorder window: the task at this index will have no outcome (it never ran). */
const SKIPPED = Symbol('skipped');

export class Outcomes {
  readonly #ordered: boolean;
  /** The output's bound now (it follows a batching last stage's capacity: the run sets it again when that moves). */
  bound: number;
  readonly #queue: Outcome[] = [];
  #peak = 0;
  #peakBound = 0;
  readonly #reorder = new Map<number, Outcome | typeof SKIPPED>();
  #nextIndex = 0;
  readonly #waiters: Waiter[] = [];
  /** Outcomes handed to the consumer. */
  #yielded = 0;
  /** What the iteration rejects with after the last outcome; undefined: it ends done. */
  endError: unknown = undefined;
  #endErrorDelivered = false;
  readonly #settledWaiters: Array<() => void> = [];

  constructor(ordered: boolean, bound: number) {
    this.#ordered = ordered;
    this.bound = bound;
  }

  /** Outcomes waiting for the consumer. */
  get size(): number {
    return this.#queue.length;
  }

  get peak(): number {
    return this.#peak;
  }

  /** The largest bound an outcome entered under (unordered; in input order the window bounds what waits). */
  get peakBound(): number {
    return this.#peakBound;
  }

  get yielded(): number {
    return this.#yielded;
  }

  /**
   * Put an outcome where the consumer will find it; false when the output is full (unordered:
   * `force` ignores the bound). In input order, the window bounds what waits here: the scheduler
   * stops admitting once `window` tasks are open.
   */
  emit(outcome: Outcome, force = false): boolean {
    if (!this.#ordered) {
      const bound = this.bound;
      if (!force && this.#queue.length >= bound) return false;
      if (bound > this.#peakBound) this.#peakBound = bound;
      this.#queue.push(outcome);
    } else {
      this.#reorder.set(outcome.index, outcome);
      this.#flushReorder();
    }
    if (this.#queue.length > this.#peak) this.#peak = this.#queue.length;
    return true;
  }

  /** The task at `index` will have no outcome: in input order, the ones after it stop waiting for it. */
  skip(index: number): void {
    if (!this.#ordered) return;
    this.#reorder.set(index, SKIPPED);
    this.#flushReorder();
  }

  #flushReorder(): void {
    for (;;) {
      const next = this.#reorder.get(this.#nextIndex);
      if (next === undefined) return;
      this.#reorder.delete(this.#nextIndex);
      this.#nextIndex += 1;
      if (next !== SKIPPED) this.#queue.push(next);
    }
  }

  /** The next waiting outcome, handed to the consumer; undefined when none waits. */
  take(): Outcome | undefined {
    const outcome = this.#queue.shift();
    if (outcome !== undefined) this.#yielded += 1;
    return outcome;
  }

  /** A `next()` that found nothing waiting: resolved by `deliver`. */
  wait(): Promise<IteratorResult<Outcome>> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /**
   * Hands waiting outcomes to waiting `next()` calls; once the run has `settled` and no outcome is
   * left, ends the remaining calls. True if an outcome was handed out.
   */
  deliver(settled: boolean): boolean {
    const waiters = this.#waiters;
    const queue = this.#queue;
    let delivered = false;
    while (waiters.length > 0 && queue.length > 0) {
      this.#yielded += 1;
      delivered = true;
      waiters.shift()!.resolve({ value: queue.shift()!, done: false });
    }
    if (settled && queue.length === 0) {
      for (const w of waiters.splice(0)) this.final().then(w.resolve, w.reject);
    }
    return delivered;
  }

  /** The end of the iteration: the end error once, then done. */
  final(): Promise<IteratorResult<Outcome>> {
    if (this.endError !== undefined && !this.#endErrorDelivered) {
      this.#endErrorDelivered = true;
      return Promise.reject(this.endError);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Resolves at `settled()`. */
  whenSettled(): Promise<void> {
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /** The run has settled: wake whoever waits for it (`return()`, `cancel()`). */
  settled(): void {
    for (const resolve of this.#settledWaiters.splice(0)) resolve();
  }
}
