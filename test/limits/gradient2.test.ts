/**
 * Table tests for the Gradient2 limit. Per success, when not app-limited:
 *   long' = mean of the first `warmup` rtts, then long + (rtt − long) × 2 / (longWindow + 1)
 *   gradient = max(0.5, min(1, 1.5 × long' / rtt))
 *   limit' = limit × 0.8 + (limit × gradient + queueSize(floor(limit))) × 0.2   (smoothing 0.2)
 * With gradient 1 that is limit + 0.2 × queueSize; the default queueSize is max(1, floor(sqrt(l))).
 */
import { describe, expect, it } from 'vitest';
import { gradient2Limit } from '../../src/limits/index.js';
import { run, s, successes } from './helpers.js';

describe('gradient2Limit', () => {
  it('grows by 0.2 × floor(sqrt(floor(limit))) per sample while the rtt is steady', () => {
    // Estimates: 4.4 4.8 5.2 5.6 6.0 6.4 6.8 7.2 7.6 8.0 (queueSize 2 up to 8.x) 8.4 8.8,
    // then floor(8.8) = 8 still gives 2: 9.2; floor(9.2) = 9 gives 3: 9.8.
    const { after, heard } = run(gradient2Limit({ initial: 4 }), successes(14, 100, 20));
    expect(after).toEqual([4, 5, 5, 6, 6, 6, 7, 7, 8, 8, 8, 9, 9, 10]);
    expect(heard).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('shrinks in proportion as the rtt rises above the long-term rtt, down to gradient 0.5; drops multiply by 0.9', () => {
    // smoothing 1 and queueSize 1: limit' = limit × gradient + 1. longWindow 9: EMA factor 0.2.
    const limit = gradient2Limit({ initial: 10, smoothing: 1, queueSize: 1, longWindow: 9, warmup: 1 });
    const { after } = run(limit, [
      s(0, 100, 20), //       long = 100 (warm-up mean); gradient min(1, 1.5) = 1: 10 + 1 = 11
      s(1, 200, 20), //       long = 100 + 100 × 0.2 = 120; gradient 1.5 × 120/200 = 0.9: 9.9 + 1 = 10.9 → 11
      s(2, 400, 20), //       long = 120 + 280 × 0.2 = 176; gradient 0.66: 10.9 × 0.66 + 1 = 8.194 → 8
      s(3, 2000, 20), //      long = 176 + 1824 × 0.2 = 540.8; 1.5 × 0.2704 = 0.4056 → 0.5: 4.097 + 1 = 5.097 → 5
      s(4, 1, 20, true), //   drop: min(4.097, 5.097 × 0.9 = 4.5873) = 4.097 → 4
      s(5, 30000, 20, true), // drop: min(3.097, 3.6873) = 3.097 → 3
    ]);
    expect(after).toEqual([11, 11, 8, 5, 4, 3]);
    expect(limit.state.estimate).toBeCloseTo(3.097, 10);
    expect(limit.state.longRtt).toBeCloseTo(540.8, 10); // a drop's rtt is not measured
  });

  it('decays the long-term rtt by 0.95 when it is over twice the latest (recovery after overload)', () => {
    const limit = gradient2Limit({ initial: 10, longWindow: 9, warmup: 1 });
    const { after } = run(limit, [
      s(0, 100, 20), //   long 100, gradient 1, queueSize(10) = 3: 10 × 0.8 + 13 × 0.2 = 10.6
      s(1, 10000, 20), // long = 100 + 9900 × 0.2 = 2080; 1.5 × 0.208 → 0.5: 10.6 × 0.8 + (5.3 + 3) × 0.2 = 10.14
    ]);
    expect(after).toEqual([11, 10]);
    expect(limit.state.longRtt).toBeCloseTo(2080, 10);
    limit.sample(s(2, 100, 20)); // long = 2080 − 1980 × 0.2 = 1684 > 2 × 100: stored 1684 × 0.95 = 1599.8
    expect(limit.state.longRtt).toBeCloseTo(1599.8, 10);
    expect(limit.current).toBe(11); // gradient 1: 10.14 + 0.2 × 3 = 10.74
    limit.sample(s(3, 100, 20)); // long = 1599.8 − 1499.8 × 0.2 = 1299.84; × 0.95 = 1234.848
    expect(limit.state.longRtt).toBeCloseTo(1234.848, 10);
    expect(limit.state.estimate).toBeCloseTo(11.34, 10);
  });

  it('averages the first `warmup` rtts plainly', () => {
    const limit = gradient2Limit({ warmup: 3, longWindow: 9 });
    run(limit, [s(0, 100, 20), s(1, 200, 20), s(2, 600, 20)]); // (100 + 200 + 600) / 3 = 300
    expect(limit.state).toMatchObject({ count: 3 });
    expect(limit.state.longRtt).toBeCloseTo(300, 10);
    limit.sample(s(3, 400, 20)); // EMA: 300 + 100 × 0.2 = 320
    expect(limit.state.longRtt).toBeCloseTo(320, 10);
  });

  it('clamps to [min, max]', () => {
    const high = gradient2Limit({ initial: 4, max: 5 });
    expect(run(high, successes(4, 100, 20)).after).toEqual([4, 5, 5, 5]); // 4.4 4.8 5.2→5 5.2→5
    expect(high.state.estimate).toBe(5);
    const low = gradient2Limit({ initial: 2, min: 2 });
    expect(run(low, [s(0, 1, 2, true)]).after).toEqual([2]); // min(1, 1.8) = 1, clamped to 2
  });

  it('app-limited guard: holds while inflight < current / 2 but keeps measuring; a drop still decreases', () => {
    const limit = gradient2Limit({ initial: 10 });
    const { after } = run(limit, [
      s(0, 100, 4), //       4 < 5: hold 10
      s(1, 100, 5), //       10 + 0.2 × 3 = 10.6 → 11
      s(2, 100, 5), //       5 < 5.5: hold 11
      s(3, 100, 1, true), // min(9.6, 9.54) = 9.54 → 10
    ]);
    expect(after).toEqual([10, 11, 11, 10]);
    expect(limit.state).toMatchObject({ longRtt: 100, count: 3 });
  });
});
