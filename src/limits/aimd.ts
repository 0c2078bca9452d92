/**
 * AIMD (additive increase, multiplicative decrease), after Netflix concurrency-limits' AIMDLimit,
 * which applies TCP Reno's congestion-window rule to a concurrency limit:
 *
 *   on a drop, or rtt > timeoutMs:   limit' = min(limit − 1, limit × backoffRatio)
 *   on success, not app-limited:     limit' = limit + increase
 *   on success, app-limited:         limit' = limit          (inflight < current / 2)
 *
 * Netflix truncates to an integer every step; here the fraction is kept and the base rounds, so a
 * run of drops from 20 goes 18, 16.2, 14.58, ... The `limit − 1` term makes every drop visible
 * at small limits, where × 0.9 alone would round back to the same integer.
 */
import { AlgorithmLimit, appLimited, type LimitState } from './base.js';
import type { LimitBounds, Sample } from './limit.js';
import { BOUND_DEFAULTS, optionalNumber, optionsObject, resolveBounds } from './options.js';

export interface AimdOptions extends LimitBounds {
  /** Factor applied to the limit on a drop, in [0.5, 1). @default 0.9 */
  readonly backoffRatio?: number;
  /** Added to the limit on each success while the slots are used. @default 1 */
  readonly increase?: number;
  /** A success slower than this counts as a drop. @default Infinity (only real drops count) */
  readonly timeoutMs?: number;
}

export const AIMD_DEFAULTS = Object.freeze({
  ...BOUND_DEFAULTS,
  backoffRatio: 0.9,
  increase: 1,
  timeoutMs: Number.POSITIVE_INFINITY,
});

/** An AIMD limit: +`increase` per success, × `backoffRatio` (at least −1) per drop. */
export function aimdLimit(options?: AimdOptions): AlgorithmLimit<LimitState> {
  const given = optionsObject(options, 'options');
  const bounds = resolveBounds(options, AIMD_DEFAULTS);
  const backoffRatio =
    optionalNumber(given.backoffRatio, 'backoffRatio', 'a number in [0.5, 1)', (n) => n >= 0.5 && n < 1) ?? AIMD_DEFAULTS.backoffRatio;
  const increase =
    optionalNumber(given.increase, 'increase', 'a finite number > 0', (n) => Number.isFinite(n) && n > 0) ?? AIMD_DEFAULTS.increase;
  const timeoutMs = optionalNumber(given.timeoutMs, 'timeoutMs', 'a number > 0', (n) => n > 0) ?? AIMD_DEFAULTS.timeoutMs;

  const update = (state: LimitState, sample: Sample): LimitState => {
    const limit = state.estimate;
    if (sample.dropped || sample.rttMs > timeoutMs) {
      return { estimate: Math.min(limit - 1, limit * backoffRatio) };
    }
    if (appLimited(sample, limit)) return state;
    return { estimate: limit + increase };
  };
  return new AlgorithmLimit(update, { estimate: bounds.initial }, bounds, { backoffRatio, increase, timeoutMs });
}
