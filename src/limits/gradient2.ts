/**
 * Gradient2, after Netflix concurrency-limits' Gradient2Limit: compare the latest rtt with a
 * long-term average of rtt, and shrink the limit in proportion as the former rises above it.
 *
 *   on a drop:  limit' = min(limit − 1, limit × backoffRatio)          (not in Netflix; see below)
 *   otherwise:  queue = queueSize(floor(limit))
 *               short = rtt
 *               long  = mean of the first `warmup` rtts, then long + (rtt − long) × 2 / (longWindow + 1)
 *               if long / short > 2: stored long = long × 0.95          (drift: recover after overload)
 *               if app-limited (inflight < current / 2): limit unchanged
 *               gradient = max(0.5, min(1, tolerance × long / short))  (long before the × 0.95)
 *               limit' = limit × (1 − smoothing) + (limit × gradient + queue) × smoothing
 *
 * Netflix ignores drops; a batch client must back off on 429s and timeouts, so a drop decreases
 * multiplicatively as AIMD does, and its rtt (a timeout, or a fast refusal) is not measured.
 * Netflix's constant queueSize 4 keeps the limit above 2 × 4 = 8 on latency alone (at gradient
 * 0.5, limit × 0.5 + 4 >= limit while limit <= 8); the default here, max(1, floor(sqrt(limit))),
 * lets a slow service pull the limit down to 2 while growing by about sqrt(limit) × smoothing per
 * sample at high limits.
 */
import { AlgorithmLimit, appLimited, type LimitState } from './base.js';
import type { LimitBounds, Sample } from './limit.js';
import { BOUND_DEFAULTS, isCount, optionalNumber, optionsObject, resolveBounds } from './options.js';
import { SluiceOptionError } from '../errors.js';

export interface Gradient2Options extends LimitBounds {
  /** Weight of the new estimate in the limit, in (0, 1]. @default 0.2 */
  readonly smoothing?: number;
  /** How far above the long-term rtt the latest may go before the limit shrinks, >= 1. @default 1.5 */
  readonly tolerance?: number;
  /** Samples in the long-term rtt average (EMA factor 2 / (longWindow + 1)). @default 600 */
  readonly longWindow?: number;
  /** Samples averaged plainly before the EMA starts, >= 1. @default 10 */
  readonly warmup?: number;
  /**
   * Queue allowed on top of the limit: a number >= 0 or a function of floor(limit).
   * @default max(1, floor(sqrt(limit)))
   */
  readonly queueSize?: number | ((limit: number) => number);
  /** Factor applied to the limit on a drop, in [0.5, 1). @default 0.9 */
  readonly backoffRatio?: number;
}

export interface Gradient2State extends LimitState {
  /** The long-term rtt (0 before the first sample). */
  readonly longRtt: number;
  /** Samples in `longRtt` so far, counted up to `warmup`. */
  readonly count: number;
}

export const GRADIENT2_DEFAULTS = Object.freeze({
  ...BOUND_DEFAULTS,
  smoothing: 0.2,
  tolerance: 1.5,
  longWindow: 600,
  warmup: 10,
  /** Reads as its formula (`String(queueSize)`), as the README and `sluice config` show it. */
  queueSize: Object.assign((limit: number): number => Math.max(1, Math.floor(Math.sqrt(limit))), {
    toString: () => 'max(1, floor(sqrt(limit)))',
  }),
  backoffRatio: 0.9,
});

/** A Gradient2 limit: grows by a queue allowance, scaled down as latency rises above its norm. */
export function gradient2Limit(options?: Gradient2Options): AlgorithmLimit<Gradient2State> {
  const given = optionsObject(options, 'options');
  const bounds = resolveBounds(options, GRADIENT2_DEFAULTS);
  const fraction = (n: number): boolean => n > 0 && n <= 1;
  const smoothing = optionalNumber(given.smoothing, 'smoothing', 'a number in (0, 1]', fraction) ?? GRADIENT2_DEFAULTS.smoothing;
  const tolerance =
    optionalNumber(given.tolerance, 'tolerance', 'a finite number >= 1', (n) => Number.isFinite(n) && n >= 1) ??
    GRADIENT2_DEFAULTS.tolerance;
  const longWindow = optionalNumber(given.longWindow, 'longWindow', 'an integer >= 1', isCount) ?? GRADIENT2_DEFAULTS.longWindow;
  const warmup = optionalNumber(given.warmup, 'warmup', 'an integer >= 1', isCount) ?? GRADIENT2_DEFAULTS.warmup;
  const backoffRatio =
    optionalNumber(given.backoffRatio, 'backoffRatio', 'a number in [0.5, 1)', (n) => n >= 0.5 && n < 1) ?? GRADIENT2_DEFAULTS.backoffRatio;
  const queueSize = resolveQueueSize(given.queueSize);
  const factor = 2 / (longWindow + 1);

  const update = (state: Gradient2State, sample: Sample): Gradient2State => {
    const limit = state.estimate;
    if (sample.dropped) return { ...state, estimate: Math.min(limit - 1, limit * backoffRatio) };
    const short = sample.rttMs;
    if (short <= 0) return state;
    const count = Math.min(warmup, state.count + 1);
    const weight = state.count < warmup ? 1 / count : factor; // a plain mean while warming up, then the EMA
    const long = state.longRtt + (short - state.longRtt) * weight;
    const measured = { estimate: limit, longRtt: long / short > 2 ? long * 0.95 : long, count };
    if (appLimited(sample, limit)) return measured;
    const gradient = Math.max(0.5, Math.min(1, (tolerance * long) / short));
    const next = limit * gradient + queueSize(Math.floor(limit));
    return { ...measured, estimate: limit * (1 - smoothing) + next * smoothing };
  };
  const parameters = {
    smoothing,
    tolerance,
    longWindow,
    warmup,
    queueSize: given.queueSize ?? GRADIENT2_DEFAULTS.queueSize,
    backoffRatio,
  };
  return new AlgorithmLimit<Gradient2State>(update, { estimate: bounds.initial, longRtt: 0, count: 0 }, bounds, parameters);
}

function resolveQueueSize(raw: unknown): (limit: number) => number {
  if (raw === undefined) return GRADIENT2_DEFAULTS.queueSize;
  if (typeof raw === 'function') return (limit) => Number((raw as (limit: number) => unknown)(limit));
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return () => raw;
  throw new SluiceOptionError('queueSize', 'a finite number >= 0 or a function (limit) => number', raw);
}
