/**
 * Vegas, after Netflix concurrency-limits' VegasLimit, itself after TCP Vegas (Brakmo & Peterson,
 * 1994): estimate the queue the limit builds at the service from how far the rtt has risen above
 * the rtt with no load, and keep that queue between alpha and beta.
 *
 *   L = max(1, floor(log10(floor(limit))))     alpha = a × L, beta = b × L, threshold = L
 *   (a, b = the `alpha`, `beta` options: 1 and 2 by default; Netflix's are 3 and 6)
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
 *
 * Defaults tuned for a batch client (bench/adaptive/dev.ts: C_s 10 → 3 → 10 at 20 ms): Netflix's
 * alpha 3L / beta 6L keep 3 to 6 calls queued at the service, which the service's other users
 * wait behind (at C_s = 3, 20 ms: +20 to +40 ms each); a = 1, b = 2 keeps one or two, and the
 * limit near C_s + 1. (b = 1 held one, but at 5 ms rtt the client's own rtt noise already reads
 * as a queue of 2 at a limit of 8, and it stayed below that at C_s = 24.) Smoothing 0.2 (Netflix: 1) because samples come at the service's whole rate
 * (hundreds per rtt): unsmoothed, +beta per sample overshoots by a whole rtt's worth of samples
 * before the latency answers. probeMultiplier 1000 (Netflix: 30), about one probe per 1000 rtts:
 * a probe takes the rtt of a loaded moment as the new no-load rtt, and every 30 rtts (under a
 * second at 20 ms) that ratcheted the baseline up and left a standing queue after a capacity drop.
 */
import { AlgorithmLimit, appLimited, type LimitState } from './base.js';
import type { LimitBounds, Sample } from './limit.js';
import { BOUND_DEFAULTS, clamp, isCount, optionalNumber, optionsObject, resolveBounds } from './options.js';
import type { ResolvedBounds } from './options.js';

export interface VegasOptions extends LimitBounds {
  /** Weight of the new target in the limit, in (0, 1]. @default 0.2 */
  readonly smoothing?: number;
  /** Re-measure rtt_noload every `probeMultiplier × limit` samples. @default 1000 */
  readonly probeMultiplier?: number;
  /** Below `alpha × L` queued calls the limit grows by L. @default 1 (Netflix: 3) */
  readonly alpha?: number;
  /**
   * Above `beta × L` queued calls the limit shrinks by L; at most L queued, it grows by beta × L;
   * >= alpha. @default 2 (Netflix: 6)
   */
  readonly beta?: number;
}

export interface VegasState extends LimitState {
  /** The smallest rtt since the last probe; 0 until the first sample. */
  readonly rttNoLoad: number;
  /** Successes since the last probe. */
  readonly probeCount: number;
}

export const VEGAS_DEFAULTS = Object.freeze({ ...BOUND_DEFAULTS, smoothing: 0.2, probeMultiplier: 1000, alpha: 1, beta: 2 });

/** A Vegas limit: grows while the rtt stays near its no-load minimum, shrinks as a queue builds. */
export function vegasLimit(options?: VegasOptions): AlgorithmLimit<VegasState> {
  const given = optionsObject(options, 'options');
  const bounds = resolveBounds(options, VEGAS_DEFAULTS);
  const smoothing = optionalNumber(given.smoothing, 'smoothing', 'a number in (0, 1]', (n) => n > 0 && n <= 1) ?? VEGAS_DEFAULTS.smoothing;
  const probeMultiplier =
    optionalNumber(given.probeMultiplier, 'probeMultiplier', 'an integer >= 1', isCount) ?? VEGAS_DEFAULTS.probeMultiplier;
  const positive = (n: number): boolean => Number.isFinite(n) && n > 0;
  const alpha = optionalNumber(given.alpha, 'alpha', 'a finite number > 0', positive) ?? VEGAS_DEFAULTS.alpha;
  const beta =
    optionalNumber(given.beta, 'beta', `a finite number >= alpha (${alpha})`, (n) => positive(n) && n >= alpha) ??
    Math.max(VEGAS_DEFAULTS.beta, alpha);

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
    if (queue <= log) target = limit + beta * log;
    else if (queue < alpha * log) target = limit + log;
    else if (queue > beta * log) target = limit - log;
    else return counted;
    return { ...toward(target), probeCount };
  };
  return new AlgorithmLimit<VegasState>(update, { estimate: bounds.initial, rttNoLoad: 0, probeCount: 0 }, bounds, {
    smoothing,
    probeMultiplier,
    alpha,
    beta,
  });
}
