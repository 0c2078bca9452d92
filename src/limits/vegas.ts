/**
 * Vegas, after Netflix concurrency-limits' VegasLimit, itself after TCP Vegas (Brakmo & Peterson,
 * 1994): estimate the queue the limit builds at the service from how far the rtt has risen above
 * the rtt with no load, and keep that queue between alpha and beta.
 *
 *   L = max(1, floor(log10(floor(limit))))          alpha = 3L, beta = 6L, threshold = L
 *   on a drop:  target = limit − L
 *   otherwise:  every probeMultiplier × limit samples, rtt_noload = rtt (probe; limit unchanged)
 *               if no rtt_noload yet, or rtt < rtt_noload: rtt_noload = rtt (limit unchanged)
 *               if app-limited (inflight < current / 2): limit unchanged
 *               queue = ceil(limit × (1 − rtt_noload / rtt))
 *               queue <= threshold: target = limit + beta   (no queueing: grow fast)
 *               queue <  alpha:     target = limit + L
 *               queue >  beta:      target = limit − L
 *               else:               limit unchanged
 *   limit' = (1 − smoothing) × limit + smoothing × clamp(target, min, max)
 *
 * Differences from Netflix: the probe fires at a fixed count (Netflix adds a random jitter in
 * [0.5, 1), which would make the step impure); a drop's rtt never becomes rtt_noload (a refused
 * connection returns fast and would pin the baseline low); samples with rtt 0 carry no latency.
 */
import { AlgorithmLimit, appLimited, type LimitState } from './base.js';
import type { LimitBounds, Sample } from './limit.js';
import { BOUND_DEFAULTS, clamp, isCount, optionalNumber, optionsObject, resolveBounds } from './options.js';
import type { ResolvedBounds } from './options.js';

export interface VegasOptions extends LimitBounds {
  /** Weight of the new target in the limit, in (0, 1]. @default 1 */
  readonly smoothing?: number;
  /** Re-measure rtt_noload every `probeMultiplier × limit` samples. @default 30 */
  readonly probeMultiplier?: number;
}

export interface VegasState extends LimitState {
  /** The smallest rtt since the last probe; 0 until the first sample. */
  readonly rttNoLoad: number;
  /** Successes since the last probe. */
  readonly probeCount: number;
}

export const VEGAS_DEFAULTS = Object.freeze({ ...BOUND_DEFAULTS, smoothing: 1, probeMultiplier: 30 });

/** A Vegas limit: grows while the rtt stays near its no-load minimum, shrinks as a queue builds. */
export function vegasLimit(options?: VegasOptions): AlgorithmLimit<VegasState> {
  const given = optionsObject(options, 'options');
  const bounds = resolveBounds(options, VEGAS_DEFAULTS);
  const smoothing =
    optionalNumber(given['smoothing'], 'smoothing', 'a number in (0, 1]', (n) => n > 0 && n <= 1) ??
    VEGAS_DEFAULTS.smoothing;
  const probeMultiplier =
    optionalNumber(given['probeMultiplier'], 'probeMultiplier', 'an integer >= 1', isCount) ??
    VEGAS_DEFAULTS.probeMultiplier;

  const update = (state: VegasState, sample: Sample, b: ResolvedBounds): VegasState => {
    const limit = state.estimate;
    const log = Math.max(1, Math.floor(Math.log10(Math.floor(limit))));
    const toward = (target: number): VegasState => ({
      ...state,
      estimate: (1 - smoothing) * limit + smoothing * clamp(target, b.min, b.max),
    });
    if (sample.dropped) return toward(limit - log);
    const rtt = sample.rttMs;
    if (rtt <= 0) return state;
    const probeCount = state.probeCount + 1;
    if (probeCount >= probeMultiplier * limit) return { estimate: limit, rttNoLoad: rtt, probeCount: 0 };
    if (state.rttNoLoad === 0 || rtt < state.rttNoLoad) return { estimate: limit, rttNoLoad: rtt, probeCount };
    const counted = { ...state, probeCount };
    if (appLimited(sample, limit)) return counted;
    const queue = Math.ceil(limit * (1 - state.rttNoLoad / rtt));
    let target: number;
    if (queue <= log) target = limit + 6 * log;
    else if (queue < 3 * log) target = limit + log;
    else if (queue > 6 * log) target = limit - log;
    else return counted;
    return { ...toward(target), probeCount };
  };
  return new AlgorithmLimit<VegasState>(update, { estimate: bounds.initial, rttNoLoad: 0, probeCount: 0 }, bounds);
}
