/**
 * One run of a pipeline: pulls tasks, moves them through the stages, and yields outcomes.
 *
 * All scheduling happens in `pump()`, which walks the stages from the last to the first:
 * finished work moves into the buffer after its stage when there is room (else it keeps its slot),
 * buffered work is admitted into the next stage when a slot is free, and a new task is pulled only
 * when the first stage has a slot left after all of that. So work in progress always moves on
 * before new work starts, and every stage, buffer and the output stay under their bounds.
 */
import { setMaxListeners } from 'node:events';
import { ErrorCodes, messageOf, SluiceAbortError, SluiceError, SluiceInputError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Failed, Outcome } from './outcome.js';
import { CallFailure } from './services/service.js';
import { StageFatal, type StageRunner } from './stages/runner.js';
import type { TaskContext } from './stages/types.js';
import type { ExecutorStats } from './stats.js';

interface Item {
  readonly index: number;
  readonly task: unknown;
  /** The input of the next stage: the task, then each stage's result. */
  value: unknown;
}

/** A finished piece of work waiting to move on: an item for the next stage, or a final outcome. */
type Finished = { readonly item: Item; readonly outcome?: undefined } | { readonly item: Item; readonly outcome: Outcome };

class StageState {
  active = 0;
  peakActive = 0;
  running = 0;
  peakRunning = 0;
  completed = 0;
  failed = 0;
  readonly held: Finished[] = [];
}

interface Waiter {
  resolve(result: IteratorResult<Outcome>): void;
  reject(error: unknown): void;
}

type Phase = 'idle' | 'running' | 'stopping' | 'cancelling' | 'settled';

/** Raised (as the iteration's rejection) by `stopOnError` runs; `outcome` is the first failure. */
export class SluiceTaskError extends SluiceError {
  readonly outcome: Failed;
  constructor(outcome: Failed) {
    const cause = outcome.error;
    super(
      ErrorCodes.TASK_FAILED,
      `Task #${outcome.index} failed in stage "${outcome.stage}": ${messageOf(cause)}`,
      { cause },
    );
    this.outcome = outcome;
  }
}

const SKIPPED = Symbol('skipped');

export class Run implements AsyncIterableIterator<Outcome> {
  readonly #opts: ResolvedOptions;
  readonly #runners: readonly StageRunner[];
  readonly #source: Iterable<unknown> | AsyncIterable<unknown>;
  readonly #signal: AbortSignal | undefined;
  readonly #drain: AbortSignal | undefined;
  readonly #onStart: () => void;
  readonly #onSettle: () => void;
  readonly #controller = new AbortController();
  readonly #states: StageState[];
  readonly #buffers: Item[][];
  readonly #bufferPeaks: number[];
  readonly #out: Outcome[] = [];
  #outPeak = 0;
  readonly #reorder = new Map<number, Outcome | typeof SKIPPED>();
  #nextToEmit = 0;
  readonly #waiters: Waiter[] = [];
  #phase: Phase = 'idle';
  #endError: unknown = undefined;
  #endErrorDelivered = false;
  /** A stage rejected with a StageFatal: the run ends with its error. */
  #fatal = false;
  #iterator: Iterator<unknown> | AsyncIterator<unknown> | undefined;
  #async = false;
  #pulling = false;
  /** Identifies the pending pull; cleared when an abort gives up waiting for it. */
  #pullToken: object | undefined;
  #inputDone = false;
  #pumping = false;
  #again = false;
  #settledWaiters: Array<() => void> = [];
  #abortListener: (() => void) | undefined;
  #unsubscribes: Array<() => void> = [];
  // counters
  #pulled = 0;
  #yielded = 0;
  #discarded = 0;
  #peakOpen = 0;
  #completed = 0;
  #failed = 0;
  #buffered = 0;
  #peakBuffered = 0;

