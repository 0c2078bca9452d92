/**
 * Fixed limit, after Netflix concurrency-limits' FixedLimit:
 *
 *   limit' = limit        (samples are taken and ignored)
 *
 * What a plain number as an io stage's limit means.
 */
import { AlgorithmLimit, type LimitState } from './base.js';
import { isCount, requiredNumber } from './options.js';

/** A limit of `limit` concurrent calls (an integer >= 1) that never changes. */
export function fixedLimit(limit: number): AlgorithmLimit<LimitState> {
  const n = requiredNumber(limit, 'limit', 'an integer >= 1', isCount);
  return new AlgorithmLimit<LimitState>((state) => state, { estimate: n }, { initial: n, min: n, max: n });
}
