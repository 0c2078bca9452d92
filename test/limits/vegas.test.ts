/**
 * Table tests for the Vegas limit. With L = max(1, floor(log10(floor(limit)))):
 * queue = ceil(limit × (1 − rtt_noload / rtt)); queue <= L: +bL; queue < aL: +L; queue > bL: −L;
 * then limit' = (1 − smoothing) × limit + smoothing × target. The mechanism tests pin Netflix's
 * parameters (a 3, b 6, smoothing 1, probe every 30 × limit), whose steps are whole numbers; the
 * first test follows the defaults (a 1, b 2, smoothing 0.2, probe every 1000 × limit).
 */
import { describe, expect, it } from 'vitest';
import { vegasLimit } from '../../src/limits/index.js';
import { run, s } from './helpers.js';

/** Netflix's parameters (the defaults before the adaptive bench tuned them for a batch client). */
const NETFLIX = { alpha: 3, beta: 6, smoothing: 1, probeMultiplier: 30 } as const;

describe('vegasLimit', () => {
  it('defaults: keeps one or two calls queued, moving 0.2 × the step per sample', () => {
    const limit = vegasLimit({ initial: 10 });
    const { after, heard } = run(limit, [
      s(0, 100, 10), //        first rtt: rtt_noload = 100, limit unchanged
      s(1, 100, 10), //        queue 0 <= 1: target 10 + 2 = 12; 0.8 × 10 + 0.2 × 12 = 10.4
      s(2, 100, 10), //        10.8 → 11
      s(3, 100, 10), //        11.2
      s(4, 110, 11), //        ceil(11.2 × (1 − 100/110) = 1.02) = 2: 1 <= 2 <= 2, hold 11.2
      s(5, 125, 11), //        ceil(11.2 × 0.2 = 2.24) = 3 > 2: target 10.2; 11.0
      s(6, 125, 11), //        ceil(2.2) = 3: 10.8
      s(7, 125, 11), //        ceil(2.16) = 3: 10.6
      s(8, 125, 11), //        ceil(2.12) = 3: 10.4 → 10
      s(9, 100, 10, true), //  drop: target 9.4; 10.2
    ]);
    expect(after).toEqual([10, 10, 11, 11, 11, 11, 11, 11, 10, 10]);
    expect(heard).toEqual([11, 10]);
    expect(limit.state.estimate).toBeCloseTo(10.2, 10);
  });

  it('grows fast without queueing, holds in the sweet spot, shrinks as a queue builds and on a drop', () => {
    const limit = vegasLimit({ ...NETFLIX, initial: 4 });
    const { after, heard } = run(limit, [
      s(0, 100, 20), //        first rtt: rtt_noload = 100, limit unchanged
      s(1, 100, 20), //        queue = ceil(4 × 0) = 0 <= 1: 4 + 6 = 10
      s(2, 110, 20), //        ceil(10 × (1 − 100/110) = 0.91) = 1 <= 1: 16
      s(3, 150, 20), //        ceil(16 × 0.333 = 5.33) = 6: 3 <= 6 <= 6, hold 16
      s(4, 110, 20), //        ceil(16 × 0.0909 = 1.45) = 2 < 3: 17
      s(5, 200, 20), //        ceil(17 × 0.5 = 8.5) = 9 > 6: 16
      s(6, 5, 20, true), //    drop: 16 − 1 = 15; its rtt of 5 does not become rtt_noload
      s(7, 100, 20), //        queue 0 against rtt_noload 100: 21 (against 5 it would be 15 > 6: 14)
      s(8, 90, 20), //         new minimum: rtt_noload = 90, hold 21
      s(9, 90, 20), //         queue 0: 27
    ]);
    expect(after).toEqual([4, 10, 16, 16, 17, 16, 15, 21, 21, 27]);
    expect(heard).toEqual([10, 16, 17, 16, 15, 21, 27]);
    expect(limit.state.rttNoLoad).toBe(90);
  });

  it('scales alpha and beta with log10 of the limit (L = 2 from 100)', () => {
    const { after } = run(vegasLimit({ ...NETFLIX, initial: 150, max: 300 }), [
      s(0, 100, 150), //       rtt_noload = 100
      s(1, 100, 150), //       queue 0 <= 2: 150 + 12 = 162
      s(2, 200, 150), //       ceil(162 × 0.5) = 81 > 12: 162 − 2 = 160
      s(3, 100, 150, true), // drop: 158
    ]);
    expect(after).toEqual([150, 162, 160, 158]);
  });

  it('clamps to [min, max]', () => {
    const { after } = run(vegasLimit({ ...NETFLIX, initial: 4, min: 3, max: 12 }), [
      s(0, 100, 20), //       rtt_noload = 100
      s(1, 100, 20), //       10
      s(2, 100, 20), //       16, clamped to 12
      s(3, 100, 20, true), // 11
      s(4, 100, 20, true), // 10
    ]);
    expect(after).toEqual([4, 10, 12, 11, 10]);
    const low = vegasLimit({ ...NETFLIX, initial: 4, min: 3 });
    expect(run(low, [s(0, 1, 4, true), s(1, 1, 4, true)]).after).toEqual([3, 3]); // 4 − 1 = 3; 2 → min 3
  });

  it('app-limited guard: holds while inflight < current / 2, even with a queue; a drop still decreases', () => {
    const { after } = run(vegasLimit({ ...NETFLIX, initial: 10 }), [
      s(0, 100, 10), //      rtt_noload = 100
      s(1, 100, 4), //       4 < 5: hold 10 (queue 0 would give 16)
      s(2, 300, 4), //       4 < 5: hold 10 (queue ceil(10 × 0.667) = 7 > 6 would give 9)
      s(3, 100, 5), //       5 < 5 is false: 16
      s(4, 100, 1, true), // 15
    ]);
    expect(after).toEqual([10, 10, 10, 16, 15]);
  });

  it('smooths toward the target', () => {
    const { after } = run(vegasLimit({ ...NETFLIX, initial: 4, smoothing: 0.5 }), [
      s(0, 100, 20), //       rtt_noload = 100
      s(1, 100, 20), //       target 10: 0.5 × 4 + 0.5 × 10 = 7
      s(2, 100, 20), //       target 13: 0.5 × 7 + 0.5 × 13 = 10
      s(3, 100, 20, true), // target 9: 9.5 → 10 (half rounds up)
    ]);
    expect(after).toEqual([4, 7, 10, 10]);
  });

  it('probes: re-takes rtt_noload from the sample after probeMultiplier × limit samples', () => {
    const limit = vegasLimit({ initial: 4, max: 4, probeMultiplier: 1 });
    run(limit, [s(0, 100, 4), s(1, 100, 4), s(2, 100, 4)]); // probeCount 1, 2, 3; rtt_noload 100
    expect(limit.state).toMatchObject({ rttNoLoad: 100, probeCount: 3 });
    limit.sample(s(3, 300, 4)); // probeCount 4 >= 1 × 4: probe
    expect(limit.state).toMatchObject({ estimate: 4, rttNoLoad: 300, probeCount: 0 });
  });

  it('ignores a success with rtt 0 (no latency in it)', () => {
    const limit = vegasLimit({ initial: 4 });
    run(limit, [s(0, 100, 4), s(1, 0, 4)]);
    expect(limit.state).toMatchObject({ estimate: 4, rttNoLoad: 100, probeCount: 1 });
  });
});
