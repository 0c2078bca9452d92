/**
 * The windowing decorator: windows on the samples' own clock (end = startMs + rttMs), one
 * aggregate per window (min or percentile rtt, max inflight, dropped if any), small windows
 * discarded unless they saw a drop.
 */
import { describe, expect, it } from 'vitest';
import { aimdLimit, windowedLimit, type Limit, type Sample } from '../../src/limits/index.js';
import { run, s } from './helpers.js';

/** An inner limit that records what it is fed. */
function recorder(): Limit & { got: Sample[] } {
  const got: Sample[] = [];
  return { got, current: 1, subscribe: () => () => {}, sample: (sample) => void got.push(sample) };
}

describe('windowedLimit', () => {
  it('forwards one aggregate per window: min rtt, max inflight, any drop', () => {
    const inner = recorder();
    const limit = windowedLimit(inner, { windowMs: 100, minSamples: 3 });
    const feed = [
      s(0, 10, 4), //         ends 10: opens a window that closes after 10 + 100 = 110
      s(20, 30, 6), //        ends 50
      s(60, 20, 2), //        ends 80
      s(100, 15, 3), //       ends 115 > 110: closes with 4 samples >= 3
      s(130, 5, 1, true), //  ends 135: opens a window until 235
      s(240, 5, 1), //        ends 245: closes with 2 samples < 3, forwarded for its drop
      s(300, 10, 1), //       ends 310: opens a window until 410
      s(500, 10, 2), //       ends 510: closes with 2 samples, no drop: discarded
      s(600, Number.NaN, 9), // no measurement: skipped, opens nothing
    ];
    for (const sample of feed) limit.sample(sample);
    expect(inner.got).toEqual([
      { startMs: 0, rttMs: 10, inflight: 6, dropped: false },
      { startMs: 130, rttMs: 5, inflight: 1, dropped: true },
    ]);
  });

  it('closes a window early at maxSamples and forwards the nearest-rank percentile', () => {
    const cases: [number, number][] = [
      [0.5, 30], // ceil(0.5 × 5) = rank 3 of [10, 20, 30, 40, 50]
      [0.9, 50], // ceil(4.5) = rank 5
      [0.2, 10], // ceil(1.0) = rank 1
    ];
    for (const [percentile, rtt] of cases) {
      const inner = recorder();
      const limit = windowedLimit(inner, { windowMs: 1000, minSamples: 1, maxSamples: 5, percentile });
      for (const [i, r] of [40, 10, 30, 20, 50].entries()) limit.sample(s(i, r, 1));
      expect(inner.got.map((g) => g.rttMs)).toEqual([rtt]);
    }
    const inner = recorder();
    const limit = windowedLimit(inner, { minSamples: 1, maxSamples: 25, percentile: 0.28 });
    for (let i = 1; i <= 25; i++) limit.sample(s(i, i, 1)); // 0.28 × 25 = rank 7 (not 8 from 7.000000000000001)
    expect(inner.got.map((g) => g.rttMs)).toEqual([7]);
  });

  it('makes the inner algorithm step once per window', () => {
    const limit = windowedLimit(aimdLimit({ initial: 4 }), { windowMs: 100, minSamples: 3 });
    const { after, heard } = run(limit, [
      s(0, 10, 4), //   opens until 110
      s(10, 10, 4),
      s(150, 10, 4), // closes: one success for AIMD, 4 + 1 = 5 (per sample it would be 7)
      s(160, 10, 1), // opens until 270
      s(170, 10, 1),
      s(280, 10, 3), // closes: max inflight 3 is not < 5 / 2: 6 (with inflight 1 it would hold)
    ]);
    expect(after).toEqual([4, 4, 5, 5, 5, 6]);
    expect(heard).toEqual([5, 6]);
  });
});
