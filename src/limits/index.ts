/**
 * The limit algorithms, as one public and composable part (after Netflix's concurrency-limits): a
 * factory per algorithm, a windowing decorator, and `createLimit`, which resolves an io service's
 * `limit` option: a number is a fixed limit, a name picks an algorithm (with its parameters), a
 * `Limit` object is used as it is.
 *
 * `LIMIT_ALGORITHMS` is the one list of algorithm names, each with its parameters and their
 * defaults: `LimitSpec`, `createLimit`'s checks and the CLI's config schema and messages all derive
 * from it.
 */
import { SluiceOptionError } from '../errors.js';
import { AIMD_DEFAULTS, aimdLimit, type AimdOptions } from './aimd.js';
import { fixedLimit } from './fixed.js';
import { GRADIENT2_DEFAULTS, gradient2Limit, type Gradient2Options } from './gradient2.js';
import type { Limit, LimitBounds } from './limit.js';
import { BOUND_DEFAULTS, optionsObject, resolveBounds } from './options.js';
import { VEGAS_DEFAULTS, vegasLimit, type VegasOptions } from './vegas.js';
import { resolveWindowOptions, windowedLimit, type WindowOptions } from './windowed.js';

export type { Limit, LimitBounds, Sample } from './limit.js';
export { AlgorithmLimit, type LimitState, type Update } from './base.js';
export { BOUND_DEFAULTS, type ResolvedBounds } from './options.js';
export { fixedLimit } from './fixed.js';
export { aimdLimit, AIMD_DEFAULTS, type AimdOptions } from './aimd.js';
export { vegasLimit, VEGAS_DEFAULTS, type VegasOptions, type VegasState } from './vegas.js';
export { gradient2Limit, GRADIENT2_DEFAULTS, type Gradient2Options, type Gradient2State } from './gradient2.js';
export { windowedLimit, WINDOW_DEFAULTS, type WindowOptions } from './windowed.js';

/**
 * Every algorithm a limit may be named by, each with the defaults of the parameters it takes (its
 * keys are those parameters). `fixed` takes the bounds only and holds `initial`.
 */
export const LIMIT_ALGORITHMS = Object.freeze({
  fixed: BOUND_DEFAULTS,
  aimd: AIMD_DEFAULTS,
  vegas: VEGAS_DEFAULTS,
  gradient2: GRADIENT2_DEFAULTS,
});

/** The name of an algorithm: a key of `LIMIT_ALGORITHMS`. */
export type LimitAlgorithm = keyof typeof LIMIT_ALGORITHMS;

/** How a service names its limit: a number (fixed), an algorithm's name, or a `Limit` object. */
export type LimitSpec = number | LimitAlgorithm | Limit;

/** The parameters each algorithm takes, by name. */
export interface LimitParameters {
  readonly fixed: LimitBounds;
  readonly aimd: AimdOptions;
  readonly vegas: VegasOptions;
  readonly gradient2: Gradient2Options;
}

/**
 * The algorithm an adaptive limit uses when the user names none: Vegas, whose no-load rtt is a
 * minimum rather than an average, so it holds one or two calls queued at the service as capacity
 * changes (bench/results/adaptive.md: within 10% of the best fixed limit in every phase, back to
 * steady in about 1 s), where Gradient2 lets its long-term rtt follow the queue it builds.
 * Unnamed, it takes only the bounds (the algorithm behind it may change).
 */
export const ADAPTIVE_DEFAULT: LimitAlgorithm = 'vegas';

/** `createLimit`'s options: the named algorithm's parameters, and windowing. */
export type LimitOptions<A extends LimitAlgorithm = LimitAlgorithm> = LimitParameters[A] & {
  /** Feed the limit one aggregated sample per window instead of every sample. @default false */
  readonly windowed?: boolean | WindowOptions;
};

/** Whether `value` has the shape of a `Limit` (current, subscribe, sample). */
export function isLimit(value: unknown): value is Limit {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.current === 'number' && typeof v.subscribe === 'function' && typeof v.sample === 'function';
}

/** Whether `name` is one of `LIMIT_ALGORITHMS`. */
export function isLimitAlgorithm(name: unknown): name is LimitAlgorithm {
  return typeof name === 'string' && Object.hasOwn(LIMIT_ALGORITHMS, name);
}

/**
 * The parameters `spec` takes: the keys of its `LIMIT_ALGORITHMS` entry; no spec (the adaptive
 * default) takes the bounds only.
 */
export function limitParameters(spec: LimitAlgorithm | undefined): readonly string[] {
  return Object.keys(spec === undefined ? BOUND_DEFAULTS : LIMIT_ALGORITHMS[spec]);
}

/**
 * Resolves `spec` into a `Limit`; no spec means `ADAPTIVE_DEFAULT`. A named algorithm takes the
 * parameters its `LIMIT_ALGORITHMS` entry lists (any other is an error; no spec takes the bounds
 * only); a number n is `fixedLimit(n)` and a `Limit` object is used as it is, the options applying
 * to neither. `windowed` wraps the result in `windowedLimit`.
 * @example createLimit('aimd', { initial: 8, max: 64 })
 * @example createLimit('vegas', { alpha: 2, max: 64, windowed: { windowMs: 500 } })
 */
export function createLimit<A extends LimitAlgorithm>(spec: A, options?: LimitOptions<A>): Limit;
export function createLimit(spec: LimitSpec | undefined, options?: LimitOptions): Limit;
export function createLimit(spec: LimitSpec | undefined, options?: LimitOptions): Limit {
  const { windowed, ...parameters } = optionsObject(options, 'limitOptions');
  const limit = resolveSpec(spec, parameters);
  if (windowed === undefined || windowed === false) return limit;
  if (windowed === true) return windowedLimit(limit);
  return windowedLimit(limit, resolveWindowOptions(windowed, 'windowed.'));
}

const KNOWN_NAMES = Object.keys(LIMIT_ALGORITHMS)
  .map((name) => `"${name}"`)
  .join(', ');

function resolveSpec(spec: LimitSpec | undefined, parameters: Readonly<Record<string, unknown>>): Limit {
  if (isLimit(spec)) return spec;
  if (typeof spec === 'number') return fixedLimit(spec);
  if (spec !== undefined && !isLimitAlgorithm(spec)) {
    throw new SluiceOptionError('limit', `an integer >= 1, a Limit, or one of ${KNOWN_NAMES}`, spec);
  }
  const known = limitParameters(spec);
  for (const key of Object.keys(parameters)) {
    if (!known.includes(key) && parameters[key] !== undefined) {
      const of = spec === undefined ? `the adaptive default (${ADAPTIVE_DEFAULT}, unnamed)` : spec;
      throw new SluiceOptionError(key, `one of the parameters of ${of}: ${[...known, 'windowed'].join(', ')}`, key);
    }
  }
  switch (spec ?? ADAPTIVE_DEFAULT) {
    case 'fixed':
      return fixedLimit(resolveBounds(parameters).initial);
    case 'aimd':
      return aimdLimit(parameters as AimdOptions);
    case 'vegas':
      return vegasLimit(parameters as VegasOptions);
    case 'gradient2':
      return gradient2Limit(parameters as Gradient2Options);
  }
}
