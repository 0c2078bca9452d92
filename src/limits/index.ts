/**
 * Resolving an io stage's `limit` option into a `Limit`: a number is a fixed limit, a name picks an
 * algorithm (with bounds), a `Limit` object is used as it is. Also a helper that makes a p-limit
 * limiter's `concurrency` follow a limit.
 */
import { SluiceOptionError } from '../errors.js';
import { aimdLimit } from './aimd.js';
import { fixedLimit } from './fixed.js';
import { gradient2Limit } from './gradient2.js';
import type { Limit, LimitBounds, LimitSpec } from './limit.js';
import { optionsObject, resolveBounds } from './options.js';
import { vegasLimit } from './vegas.js';
import { resolveWindowOptions, windowedLimit, type WindowOptions } from './windowed.js';

export type { Limit, LimitBounds, LimitSpec, Sample } from './limit.js';
export { AlgorithmLimit, type LimitState, type Update } from './base.js';
export { BOUND_DEFAULTS, type ResolvedBounds } from './options.js';
export { fixedLimit } from './fixed.js';
export { aimdLimit, AIMD_DEFAULTS, type AimdOptions } from './aimd.js';
export { vegasLimit, VEGAS_DEFAULTS, type VegasOptions, type VegasState } from './vegas.js';
export { gradient2Limit, GRADIENT2_DEFAULTS, type Gradient2Options, type Gradient2State } from './gradient2.js';
export { windowedLimit, WINDOW_DEFAULTS, type WindowOptions } from './windowed.js';

/** The algorithms a limit may be named by. */
export type LimitAlgorithm = Extract<LimitSpec, string>;
export const LIMIT_ALGORITHMS: readonly LimitAlgorithm[] = Object.freeze(['fixed', 'aimd', 'vegas', 'gradient2']);

/**
 * The algorithm an adaptive limit uses when the user names none: Vegas, whose no-load rtt is a
 * minimum rather than an average, so it holds one or two calls queued at the service as capacity
 * changes (bench/results/adaptive.md: within 10% of the best fixed limit in every phase, back to
 * steady in about 1 s), where Gradient2 lets its long-term rtt follow the queue it builds.
 */
export const ADAPTIVE_DEFAULT: LimitAlgorithm = 'vegas';

export interface LimitOptions extends LimitBounds {
  /** Feed the limit one aggregated sample per window instead of every sample. @default false */
  readonly windowed?: boolean | WindowOptions;
}

/** Whether `value` has the shape of a `Limit` (current, subscribe, sample). */
export function isLimit(value: unknown): value is Limit {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['current'] === 'number' && typeof v['subscribe'] === 'function' && typeof v['sample'] === 'function'
  );
}

/**
 * Resolves `spec` into a `Limit`; no spec means `ADAPTIVE_DEFAULT`. Bounds apply to a named
 * algorithm (`'fixed'` holds `initial`); a number n is `fixedLimit(n)` and a `Limit` object is
 * used as it is, bounds applying to neither. `windowed` wraps the result in `windowedLimit`.
 * @example createLimit('aimd', { initial: 8, max: 64 })
 */
export function createLimit(spec: LimitSpec | undefined, options?: LimitOptions): Limit {
  const given = optionsObject(options, 'limitOptions');
  const limit = resolveSpec(spec ?? ADAPTIVE_DEFAULT, options);
  const windowed = given['windowed'];
  if (windowed === undefined || windowed === false) return limit;
  if (windowed === true) return windowedLimit(limit);
  return windowedLimit(limit, resolveWindowOptions(windowed, 'windowed.'));
}

const KNOWN_NAMES = LIMIT_ALGORITHMS.map((name) => `"${name}"`).join(', ');

function resolveSpec(spec: LimitSpec, options: LimitBounds | undefined): Limit {
  if (isLimit(spec)) return spec;
  if (typeof spec === 'number') return fixedLimit(spec);
  switch (spec) {
    case 'fixed':
      return fixedLimit(resolveBounds(options).initial);
    case 'aimd':
      return aimdLimit(bounds(options));
    case 'vegas':
      return vegasLimit(bounds(options));
    case 'gradient2':
      return gradient2Limit(bounds(options));
    default:
      throw new SluiceOptionError('limit', `an integer >= 1, a Limit, or one of ${KNOWN_NAMES}`, spec);
  }
}

/** Only the bounds: an algorithm must not see `windowed` as one of its own options. */
function bounds(options: LimitBounds | undefined): LimitBounds {
  const { initial, min, max } = optionsObject(options, 'limitOptions');
  return { initial, min, max } as LimitBounds;
}

/**
 * Keeps `limiter.concurrency` (a p-limit limiter) equal to `limit.current` until the returned
 * function is called.
 */
export function followLimit(limiter: { concurrency: number }, limit: Limit): () => void {
  limiter.concurrency = limit.current;
  return limit.subscribe((n) => {
    limiter.concurrency = n;
  });
}
