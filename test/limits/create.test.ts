/** createLimit: resolving a spec into a Limit (with an algorithm's parameters) and its validation errors. */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceOptionError } from '../../src/errors.js';
import {
  ADAPTIVE_DEFAULT,
  aimdLimit,
  createLimit,
  fixedLimit,
  gradient2Limit,
  isLimit,
  LIMIT_ALGORITHMS,
  AIMD_DEFAULTS,
  BOUND_DEFAULTS,
  GRADIENT2_DEFAULTS,
  VEGAS_DEFAULTS,
  AlgorithmLimit,
  vegasLimit,
  windowedLimit,
  type Limit,
} from '../../src/limits/index.js';
import { run, s, successes } from './helpers.js';

function optionError(fn: () => unknown): SluiceOptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect((error as SluiceOptionError).code).toBe(ErrorCodes.INVALID_OPTION);
    return error as SluiceOptionError;
  }
  throw new Error('expected a SluiceOptionError');
}

describe('createLimit', () => {
  it('a number is a fixed limit, bounds not applying', () => {
    const limit = createLimit(300, { max: 10 });
    expect(run(limit, [s(0, 1, 300), s(1, 1, 300, true)]).after).toEqual([300, 300]);
  });

  it('each name gives its algorithm with the bounds (two steady samples tell them apart)', () => {
    const two = successes(2, 100, 20);
    expect(run(createLimit('fixed', { initial: 7 }), two).after).toEqual([7, 7]);
    expect(run(createLimit('aimd', { initial: 4, max: 5 }), two).after).toEqual([5, 5]);
    expect(run(createLimit('vegas', { initial: 4 }), two).after).toEqual([4, 4]); // rtt_noload; 4.4
    expect(run(createLimit('gradient2', { initial: 4 }), two).after).toEqual([4, 5]); // 4.4, 4.8
  });

  it('no spec means ADAPTIVE_DEFAULT, which is vegas', () => {
    expect(ADAPTIVE_DEFAULT).toBe('vegas');
    // rtt_noload; then queue 0: + 0.2 × 2 per sample: 4.4, 4.8 → 5, 5.2
    expect(run(createLimit(undefined), successes(4, 100, 20)).after).toEqual([4, 4, 5, 5]);
  });

  it('moves the default initial inside the bounds given', () => {
    expect(createLimit('aimd', { min: 10 }).current).toBe(10);
    expect(createLimit('vegas', { max: 2 }).current).toBe(2);
    expect(createLimit('gradient2').current).toBe(4);
  });

  it('passes a Limit object through', () => {
    const own = aimdLimit();
    expect(createLimit(own, { max: 3 })).toBe(own);
  });

  it('wraps in a window when asked', () => {
    const limit = createLimit('aimd', { initial: 4, windowed: { windowMs: 100, minSamples: 2 } });
    expect(run(limit, [s(0, 10, 4), s(10, 10, 4), s(200, 10, 4)]).after).toEqual([4, 4, 5]);
    const defaults = createLimit('aimd', { initial: 4, windowed: true }); // minSamples 10
    expect(run(defaults, successes(9, 10, 4)).after.at(-1)).toBe(4);
  });

  it.each<[string, () => unknown, string]>([
    ['zero', () => createLimit(0), 'limit'],
    ['a fraction', () => createLimit(2.5), 'limit'],
    ['NaN', () => createLimit(Number.NaN), 'limit'],
    ['an unknown name', () => createLimit('cubic' as never), 'limit'],
    ['an object that is no Limit', () => createLimit({} as never), 'limit'],
    ['min 0', () => createLimit('aimd', { min: 0 }), 'min'],
    ['min 1.5', () => createLimit('aimd', { min: 1.5 }), 'min'],
    ['min as a string', () => createLimit('aimd', { min: '2' as never }), 'min'],
    ['max 0', () => createLimit('vegas', { max: 0 }), 'max'],
    ['max < min', () => createLimit('gradient2', { min: 5, max: 3 }), 'max'],
    ['min above the default max', () => createLimit('gradient2', { min: 300 }), 'min'],
    ['initial 0', () => createLimit('aimd', { initial: 0 }), 'initial'],
    ['initial above the default max', () => createLimit('aimd', { initial: 300 }), 'initial'],
    ['initial below min', () => createLimit('fixed', { initial: 2, min: 3 }), 'initial'],
    ['windowMs 0', () => createLimit('aimd', { windowed: { windowMs: 0 } }), 'windowed.windowMs'],
    ['maxSamples < minSamples', () => createLimit('aimd', { windowed: { minSamples: 10, maxSamples: 5 } }), 'windowed.maxSamples'],
    ['fixedLimit(0)', () => fixedLimit(0), 'limit'],
    ['backoffRatio 1', () => aimdLimit({ backoffRatio: 1 }), 'backoffRatio'],
    ['increase 0', () => aimdLimit({ increase: 0 }), 'increase'],
    ['probeMultiplier 0', () => vegasLimit({ probeMultiplier: 0 }), 'probeMultiplier'],
    ['alpha 0', () => vegasLimit({ alpha: 0 }), 'alpha'],
    ['beta below alpha', () => vegasLimit({ alpha: 3, beta: 2 }), 'beta'],
    ['smoothing 0', () => gradient2Limit({ smoothing: 0 }), 'smoothing'],
    ['tolerance 0.9', () => gradient2Limit({ tolerance: 0.9 }), 'tolerance'],
    ['queueSize -1', () => gradient2Limit({ queueSize: -1 }), 'queueSize'],
    ['percentile 0', () => windowedLimit(aimdLimit(), { percentile: 0 }), 'percentile'],
  ])('rejects %s, naming `%s`', (_what, fn, option) => {
    expect(optionError(fn).option).toBe(option);
  });

  it("passes a named algorithm's parameters to it", () => {
    // aimd with increase 3: 4 + 3 = 7, then a drop: min(7 - 1, 7 × 0.5) = 3.5, rounding to 4
    expect(run(createLimit('aimd', { initial: 4, increase: 3, backoffRatio: 0.5 }), [s(0, 10, 4), s(1, 10, 7, true)]).after).toEqual([
      7, 4,
    ]);
    // vegas with smoothing 1: rtt_noload, then no queue: 4 + beta (2) × 1 = 6 at once
    expect(run(createLimit('vegas', { initial: 4, smoothing: 1 }), successes(2, 100, 4)).after).toEqual([4, 6]);
    // gradient2 with a queue of 0 and smoothing 1: the limit stays at limit × gradient (1)
    expect(run(createLimit('gradient2', { initial: 4, queueSize: 0, smoothing: 1 }), successes(3, 100, 4)).after).toEqual([4, 4, 4]);
    // ... and the windowed wrapper still applies: one sample per window, none before it closes
    const windowed = createLimit('aimd', { initial: 4, increase: 3, windowed: { windowMs: 100, minSamples: 1 } });
    expect(run(windowed, [s(0, 10, 4), s(10, 10, 4), s(200, 10, 4)]).after).toEqual([4, 4, 7]);
  });

  it.each<[string, () => unknown, string]>([
    ['a vegas parameter for aimd', () => createLimit('aimd', { alpha: 2 } as never), 'alpha'],
    ['an aimd parameter for vegas', () => createLimit('vegas', { backoffRatio: 0.5 } as never), 'backoffRatio'],
    ['a parameter of the unnamed adaptive default', () => createLimit(undefined, { alpha: 2 } as never), 'alpha'],
    ['a parameter for fixed', () => createLimit('fixed', { increase: 1 } as never), 'increase'],
    ['alpha 0 through createLimit', () => createLimit('vegas', { alpha: 0 }), 'alpha'],
  ])('rejects %s, naming `%s` and listing what the algorithm takes', (_what, fn, option) => {
    const error = optionError(fn);
    expect(error.option).toBe(option);
  });

  it('lists the parameters an algorithm takes when given one it does not', () => {
    const error = optionError(() => createLimit('vegas', { backoffRatio: 0.5 } as never));
    expect(error.expected).toBe('one of the parameters of vegas: initial, min, max, smoothing, probeMultiplier, alpha, beta, windowed');
    const adaptive = optionError(() => createLimit(undefined, { alpha: 2 } as never));
    expect(adaptive.expected).toBe('one of the parameters of the adaptive default (vegas, unnamed): initial, min, max, windowed');
  });

  it('LIMIT_ALGORITHMS is the one list: each name with the defaults of the parameters it takes', () => {
    expect(Object.keys(LIMIT_ALGORITHMS)).toEqual(['fixed', 'aimd', 'vegas', 'gradient2']);
    expect(LIMIT_ALGORITHMS).toEqual({ fixed: BOUND_DEFAULTS, aimd: AIMD_DEFAULTS, vegas: VEGAS_DEFAULTS, gradient2: GRADIENT2_DEFAULTS });
    expect(Object.isFrozen(LIMIT_ALGORITHMS)).toBe(true);
    expect(Object.keys(LIMIT_ALGORITHMS).includes(ADAPTIVE_DEFAULT)).toBe(true);
    for (const name of Object.keys(LIMIT_ALGORITHMS) as Array<keyof typeof LIMIT_ALGORITHMS>) {
      expect(createLimit(name).current, name).toBe(LIMIT_ALGORITHMS[name].initial);
    }
  });

  it('lists the known algorithms for an unknown name', () => {
    const error = optionError(() => createLimit('cubic' as never));
    for (const name of ['"fixed"', '"aimd"', '"vegas"', '"gradient2"']) expect(error.expected).toContain(name);
    expect(error.received).toBe('cubic');
  });
});

