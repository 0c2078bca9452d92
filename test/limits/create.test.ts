/** createLimit: resolving a spec into a Limit, its validation errors, and p-limit following a limit. */
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceOptionError } from '../../src/errors.js';
import {
  ADAPTIVE_DEFAULT,
  aimdLimit,
  createLimit,
  fixedLimit,
  followLimit,
  gradient2Limit,
  isLimit,
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

  it('lists the known algorithms for an unknown name', () => {
    const error = optionError(() => createLimit('cubic' as never));
    for (const name of ['"fixed"', '"aimd"', '"vegas"', '"gradient2"']) expect(error.expected).toContain(name);
    expect(error.received).toBe('cubic');
  });
});

describe('isLimit', () => {
  it('recognises the three members', () => {
    const shaped: Limit = { current: 1, subscribe: () => () => {}, sample: () => {} };
    expect([shaped, aimdLimit(), fixedLimit(3)].every(isLimit)).toBe(true);
    expect([null, 3, 'aimd', {}, { current: 1, subscribe() {} }].some(isLimit)).toBe(false);
  });
});

describe('followLimit', () => {
  it("keeps p-limit's concurrency equal to the limit until unsubscribed", () => {
    const limiter = pLimit(1);
    const limit = aimdLimit({ initial: 3 });
    const stop = followLimit(limiter, limit);
    expect(limiter.concurrency).toBe(3);
    limit.sample(s(0, 10, 3)); // 4
    expect(limiter.concurrency).toBe(4);
    limit.sample(s(1, 10, 4, true)); // min(3, 3.6) = 3
    expect(limiter.concurrency).toBe(3);
    stop();
    limit.sample(s(2, 10, 3));
    expect(limit.current).toBe(4);
    expect(limiter.concurrency).toBe(3);
  });
});