  constructor(
    opts: ResolvedOptions,
    runners: readonly StageRunner[],
    source: Iterable<unknown> | AsyncIterable<unknown>,
    signal: AbortSignal | undefined,
    hooks: { onStart: () => void; onSettle: () => void },
    drain?: AbortSignal,
  ) {
    this.#drain = drain;
    this.#opts = opts;
    this.#runners = runners;
    this.#source = source;
    this.#signal = signal;
    this.#onStart = hooks.onStart;
    this.#onSettle = hooks.onSettle;
    this.#states = runners.map(() => new StageState());
    this.#buffers = opts.bounds.map(() => []);
    this.#bufferPeaks = opts.bounds.map(() => 0);
    setMaxListeners(0, this.#controller.signal);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Outcome>> {
    if (this.#phase === 'idle') {
      try {
        this.#start();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const outcome = this.#out.shift();
    if (outcome !== undefined) {
      this.#yielded += 1;
      this.#pump();
      return Promise.resolve({ value: outcome, done: false });
    }
    if (this.#phase === 'settled') return this.#final();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /** The consumer stopped early (`break`): admit nothing more, abort what runs, wait for it. */
  return(): Promise<IteratorResult<Outcome>> {
    if (this.#phase === 'idle') {
      this.#phase = 'settled';
      return Promise.resolve({ value: undefined, done: true });
    }
    this.#cancel(undefined, new Error('the consumer stopped iterating'));
    return this.#whenSettled().then(() => ({ value: undefined, done: true }));
  }

  /**
   * Stop as an abort does, ending the iteration with `error` (after the outcomes that had already
   * finished); used by `executor.close()`.
   */
  cancel(error: unknown): Promise<void> {
    if (this.#phase === 'idle' || this.#phase === 'settled') return Promise.resolve();
    this.#cancel(error, error);
    return this.#whenSettled();
  }

  stats(): ExecutorStats {
    const { bounds, outputBound } = this.#opts;
    return {
      stages: this.#runners.map((r, i) => {
        const s = this.#states[i]!;
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
          name: `${this.#runners[i]!.name}→${this.#runners[i + 1]!.name}`,
          size: this.#buffers[i]!.length,
          peak: this.#bufferPeaks[i]!,
          bound,
        })),
        { name: 'output', size: this.#out.length, peak: this.#outPeak, bound: outputBound },
      ],
      buffered: { size: this.#buffered, peak: this.#peakBuffered },
      tasks: {
        pulled: this.#pulled,
        open: this.#open(),
        peakOpen: this.#peakOpen,
        completed: this.#completed,
        failed: this.#failed,
      },
    };
  }

  #open(): number {
    return this.#pulled - this.#yielded - this.#discarded;
  }

  #start(): void {
    const signal = this.#signal;
    this.#onStart();
    this.#phase = 'running';
    if (signal?.aborted) {
      this.#phase = 'settled';
      this.#endError = new SluiceAbortError(signal.reason);
      this.#onSettle();
      return;
    }
    const source = this.#source as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
    try {
      const asyncIterator = source[Symbol.asyncIterator];
      if (typeof asyncIterator === 'function') {
        this.#iterator = asyncIterator.call(source);
        this.#async = true;
      } else {
        this.#iterator = (source as Iterable<unknown>)[Symbol.iterator]();
      }
    } catch (error) {
      this.#phase = 'settled';
      this.#endError = new SluiceInputError(0, error);
      this.#onSettle();
      return;
    }
    if (signal) {
      this.#abortListener = () => this.#cancel(new SluiceAbortError(signal.reason), signal.reason);
      signal.addEventListener('abort', this.#abortListener, { once: true });
    }
    const drain = this.#drain;
    if (drain) {
      // Drain: pull nothing more, let what was pulled finish; the run then ends as usual.
      const onDrain = (): void => {
        this.#stopAdmitting();
        this.#pump();
      };
      if (drain.aborted) this.#stopAdmitting();
      else {
        drain.addEventListener('abort', onDrain, { once: true });
        this.#unsubscribes.push(() => drain.removeEventListener('abort', onDrain));
      }
    }
    // A stage whose limit rises can admit more at once, with no completion to trigger it.
    for (const runner of this.#runners) {
      if (runner.onCapacityChange) this.#unsubscribes.push(runner.onCapacityChange(() => this.#pump()));
    }
    this.#pump();
  }

  /** Move everything that can move, from the last stage to the first, then pull new tasks. */
  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#deliver();
        const last = this.#runners.length - 1;
        this.#release(last);
        // Each boundary, from the last to the first: buffered work enters the next stage, which
        // makes room for finished work held by the stage before, and so on until neither moves.
        for (let i = last - 1; i >= 0; i--) {
          this.#admitFromBuffer(i + 1);
          while (this.#release(i) && this.#admitFromBuffer(i + 1));
        }
        this.#admitFromInput();
        this.#deliver();
        this.#checkSettled();
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
  }

  /** Finished work held by stage `i` moves to its buffer (or the output) where there is room. */
  #release(i: number): boolean {
    const state = this.#states[i]!;
    const held = state.held;
    if (held.length === 0) return false;
    // Compact in place: what moves on leaves, what stays keeps its order.
    let kept = 0;
    for (let k = 0; k < held.length; k++) {
      const f = held[k]!;
      if (f.outcome !== undefined ? this.#emit(f.outcome) : this.#enqueue(i, f.item)) state.active -= 1;
      else held[kept++] = f;
    }
    const moved = kept < held.length;
    held.length = kept;
    return moved;
  }

  #enqueue(i: number, item: Item): boolean {
    const buffer = this.#buffers[i]!;
    if (buffer.length >= this.#opts.bounds[i]!) return false;
    buffer.push(item);
    if (buffer.length > this.#bufferPeaks[i]!) this.#bufferPeaks[i] = buffer.length;
    return true;
  }

  /** Put an outcome where the consumer will find it; false when the output is full. */
  #emit(outcome: Outcome, force = false): boolean {
    if (!this.#opts.ordered) {
      if (!force && this.#out.length >= this.#opts.outputBound) return false;
      this.#out.push(outcome);
    } else {
      // The window bounds what waits here: admission stops once `window` tasks are open.
      this.#reorder.set(outcome.index, outcome);
      this.#flushReorder();
    }
    if (this.#out.length > this.#outPeak) this.#outPeak = this.#out.length;
    return true;
  }

  #flushReorder(): void {
    for (;;) {
      const next = this.#reorder.get(this.#nextToEmit);
      if (next === undefined) return;
      this.#reorder.delete(this.#nextToEmit);
      this.#nextToEmit += 1;
      if (next !== SKIPPED) this.#out.push(next);
    }
  }

  /** Buffered work enters stage `i` while it has free slots; true if anything entered. */
  #admitFromBuffer(i: number): boolean {
    const buffer = this.#buffers[i - 1]!;
    const state = this.#states[i]!;
    const capacity = this.#runners[i]!.capacity;
    let admitted = false;
    while (buffer.length > 0 && state.active < capacity) {
      const item = buffer.shift()!;
      this.#buffered -= 1;
      this.#startItem(i, item);
      admitted = true;
    }
    return admitted;
  }

  #canPull(): boolean {
    return (
      this.#phase === 'running' &&
      !this.#inputDone &&
      !this.#pulling &&
      this.#states[0]!.active < this.#runners[0]!.capacity &&
      this.#open() < this.#window()
    );
  }

  /**
   * Tasks that may be open at once. Unordered, the stages and buffers bound it by themselves; in
   * input order, finished outcomes wait for earlier ones, so the window bounds them.
   */
  #window(): number {
    const { window, ordered, bounds, outputBound } = this.#opts;
    if (window !== undefined) return window;
    if (!ordered) return Number.POSITIVE_INFINITY;
    let sum = outputBound;
    for (const r of this.#runners) sum += r.capacity;
    for (const b of bounds) sum += b;
    return sum;
  }

  #admitFromInput(): void {
    while (this.#canPull()) {
      const iterator = this.#iterator!;
      let result: IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
      try {
        result = iterator.next();
      } catch (error) {
        this.#inputFailed(error);
        return;
      }
      if (!this.#async) {
        this.#take(result as IteratorResult<unknown>);
        continue;
      }
      this.#pulling = true;
      // Reserve the slot the pulled task will take, so nothing else can take it meanwhile.
      this.#states[0]!.active += 1;
      const token = {};
      this.#pullToken = token;
      (result as Promise<IteratorResult<unknown>>).then(
        (r) => {
          if (this.#pullToken !== token) return;
          this.#endPull();
          this.#take(r);
          this.#pump();
        },
        (error: unknown) => {
          if (this.#pullToken !== token) return;
          this.#endPull();
          this.#inputFailed(error);
          this.#pump();
        },
      );
      return;
    }
  }

  #endPull(): void {
    this.#pulling = false;
    this.#pullToken = undefined;
    this.#states[0]!.active -= 1;
  }

  #take(result: IteratorResult<unknown>): void {
    if (result.done) {
      this.#inputDone = true;
      if (this.#phase === 'running') this.#phase = 'stopping';
      return;
    }
    const index = this.#pulled;
    this.#pulled += 1;
    const open = this.#open();
    if (open > this.#peakOpen) this.#peakOpen = open;
    const item: Item = { index, task: result.value, value: result.value };
    if (this.#phase !== 'running') {
      // Arrived after the run stopped admitting (stopOnError): it never started.
      this.#discarded += 1;
      return;
    }
    this.#startItem(0, item);
  }

  #inputFailed(error: unknown): void {
    this.#inputDone = true;
    if (this.#phase === 'running') {
      this.#phase = 'stopping';
      this.#endError ??= new SluiceInputError(this.#pulled, error);
    }
  }

  #startItem(i: number, item: Item): void {
    const state = this.#states[i]!;
    const runner = this.#runners[i]!;
    state.active += 1;
    state.running += 1;
    if (state.active > state.peakActive) state.peakActive = state.active;
    if (state.running > state.peakRunning) state.peakRunning = state.running;
    const signal = this.#controller.signal;
    const ctx: TaskContext = {
      task: item.task,
      index: item.index,
      stage: runner.name,
      signal,
      attempt: 1,
      call: (service, attempt) => service.call(attempt, { signal }),
    };
    let promise: Promise<unknown>;
    try {
      promise = runner.run(item.value, ctx);
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => this.#finished(i, item, true, value),
      (error: unknown) => this.#finished(i, item, false, error),
    );
  }

  #finished(i: number, item: Item, ok: boolean, result: unknown): void {
    const state = this.#states[i]!;
    state.running -= 1;
    if (this.#phase === 'cancelling') {
      state.active -= 1;
      this.#discarded += 1;
      this.#pump();
      return;
    }
    if (!ok && result instanceof StageFatal) {
      this.#stageFatal(i, item, result);
      return;
    }
    const last = i === this.#runners.length - 1;
    if (ok) {
      state.completed += 1;
      item.value = result;
      if (last) {
        this.#completed += 1;
        state.held.push({ item, outcome: { ok: true, task: item.task, index: item.index, value: result } });
      } else {
        this.#buffered += 1;
        if (this.#buffered > this.#peakBuffered) this.#peakBuffered = this.#buffered;
        state.held.push({ item });
      }
    } else {
      state.failed += 1;
      this.#failed += 1;
      const counted = result instanceof CallFailure;
      const outcome: Failed = {
        ok: false,
        task: item.task,
        index: item.index,
        stage: this.#runners[i]!.name,
        error: counted ? result.cause : result,
        attempts: counted ? result.attempts : 1,
      };
      if (this.#opts.stopOnError && this.#endError === undefined) {
        this.#endError = new SluiceTaskError(outcome);
        this.#stopAdmitting();
        state.active -= 1;
        this.#discarded += 1;
        if (this.#opts.ordered) {
          this.#reorder.set(item.index, SKIPPED);
          this.#flushReorder();
        }
      } else {
        state.held.push({ item, outcome });
      }
    }
    this.#pump();
  }

  /**
   * The stage cannot run any task (a broken worker module): a job error. Like the first failure
   * of a stopOnError run, it stops admission and lets what is in flight settle; the run then ends
   * with the stage's own error, which takes the place of a task or input error (an abort keeps its
   * own). The task never ran: it is no outcome and counts as neither completed nor failed, so a
   * later resume runs it. Later fatal rejections are discarded the same way.
   */
  #stageFatal(i: number, item: Item, fatal: StageFatal): void {
    if (!this.#fatal) {
      this.#fatal = true;
      this.#endError = fatal.error;
      this.#stopAdmitting();
    }
    this.#states[i]!.active -= 1;
    this.#discarded += 1;
    if (this.#opts.ordered) {
      this.#reorder.set(item.index, SKIPPED);
      this.#flushReorder();
    }
    this.#pump();
  }

