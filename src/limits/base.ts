/**
 * The base every algorithm runs in. An algorithm is a pure transition
 * `update(state, sample, bounds) -> state` over a state that carries a fractional `estimate`;
 * the base owns the rest of the `Limit` contract:
 *
 *   next      = update(state, sample, bounds)
 *   estimate' = clamp(next.estimate, min, max)
 *   if inflight < current / 2 and estimate' > estimate:  estimate' = estimate   (app-limited guard)
 *   current'  = round(estimate')       (half rounds up; min >= 1, so current' >= 1)
 *   listeners get current' only when current' != current
 *
 * The guard only stops raising: a drop still lowers the limit while few slots are in use, since an
 * idle job proves nothing about capacity but a loss is a loss. A sample whose rtt or inflight is
 * not a finite number >= 0 is no measurement and is skipped. No timers: time comes in samples.
 */
import { SluiceOptionError } from '../errors.js';
import type { Limit, Sample } from './limit.js';
import { clamp, resolveBounds, type ResolvedBounds } from './options.js';

/** What every algorithm state carries: the unrounded limit, kept within [min, max]. */
export interface LimitState {
  readonly estimate: number;
}

/** One step of an algorithm: pure, no clock but the sample's, no I/O. */
export type Update<S extends LimitState> = (state: S, sample: Sample, bounds: ResolvedBounds) => S;

/** The integer limit an estimate stands for (the estimate is already within [min, max]). */
function currentOf(estimate: number): number {
  return Math.max(1, Math.round(estimate));
}

/** Fewer than half the slots were in use when this call started: its latency says little. */
export function appLimited(sample: Sample, estimate: number): boolean {
  return sample.inflight < currentOf(estimate) / 2;
}

/**
 * A `Limit` driven by a pure update; `state` exposes the algorithm's state for diagnostics. Every
 * built-in algorithm is one; it is public so a custom algorithm needs only its update rule:
 *
 * ```ts
 * // +1 per success, halved on a drop: the clamp, rounding, app-limited guard and listeners come with the base.
 * const halving = new AlgorithmLimit(
 *   (state, sample) => ({ estimate: sample.dropped ? state.estimate / 2 : state.estimate + 1 }),
 *   { estimate: 4 },
 *   { initial: 4, min: 1, max: 64 },
 * );
 * service('docs', { limit: windowedLimit(halving) });
 * ```
 *
 * `min` and `max` must be integers with 1 <= min <= max (else `SluiceOptionError`); the initial
 * state's estimate is clamped into them.
 */
export class AlgorithmLimit<S extends LimitState> implements Limit {
  readonly bounds: ResolvedBounds;
  /** Every parameter the algorithm runs with, defaults applied: the bounds, then its own (for diagnostics). */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly #update: Update<S>;
  readonly #listeners = new Set<(limit: number) => void>();
  #state: S;
  #current: number;

  constructor(update: Update<S>, initial: S, bounds: ResolvedBounds, parameters: Readonly<Record<string, unknown>> = {}) {
    if (typeof update !== 'function') throw new SluiceOptionError('update', 'a function (state, sample, bounds) => state', update);
    resolveBounds({ min: bounds.min, max: bounds.max });
    this.bounds = bounds;
    this.parameters = Object.freeze({ initial: bounds.initial, min: bounds.min, max: bounds.max, ...parameters });
    this.#update = update;
    this.#state = { ...initial, estimate: clamp(initial.estimate, bounds.min, bounds.max) };
    this.#current = currentOf(this.#state.estimate);
  }

  get current(): number {
    return this.#current;
  }

  /** The algorithm's state after the last sample. */
  get state(): S {
    return this.#state;
  }

  subscribe(listener: (limit: number) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  sample(sample: Sample): void {
    if (!isMeasurement(sample.rttMs) || !isMeasurement(sample.inflight)) return;
    const prev = this.#state;
    const next = this.#update(prev, sample, this.bounds);
    let estimate = clamp(next.estimate, this.bounds.min, this.bounds.max);
    if (Number.isNaN(estimate) || (estimate > prev.estimate && appLimited(sample, prev.estimate))) {
      estimate = prev.estimate;
    }
    this.#state = estimate === next.estimate ? next : { ...next, estimate };
    const current = currentOf(estimate);
    if (current === this.#current) return;
    this.#current = current;
    for (const listener of [...this.#listeners]) listener(current);
  }
}

function isMeasurement(n: number): boolean {
  return Number.isFinite(n) && n >= 0;
}
