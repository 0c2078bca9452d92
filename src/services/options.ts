/** service() options: one defaults object, one resolver that validates. */
import { SluiceOptionError } from '../errors.js';
import { createLimit, type Limit, type LimitSpec } from '../limits/index.js';
import type { RetryPolicy } from './backoff.js';
import type { Classifier } from './classify.js';
import { performance } from 'node:perf_hooks';

export interface ServiceOptions {
  /**
   * A number (a fixed limit), an algorithm's name (`'aimd'`, `'vegas'`, `'gradient2'`, `'fixed'`:
   * a key of `LIMIT_ALGORITHMS`, with its default parameters), or a `Limit` object, such as
   * `windowedLimit(vegasLimit({ alpha: 2 }))` for an algorithm with parameters of your own.
   * @default the adaptive default (`ADAPTIVE_DEFAULT`: 'vegas')
   */
  readonly limit?: LimitSpec;
  /** Starting limit of a named algorithm (not of a number or a `Limit` object). @default 4 */
  readonly initial?: number;
  /** Lowest limit of a named algorithm. @default 1 */
  readonly min?: number;
  /** Highest limit of a named algorithm. @default 200 */
  readonly max?: number;
  /** Per-attempt timeout in ms; a timeout counts as dropped. 0 turns it off. @default 30000 */
  readonly timeoutMs?: number;
  /**
   * Retries of dropped attempts: `false` (none), a number of attempts in all, or a policy.
   * @default { attempts: 3, baseMs: 50, maxMs: 2000 }
   */
  readonly retry?: false | number | Partial<RetryPolicy>;
  /** Classifies an attempt's error or value as success, dropped or ignore; undefined falls back. @default defaultClassify */
  readonly classify?: Classifier;
  /** Longest pause a Retry-After header can impose, in ms. @default 60000 */
  readonly maxRetryAfterMs?: number;
  /** The clock (ms), injected for tests. @default performance.now */
  readonly now?: () => number;
  /** Random numbers in [0, 1) for jitter, injected for tests. @default Math.random */
  readonly random?: () => number;
}

export const SERVICE_DEFAULTS = Object.freeze({
  timeoutMs: 30_000,
  retry: Object.freeze({ attempts: 3, baseMs: 50, maxMs: 2000 }) as RetryPolicy,
  maxRetryAfterMs: 60_000,
});

export interface ResolvedServiceOptions {
  readonly name: string;
  readonly limit: Limit;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly classify: Classifier | undefined;
  readonly maxRetryAfterMs: number;
  readonly now: () => number;
  readonly random: () => number;
}

const KNOWN = new Set(['limit', 'initial', 'min', 'max', 'timeoutMs', 'retry', 'classify', 'maxRetryAfterMs', 'now', 'random']);

export function resolveServiceOptions(name: unknown, o: ServiceOptions): ResolvedServiceOptions {
  if (typeof name !== 'string' || name.length === 0) throw new SluiceOptionError('service name', 'a non-empty string', name);
  if (o === null || typeof o !== 'object') throw new SluiceOptionError(`service "${name}" options`, 'an object', o);
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new SluiceOptionError(`service "${name}".${key}`, `one of ${[...KNOWN].join(', ')}`, key);
  }
  const limit = createLimit(o.limit, {
    ...(o.initial !== undefined ? { initial: o.initial } : {}),
    ...(o.min !== undefined ? { min: o.min } : {}),
    ...(o.max !== undefined ? { max: o.max } : {}),
  });
  const timeoutMs = timerMs(o.timeoutMs, `service "${name}".timeoutMs`) ?? SERVICE_DEFAULTS.timeoutMs;
  const retry = resolveRetry(o.retry, `service "${name}".retry`);
  const maxRetryAfterMs = timerMs(o.maxRetryAfterMs, `service "${name}".maxRetryAfterMs`) ?? SERVICE_DEFAULTS.maxRetryAfterMs;
  for (const key of ['classify', 'now', 'random'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'function') throw new SluiceOptionError(`service "${name}".${key}`, 'a function', o[key]);
  }
  return {
    name,
    limit,
    timeoutMs,
    retry,
    classify: o.classify,
    maxRetryAfterMs,
    now: o.now ?? (() => performance.now()),
    random: o.random ?? Math.random,
  };
}

function resolveRetry(raw: ServiceOptions['retry'], path: string): RetryPolicy {
  const d = SERVICE_DEFAULTS.retry;
  if (raw === undefined) return d;
  if (raw === false) return { ...d, attempts: 1 };
  if (typeof raw === 'number') return { ...d, attempts: positiveInt(raw, path) };
  if (raw === null || typeof raw !== 'object')
    throw new SluiceOptionError(path, 'false, a number of attempts, or { attempts, baseMs, maxMs }', raw);
  return {
    attempts: raw.attempts === undefined ? d.attempts : positiveInt(raw.attempts, `${path}.attempts`),
    baseMs: timerMs(raw.baseMs, `${path}.baseMs`) ?? d.baseMs,
    maxMs: timerMs(raw.maxMs, `${path}.maxMs`) ?? d.maxMs,
  };
}

function positiveInt(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new SluiceOptionError(path, 'an integer >= 1', v);
  return v;
}

/** A delay setTimeout honours: it fires at once for one above 2^31 - 1 ms (about 24.8 days). */
function timerMs(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v >= 0 && v <= 2_147_483_647)) throw new SluiceOptionError(path, 'a number of ms from 0 to 2147483647', v);
  return v;
}