  #stopAdmitting(): void {
    if (this.#phase === 'running') this.#phase = 'stopping';
    // Do not wait for a pull under way: what it yields would be discarded anyway.
    if (this.#pulling) this.#endPull();
    this.#closeInput();
  }

  #closeInput(): void {
    if (this.#inputDone) return;
    this.#inputDone = true;
    const iterator = this.#iterator;
    if (iterator?.return === undefined) return;
    try {
      const r = iterator.return();
      if (r instanceof Promise) r.catch(() => undefined);
    } catch {
      // The input's own clean-up failed; the run's outcome does not depend on it.
    }
  }

  /** Abort: admit nothing, drop buffered work, abort what runs; done outcomes are still yielded. */
  #cancel(error: unknown, reason: unknown): void {
    if (this.#phase === 'settled' || this.#phase === 'cancelling' || this.#phase === 'idle') return;
    this.#phase = 'cancelling';
    if (error !== undefined) this.#endError = error;
    // Do not wait for a pull under way: an input may take its time; what it yields is ignored.
    if (this.#pulling) this.#endPull();
    this.#closeInput();
    for (let i = 0; i < this.#buffers.length; i++) {
      this.#discarded += this.#buffers[i]!.length;
      this.#buffers[i]!.length = 0;
    }
    this.#buffered = 0;
    for (const state of this.#states) {
      for (const f of state.held) {
        state.active -= 1;
        if (f.outcome !== undefined) this.#emit(f.outcome, true);
        else this.#discarded += 1;
      }
      state.held.length = 0;
    }
    this.#controller.abort(reason);
    this.#pump();
  }

  #checkSettled(): void {
    if (this.#phase === 'settled' || this.#phase === 'idle' || this.#phase === 'running') return;
    if (this.#pulling) return;
    for (const s of this.#states) if (s.active > 0) return;
    for (const b of this.#buffers) if (b.length > 0) return;
    this.#phase = 'settled';
    if (this.#signal && this.#abortListener) this.#signal.removeEventListener('abort', this.#abortListener);
    for (const unsubscribe of this.#unsubscribes.splice(0)) unsubscribe();
    this.#onSettle();
    for (const resolve of this.#settledWaiters.splice(0)) resolve();
    this.#deliver();
  }

  #whenSettled(): Promise<void> {
    if (this.#phase === 'settled') return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  #deliver(): void {
    while (this.#waiters.length > 0 && this.#out.length > 0) {
      this.#yielded += 1;
      this.#again = this.#pumping;
      this.#waiters.shift()!.resolve({ value: this.#out.shift()!, done: false });
    }
    if (this.#phase === 'settled' && this.#out.length === 0) {
      for (const w of this.#waiters.splice(0)) this.#final().then(w.resolve, w.reject);
    }
  }

  #final(): Promise<IteratorResult<Outcome>> {
    if (this.#endError !== undefined && !this.#endErrorDelivered) {
      this.#endErrorDelivered = true;
      return Promise.reject(this.#endError);
    }
    return Promise.resolve({ value: undefined, done: true });
  }
}
