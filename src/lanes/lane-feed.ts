/**
 * A lane's input: the tasks the main thread sent, as the AsyncIterator its executor pulls from. It
 * asks for more (`want`) when what it holds runs low, enough for about 150 ms of the lane's pace, so
 * a lane never holds much more than it can start soon: the rest waits on the main thread for
 * whichever lane frees first (the tail stays short). It also maps the lane run's own task numbers
 * to the run's (global) ones and keys.
 */

/** Tasks a lane asks to hold at least, and at most, ahead of its pipeline. */
export const FEED_MIN = 4;
export const FEED_MAX = 1024;
/** How much work, in ms at the lane's measured pace, it holds ahead (covers the hop to the main thread). */
const AHEAD_MS = 150;

export class LaneFeed implements AsyncIterableIterator<unknown> {
  readonly #want: (n: number) => void;
  #indexes: number[] = [];
  #keys: (string | undefined)[] = [];
  #tasks: unknown[] = [];
  #head = 0;
  /** Asked for and not received yet. */
  #requested = 0;
  /** Until the pace is measured (the first stats tick), a guess. */
  #target = 32;
  #ended = false;
  #waiter: ((r: IteratorResult<unknown>) => void) | undefined;
  /** The current run's task numbers (from 0) to the global index and key, while unanswered. */
  readonly #open = new Map<number, { readonly index: number; readonly key: string | undefined }>();
  #local = 0;
  /** Tasks taken by runs, for the pace. */
  taken = 0;

  constructor(want: (n: number) => void) {
    this.#want = want;
  }

  /** Tasks it asks to hold ahead now. */
  get target(): number {
    return this.#target;
  }

  /** Tasks the lane holds: pulled by its run and not answered, or waiting here. */
  get holding(): number {
    return this.#open.size + this.queued;
  }

  get queued(): number {
    return this.#tasks.length - this.#head;
  }

  /**
   * Asks for what is missing up to the target, when a quarter of it or less is held or coming:
   * asks are few and large (each costs the main thread a message), and the quarter left covers
   * the hop to the main thread and back many times over.
   */
  top(): void {
    if (this.#ended) return;
    const have = this.queued + this.#requested;
    if (have * 4 > this.#target) return;
    const n = this.#target - have;
    this.#requested += n;
    this.#want(n);
  }

  /** Sets the target from the lane's pace (tasks per ms). */
  pace(perMs: number): void {
    this.#target = Math.min(FEED_MAX, Math.max(FEED_MIN, Math.ceil(perMs * AHEAD_MS)));
  }

  push(indexes: number[], keys: (string | undefined)[], tasks: unknown[]): void {
    this.#requested = Math.max(0, this.#requested - indexes.length);
    if (this.#head > 0 && this.#head === this.#tasks.length) {
      this.#indexes = [];
      this.#keys = [];
      this.#tasks = [];
      this.#head = 0;
    }
    for (let i = 0; i < indexes.length; i++) {
      this.#indexes.push(indexes[i]!);
      this.#keys.push(keys[i]);
      this.#tasks.push(tasks[i]);
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter(this.#shift());
    }
  }

  /** A new run of the lane's executor starts: its task numbers start from 0. */
  startRun(): void {
    this.#local = 0;
    this.#open.clear();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.queued > 0) return Promise.resolve(this.#shift());
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    this.top();
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<unknown>> {
    return Promise.resolve({ value: undefined, done: true });
  }

  /** No more tasks will come: a waiting pull ends the input. */
  end(): void {
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  /** The global index of the current run's task `local`, and its key; forgotten once answered. */
  answer(local: number): { readonly index: number; readonly key: string | undefined } | undefined {
    const entry = this.#open.get(local);
    this.#open.delete(local);
    return entry;
  }

  keyOf(local: number): string {
    const entry = this.#open.get(local);
    return entry?.key ?? String(entry?.index ?? local);
  }

  /** Every task held and not answered (pulled by the run, or still queued), forgotten: the run ended. */
  drop(): number[] {
    const held = [...this.#open.values()].map((e) => e.index);
    this.#open.clear();
    held.push(...this.#indexes.slice(this.#head));
    this.#indexes = [];
    this.#keys = [];
    this.#tasks = [];
    this.#head = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
    return held;
  }

  #shift(): IteratorResult<unknown> {
    const h = this.#head++;
    const value = this.#tasks[h];
    this.#tasks[h] = undefined;
    this.#open.set(this.#local++, { index: this.#indexes[h]!, key: this.#keys[h] });
    this.taken += 1;
    this.top();
    return { value, done: false };
  }
}
