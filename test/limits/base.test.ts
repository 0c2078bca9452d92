/**
 * The base every algorithm runs in, driven by a toy algorithm whose estimate is the sample's rtt:
 * the clamp to [min, max], rounding (half up), notify-only-on-change, the app-limited guard and
 * skipped non-measurements.
 */
import { describe, expect, it } from 'vitest';
import { AlgorithmLimit, type LimitState } from '../../src/limits/index.js';
import { run, s } from './helpers.js';

/** estimate' = rtt: lets a test put any estimate in front of the base. */
function toy(bounds = { initial: 4, min: 2, max: 10 }): { limit: AlgorithmLimit<LimitState>; calls: () => number } {
  let calls = 0;
  const limit = new AlgorithmLimit<LimitState>(
    (_state, sample) => {
      calls += 1;
      return { estimate: sample.rttMs };
    },
    { estimate: bounds.initial },
    bounds,
  );
  return { limit, calls: () => calls };
}

describe('AlgorithmLimit', () => {
  it('rounds half up, clamps to [min, max] and notifies only on change', () => {
    const { limit } = toy();
    expect(limit.current).toBe(4);
    const { after, heard } = run(limit, [
      s(0, 7, 10), //     7
      s(1, 7.4, 10), //   7.4 rounds to 7: no change, no call
      s(2, 7.5, 10), //   7.5 rounds half up to 8
      s(3, 50, 10), //    clamped to max 10
      s(4, 60, 10), //    still 10: no call
      s(5, 0.2, 10), //   clamped to min 2
      s(6, 2.4, 10), //   2.4 rounds to 2: no call
    ]);
    expect(after).toEqual([7, 7, 8, 10, 10, 2, 2]);
    expect(heard).toEqual([7, 8, 10, 2]);
  });

  it('stores the clamped estimate, so the limit does not wind up past max', () => {
    const { limit } = toy();
    limit.sample(s(0, 50, 10));
    expect(limit.state.estimate).toBe(10);
  });

  it('clamps an initial estimate outside the bounds', () => {
    const limit = new AlgorithmLimit<LimitState>((st) => st, { estimate: 50 }, { initial: 50, min: 1, max: 10 });
    expect(limit.current).toBe(10);
  });

  it('app-limited guard: no raise while inflight < current / 2; lowering still allowed', () => {
    const { limit } = toy({ initial: 8, min: 1, max: 20 });
    const { after, heard } = run(limit, [
      s(0, 12, 3), // 3 < 8 / 2: the raise to 12 is refused
      s(1, 12, 4), // 4 < 4 is false: raised to 12
      s(2, 15, 5), // 5 < 6: refused
      s(3, 5, 1), //  1 < 6, but 5 is a decrease: allowed
      s(4, 6, 2), //  2 < 2.5: refused
      s(5, 6, 3), //  3 < 2.5 is false: raised to 6
    ]);
    expect(after).toEqual([8, 12, 12, 5, 5, 6]);
    expect(heard).toEqual([12, 5, 6]);
  });

  it('skips samples that are no measurement', () => {
    const { limit, calls } = toy();
    for (const bad of [s(0, Number.NaN, 4), s(0, -1, 4), s(0, 5, Number.POSITIVE_INFINITY), s(0, Infinity, 4)]) {
      limit.sample(bad);
    }
    expect(calls()).toBe(0);
    expect(limit.current).toBe(4);
  });

  it('stops notifying a listener that unsubscribed', () => {
    const { limit } = toy();
    const heard: number[] = [];
    const off = limit.subscribe((n) => heard.push(n));
    limit.sample(s(0, 6, 10));
    off();
    limit.sample(s(1, 9, 10));
    expect(heard).toEqual([6]);
    expect(limit.current).toBe(9);
  });
});
