/**
 * Where a run's work sits: each stage's slots (a task running, or finished and held in its slot
 * until there is room after the stage) and the bounded buffers between the stages. The scheduler
 * (run.ts) decides when work moves; this part moves it and keeps the counts.
 */
import type { Outcome } from '../outcome.js';
import type { StageFailure, StageRunner } from '../stages/runner.js';
import type { Outcomes } from './outcomes.js';
import type { RunCounters, StageCounters } from './stats.js';

/** A task on its way through the stages. */
export interface Item {
  readonly index: number;
  readonly task: unknown;
  /** The input of the next stage: the task, then each stage's result. */
  value: unknown;
  /** What the run's `key` function returned (./keys.ts); undefined without one, or when it was refused. */
  readonly key: string | undefined;
  /** Why the task's key was refused: it fails at the first stage without running. */
  readonly refused?: StageFailure;
}

/** A finished piece of work waiting to move on: an item for the next stage, or a final outcome. */
type Finished = { readonly item: Item; readonly outcome?: undefined } | { readonly item: Item; readonly outcome: Outcome };

export class StageState implements StageCounters {
  /** Slots taken: tasks running, or finished and held (and a pending pull's reservation). */
  active = 0;
  peakActive = 0;
  peakCapacity = 0;
  running = 0;
  peakRunning = 0;
  completed = 0;
  failed = 0;
  readonly held: Finished[] = [];
}

export class Stages {
  readonly states: readonly StageState[];
  readonly #runners: readonly StageRunner[];
  readonly #bounds: readonly number[];
  /** The bounds were given (the executor's `buffer`): none follows a stage's capacity. */
  readonly #fixed: boolean;
  readonly #outcomes: Outcomes;
  /** buffers[i]: the work between stage i and stage i + 1. */
  readonly #buffers: Item[][];
  readonly #bufferPeaks: number[];
  readonly #boundPeaks: number[];
  /** Each buffer's bound now, read again when a capacity moves (./run.ts). */
  readonly #current: number[];
  /** Payloads that finished a stage and wait for the next one, buffered or held in their slot. */
  #payloads = 0;
  #peakPayloads = 0;

  constructor(runners: readonly StageRunner[], bounds: readonly number[], fixed: boolean, outcomes: Outcomes) {
    this.#runners = runners;
    this.#bounds = bounds;
    this.#fixed = fixed;
    this.#outcomes = outcomes;
    this.states = runners.map(() => new StageState());
    this.#buffers = bounds.map(() => []);
    this.#bufferPeaks = bounds.map(() => 0);
    this.#boundPeaks = bounds.map(() => 0);
    this.#current = [...bounds];
    this.refreshBounds();
  }

  /** Stage `i` has a free slot. */
  free(i: number): boolean {
    return this.states[i]!.active < this.#runners[i]!.capacity;
  }

  /** A task takes a slot of stage `i` and runs. */
  enter(i: number): void {
    const state = this.states[i]!;
    const capacity = this.#runners[i]!.capacity;
    if (capacity > state.peakCapacity) state.peakCapacity = capacity;
    state.active += 1;
    state.running += 1;
    if (state.active > state.peakActive) state.peakActive = state.active;
    if (state.running > state.peakRunning) state.peakRunning = state.running;
  }

  /** Stage `i` finished `item`, which holds its slot until the buffer after the stage has room. */
  hold(i: number, item: Item): void {
    this.#payloads += 1;
    if (this.#payloads > this.#peakPayloads) this.#peakPayloads = this.#payloads;
    this.states[i]!.held.push({ item });
  }

  /** `item` ended in stage `i` with `outcome`, which holds the slot until the output has room. */
  holdOutcome(i: number, item: Item, outcome: Outcome): void {
    this.states[i]!.held.push({ item, outcome });
  }

  /** Finished work held by stage `i` moves to its buffer (or the output) where there is room. */
  release(i: number): boolean {
    const state = this.states[i]!;
    const held = state.held;
    if (held.length === 0) return false;
    // Compact in place: what moves on leaves, what stays keeps its order.
    let kept = 0;
    for (let k = 0; k < held.length; k++) {
      const f = held[k]!;
      if (f.outcome !== undefined ? this.#outcomes.emit(f.outcome) : this.#enqueue(i, f.item)) state.active -= 1;
      else held[kept++] = f;
    }
    const moved = kept < held.length;
    held.length = kept;
    return moved;
  }

  /**
   * The bound of the buffer after stage `i` now: as resolved, or, in front of a batching cpu stage
   * (and no `buffer` given), the stage's capacity, (threads + 1) x B, so a whole batch can be refilled at once.
   */
  bound(i: number): number {
    return this.#current[i]!;
  }

  /** Reads the bounds again: a stage's capacity moved (the run calls this when a runner says so). */
  refreshBounds(): void {
    for (let i = 0; i < this.#bounds.length; i++) {
      const bound = this.#bounds[i]!;
      const next = this.#runners[i + 1]!;
      this.#current[i] = this.#fixed || next.followsCapacity !== true ? bound : Math.max(bound, next.capacity);
    }
  }

  #enqueue(i: number, item: Item): boolean {
    const buffer = this.#buffers[i]!;
    const bound = this.#current[i]!;
    if (buffer.length >= bound) return false;
    if (bound > this.#boundPeaks[i]!) this.#boundPeaks[i] = bound;
    buffer.push(item);
    if (buffer.length > this.#bufferPeaks[i]!) this.#bufferPeaks[i] = buffer.length;
    return true;
  }

  /** The next buffered item for stage `i` when the stage has a free slot, leaving its buffer. */
  admit(i: number): Item | undefined {
    const buffer = this.#buffers[i - 1]!;
    if (buffer.length === 0 || !this.free(i)) return undefined;
    this.#payloads -= 1;
    return buffer.shift();
  }

  /**
   * An abort: every buffer and every held piece of work leaves; held outcomes still go to the
   * output (past its bound). Returns how many items were dropped.
   */
  clear(): number {
    let dropped = 0;
    for (const buffer of this.#buffers) {
      dropped += buffer.length;
      buffer.length = 0;
    }
    this.#payloads = 0;
    for (const state of this.states) {
      for (const f of state.held) {
        state.active -= 1;
        if (f.outcome !== undefined) this.#outcomes.emit(f.outcome, true);
        else dropped += 1;
      }
      state.held.length = 0;
    }
    return dropped;
  }

  /** No slot taken and no buffered work: the stages are done. */
  idle(): boolean {
    for (const s of this.states) if (s.active > 0) return false;
    for (const b of this.#buffers) if (b.length > 0) return false;
    return true;
  }

  /** The counts `stats()` reports for the stages and buffers. */
  counters(): Pick<RunCounters, 'stages' | 'buffers' | 'buffered'> {
    return {
      stages: this.states,
      buffers: this.#buffers.map((buffer, i) => ({
        size: buffer.length,
        peak: this.#bufferPeaks[i]!,
        bound: this.bound(i),
        peakBound: this.#boundPeaks[i]!,
      })),
      buffered: { size: this.#payloads, peak: this.#peakPayloads },
    };
  }
}
