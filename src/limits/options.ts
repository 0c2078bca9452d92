/**
 * Bounds and option checks shared by the limit algorithms. Every bad value becomes a
 * `SluiceOptionError` naming the option, what was expected and what was received.
 */
import { SluiceOptionError } from '../errors.js';
import type { LimitBounds } from './limit.js';

/** Bounds with every default applied: integers, 1 <= min <= initial <= max. */
export interface ResolvedBounds {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
}

/** Bounds suited to a batch client: start small, may fall to a single call, cap at 200. */
export const BOUND_DEFAULTS: ResolvedBounds = Object.freeze({ initial: 4, min: 1, max: 200 });

/**
 * Validates `bounds` against `defaults`. A default `initial` outside the given [min, max] is moved
 * inside it; an `initial` the caller gave must already be inside.
 */
export function resolveBounds(bounds: LimitBounds | undefined, defaults = BOUND_DEFAULTS): ResolvedBounds {
  const given = optionsObject(bounds, 'bounds');
  const min = optionalNumber(given.min, 'min', 'an integer >= 1', isCount) ?? defaults.min;
  const max = optionalNumber(given.max, 'max', 'an integer >= 1', isCount) ?? defaults.max;
  if (min > max) {
    if (given.max !== undefined) throw new SluiceOptionError('max', `an integer >= min (${min})`, given.max);
    throw new SluiceOptionError('min', `an integer <= max (${max})`, given.min);
  }
  const initial = optionalNumber(given.initial, 'initial', 'an integer >= 1', isCount);
  if (initial === undefined) return Object.freeze({ initial: clamp(defaults.initial, min, max), min, max });
  if (initial < min || initial > max) {
    throw new SluiceOptionError('initial', `an integer in [min, max] = [${min}, ${max}]`, initial);
  }
  return Object.freeze({ initial, min, max });
}

/** `raw` as a record of options (undefined means none); anything else is an error naming `name`. */
export function optionsObject(raw: unknown, name: string): Readonly<Record<string, unknown>> {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object') throw new SluiceOptionError(name, 'an object of options', raw);
  return raw as Record<string, unknown>;
}

/** A number accepted by `ok`, or undefined when absent. */
export function optionalNumber(value: unknown, option: string, expected: string, ok: (n: number) => boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) {
    throw new SluiceOptionError(option, expected, value);
  }
  return value;
}

/** A number accepted by `ok`; absent is an error too. */
export function requiredNumber(value: unknown, option: string, expected: string, ok: (n: number) => boolean): number {
  const n = optionalNumber(value, option, expected, ok);
  if (n === undefined) throw new SluiceOptionError(option, expected, value);
  return n;
}

/** A safe integer >= 1. */
export function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
