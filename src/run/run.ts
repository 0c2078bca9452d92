/**
 * One run of a pipeline: pulls tasks, moves them through the stages, and yields outcomes.
 *
 * All scheduling happens in `pump()`, which walks the stages from the last to the first:
 * finished work moves into the buffer after its stage when there is room (else it keeps its slot),
 * buffered work is admitted into the next stage when a slot is free, and a new task is pulled only
 * when the first stage has a slot left after all of that. So work in progress always moves on
 * before new work starts, and every stage, buffer and the output stay under their bounds.
 *
 * The input side (src/run/input.ts) pulls from the source; the outcome side (src/run/outcomes.ts)
 * hands outcomes to the consumer. The stages are runners (src/stages/runner.ts): the run sees only
 * their results, a value or a rejection (a `StageFailure`, a `StageFatal`, or any other error).
 */
import { setMaxListeners } from 'node:events';
import { SluiceAbortError, SluiceTaskError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import type { Failed, Outcome } from '../outcome.js';
import { StageFailure, StageFatal, type StageRunner } from '../stages/runner.js';
import type { ExecutorStats } from '../stats.js';
import { outputBound, pipelineWindow } from './bounds.js';
import { EluMeter, IDLE_MAIN_THREAD } from './elu.js';
import { Input } from './input.js';
import { newItem, type KeyFunction } from './keys.js';
import { Outcomes } from './outcomes.js';
import { Stages, type Item } from './stages.js';
import { statsOf } from './stats.js';

/** What a run is made of: the executor's options and runners, the input, and the run's options. */
export interface RunInit {
  readonly options: ResolvedOptions;
  readonly runners: readonly StageRunner[];
  readonly source: Iterable<unknown> | AsyncIterable<unknown>;
  /** Aborting it stops admission, aborts in-flight work, and rejects the iteration. */
  readonly signal?: AbortSignal | undefined;
  /** Aborting it drains the run: nothing more is pulled, what was pulled finishes. */
  readonly drain?: AbortSignal | undefined;
  /** Each task's key (./keys.ts); unset: `String(index)`. */
  readonly key?: KeyFunction | undefined;
  /** Called as the first `next()` starts the run; throwing refuses the start. */
  readonly onStart: () => void;
  /** Called once the run has settled. */
  readonly onSettle: () => void;
}

type Phase = 'idle' | 'running' | 'stopping' | 'cancelling' | 'settled';

export class Run implements AsyncIterableIterator<Outcome> {
  readonly #opts: ResolvedOptions;
  readonly #runners: readonly StageRunner[];
  readonly #signal: AbortSignal | undefined;
  readonly #drain: AbortSignal | undefined;
  readonly #key: KeyFunction | undefined;
  readonly #onStart: () => void;
  readonly #onSettle: () => void;
  readonly #controller = new AbortController();
  readonly #input: Input;
  readonly #outcomes: Outcomes;
  readonly #stages: Stages;
  /** The main thread's event-loop utilisation while the run lives. */
  readonly #elu = new EluMeter();
  #phase: Phase = 'idle';
  /** A stage rejected with a StageFatal: the run ends with its error. */
  #fatal = false;
  #pumping = false;
  #again = false;
  /** What stops listening to the signals and the stages, at settling. */
  readonly #unsubscribes: Array<() => void> = [];
  // counters
  #discarded = 0;
  #peakOpen = 0;
  #completed = 0;
  #failed = 0;

  constructor(init: RunInit) {
    const { options, runners } = init;
    this.#opts = options;
    this.#runners = runners;
    this.#signal = init.signal;
    this.#drain = init.drain;
    this.#key = init.key;
    this.#onStart = init.onStart;
    this.#onSettle = init.onSettle;
    this.#outcomes = new Outcomes(options.ordered, outputBound(options, runners));
    this.#stages = new Stages(runners, options.bounds, options.bufferSet, this.#outcomes);
    this.#input = new Input(init.source, {
      room: () =>
        this.#phase === 'running' && this.#stages.free(0) && this.#open() < pipelineWindow(this.#opts, this.#runners, this.#stages),
      task: (index, value) => this.#take(index, value),
      end: (error) => {
        if (this.#phase !== 'running') return;
        this.#phase = 'stopping';
        if (error !== undefined) this.#outcomes.endError ??= error;
      },
      reserve: (delta) => {
        this.#stages.states[0]!.active += delta;
      },
      pump: () => this.#pump(),
    });
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
    const outcome = this.#outcomes.take();
    if (outcome !== undefined) {
      this.#pump();
      return Promise.resolve({ value: outcome, done: false });
    }
    if (this.#phase === 'settled') return this.#outcomes.final();
    return this.#outcomes.wait();
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
    return statsOf(this.#opts, this.#runners, {
      ...this.#stages.counters(),
      output: {
        size: this.#outcomes.size,
        peak: this.#outcomes.peak,
        bound: this.#outcomes.bound,
        peakBound: this.#outcomes.peakBound,
      },
      tasks: {
        pulled: this.#input.pulled,
        open: this.#open(),
        peakOpen: this.#peakOpen,
        completed: this.#completed,
        failed: this.#failed,
      },
      mainThread: this.#input.pulled === 0 ? IDLE_MAIN_THREAD : this.#elu.read(), // nothing pulled, nothing to measure
    });
  }

  #open(): number {
    return this.#input.pulled - this.#outcomes.yielded - this.#discarded;
  }

  #start(): void {
    const signal = this.#signal;
    this.#onStart();
    this.#phase = 'running';
    this.#elu.start();
    for (const runner of this.#runners) runner.startRun?.();
    this.#readBounds(); // a batching stage keeps its B from an earlier run
    if (signal?.aborted) {
      this.#settleAtStart(new SluiceAbortError(signal.reason));
      return;
    }
    try {
      this.#input.open();
    } catch (error) {
      this.#settleAtStart(error);
      return;
    }
    if (signal) {
      const onAbort = (): void => this.#cancel(new SluiceAbortError(signal.reason), signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unsubscribes.push(() => signal.removeEventListener('abort', onAbort));
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
      if (runner.onCapacityChange) this.#unsubscribes.push(runner.onCapacityChange(() => this.#readBounds(true)));
    }
    this.#pump();
  }

  /** Bounds that follow a stage's capacity (a batching stage's B), read again when a capacity moves (then pump). */
  #readBounds(pump = false): void {
    this.#stages.refreshBounds();
    this.#outcomes.bound = outputBound(this.#opts, this.#runners);
    if (pump) this.#pump();
  }

  /** The run ends before it pulled anything (aborted already, or the input has no iterator). */
  #settleAtStart(error: unknown): void {
    this.#phase = 'settled';
    this.#elu.stop();
    this.#outcomes.endError = error;
    this.#onSettle();
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
        this.#stages.release(last);
        // Each boundary, from the last to the first: buffered work enters the next stage, which
        // makes room for finished work held by the stage before, and so on until neither moves.
        for (let i = last - 1; i >= 0; i--) {
          this.#admitFromBuffer(i + 1);
          while (this.#stages.release(i) && this.#admitFromBuffer(i + 1));
        }
        this.#input.pull();
        this.#deliver();
        this.#checkSettled();
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
  }

  /** Buffered work enters stage `i` while it has free slots; true if anything entered. */
  #admitFromBuffer(i: number): boolean {
    let admitted = false;
    for (let item = this.#stages.admit(i); item !== undefined; item = this.#stages.admit(i)) {
      this.#startItem(i, item);
      admitted = true;
    }
    return admitted;
  }

  /** The task at `index` was pulled: it enters the first stage. */
  #take(index: number, value: unknown): void {
    const open = this.#open();
    if (open > this.#peakOpen) this.#peakOpen = open;
    if (this.#phase !== 'running') {
      // Arrived after the run stopped admitting (stopOnError): it never started.
      this.#discarded += 1;
      return;
    }
    this.#startItem(0, newItem(this.#key, index, value));
  }

  #startItem(i: number, item: Item): void {
    const runner = this.#runners[i]!;
    this.#stages.enter(i);
    let promise: Promise<unknown>;
    try {
      // A task whose key was refused never runs (./keys.ts).
      promise = item.refused ? Promise.reject(item.refused) : runner.run(item.value, item, this.#controller.signal);
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => this.#finished(i, item, true, value),
      (error: unknown) => this.#finished(i, item, false, error),
    );
  }

  #finished(i: number, item: Item, ok: boolean, result: unknown): void {
    const state = this.#stages.states[i]!;
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
        this.#stages.holdOutcome(i, item, { ok: true, task: item.task, index: item.index, key: item.key, value: result });
      } else {
        this.#stages.hold(i, item);
      }
    } else {
      state.failed += 1;
      this.#failed += 1;
      const counted = result instanceof StageFailure;
      const outcome: Failed = {
        ok: false,
        task: item.task,
        index: item.index,
        key: item.key,
        stage: (counted ? result.stage : undefined) ?? this.#runners[i]!.name,
        error: counted ? result.error : result,
        attempts: counted ? result.attempts : 1,
      };
      if (this.#opts.stopOnError && this.#outcomes.endError === undefined) {
        this.#outcomes.endError = new SluiceTaskError(outcome);
        this.#stopAdmitting();
        state.active -= 1;
        this.#discarded += 1;
        this.#outcomes.skip(item.index);
      } else {
        this.#stages.holdOutcome(i, item, outcome);
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
      this.#outcomes.endError = fatal.error;
      this.#stopAdmitting();
    }
    this.#stages.states[i]!.active -= 1;
    this.#discarded += 1;
    this.#outcomes.skip(item.index);
    this.#pump();
  }

  #stopAdmitting(): void {
    if (this.#phase === 'running') this.#phase = 'stopping';
    // Do not wait for a pull under way: what it yields would be discarded anyway.
    this.#input.abandon();
    this.#input.close();
  }

  /** Abort: admit nothing, drop buffered work, abort what runs; done outcomes are still yielded. */
  #cancel(error: unknown, reason: unknown): void {
    if (this.#phase === 'settled' || this.#phase === 'cancelling' || this.#phase === 'idle') return;
    this.#phase = 'cancelling';
    if (error !== undefined) this.#outcomes.endError = error;
    // Do not wait for a pull under way: an input may take its time; what it yields is ignored.
    this.#input.abandon();
    this.#input.close();
    this.#discarded += this.#stages.clear();
    this.#controller.abort(reason);
    this.#pump();
  }

  #checkSettled(): void {
    if (this.#phase === 'settled' || this.#phase === 'idle' || this.#phase === 'running') return;
    if (this.#input.pulling || !this.#stages.idle()) return;
    this.#phase = 'settled';
    this.#elu.stop();
    for (const unsubscribe of this.#unsubscribes.splice(0)) unsubscribe();
    this.#onSettle();
    this.#outcomes.settled();
    this.#deliver();
  }

  #whenSettled(): Promise<void> {
    if (this.#phase === 'settled') return Promise.resolve();
    return this.#outcomes.whenSettled();
  }

  /** Hand waiting outcomes to waiting `next()` calls; each one handed out may let more be pulled. */
  #deliver(): void {
    if (this.#outcomes.deliver(this.#phase === 'settled')) this.#again = this.#pumping;
  }
}