describe('AlgorithmLimit', () => {
  it('refuses bounds that are not integers with 1 <= min <= max, and an update that is no function', () => {
    expect(optionError(() => new AlgorithmLimit((st) => st, { estimate: 4 }, { initial: 4, min: 5, max: 3 })).option).toBe('max');
    expect(optionError(() => new AlgorithmLimit((st) => st, { estimate: 4 }, { initial: 4, min: 0, max: 3 })).option).toBe('min');
    expect(optionError(() => new AlgorithmLimit(3 as never, { estimate: 4 }, { initial: 4, min: 1, max: 3 })).option).toBe('update');
  });
});

describe('isLimit', () => {
  it('recognises the three members', () => {
    const shaped: Limit = { current: 1, subscribe: () => () => {}, sample: () => {} };
    expect([shaped, aimdLimit(), fixedLimit(3)].every(isLimit)).toBe(true);
    expect([null, 3, 'aimd', {}, { current: 1, subscribe() {} }].some(isLimit)).toBe(false);
  });
});

describe('AlgorithmLimit.parameters', () => {
  it('lists every parameter an algorithm runs with, defaults applied, in the order of LIMIT_ALGORITHMS', () => {
    const aimd = aimdLimit({ max: 64, increase: 2 });
    expect(aimd.parameters).toEqual({ ...AIMD_DEFAULTS, max: 64, increase: 2 });
    const vegas = vegasLimit({ alpha: 3, min: 10 });
    expect(vegas.parameters).toEqual({ ...VEGAS_DEFAULTS, initial: 10, min: 10, alpha: 3, beta: 3 });
    expect(Object.keys(vegas.parameters)).toEqual(Object.keys(VEGAS_DEFAULTS));
    expect(Object.keys(gradient2Limit().parameters)).toEqual(Object.keys(GRADIENT2_DEFAULTS));
    expect(String(gradient2Limit().parameters.queueSize)).toBe('max(1, floor(sqrt(limit)))');
    expect(fixedLimit(7).parameters).toEqual({ initial: 7, min: 7, max: 7 });
  });
});
