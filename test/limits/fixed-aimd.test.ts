/** Table tests for the fixed and AIMD limits: samples in, the exact limit out after each. */
import { describe, expect, it } from 'vitest';
import { aimdLimit, fixedLimit } from '../../src/limits/index.js';
import { run, s } from './helpers.js';

describe('fixedLimit', () => {
  it('never changes, whatever the samples', () => {
    const { after, heard } = run(fixedLimit(300), [s(0, 10, 300), s(1, 5000, 1, true), s(2, 1, 300)]);
    expect(after).toEqual([300, 300, 300]);
    expect(heard).toEqual([]);
  });
});

describe('aimdLimit', () => {
  it('adds 1 per success, multiplies by 0.9 (at least −1) per drop, clamped to [1, max]', () => {
    const { after, heard } = run(aimdLimit({ initial: 4, max: 6 }), [
      s(0, 10, 4), //       4 + 1 = 5
      s(1, 10, 4), //       6
      s(2, 10, 4), //       7, clamped to max 6
      s(3, 10, 4, true), // min(6 − 1, 6 × 0.9 = 5.4) = 5
      s(4, 10, 4, true), // min(4, 4.5) = 4
      s(5, 10, 4, true), // min(3, 3.6) = 3
      s(6, 10, 4, true), // min(2, 2.7) = 2
      s(7, 10, 4, true), // min(1, 1.8) = 1
      s(8, 10, 4, true), // min(0, 0.9) = 0, clamped to min 1
      s(9, 10, 1), //       inflight 1 is not < 1 / 2: 1 + 1 = 2
    ]);
    expect(after).toEqual([5, 6, 6, 5, 4, 3, 2, 1, 1, 2]);
    expect(heard).toEqual([5, 6, 5, 4, 3, 2, 1, 2]);
  });

  it('keeps the fraction between steps and rounds only the current value', () => {
    const limit = aimdLimit({ initial: 20 });
    const { after } = run(limit, [
      s(0, 10, 20, true), // min(19, 18) = 18
      s(1, 10, 20, true), // min(17, 16.2) = 16.2 → 16
      s(2, 10, 20, true), // min(15.2, 14.58) = 14.58 → 15
      s(3, 10, 20), //       15.58 → 16
    ]);
    expect(after).toEqual([18, 16, 15, 16]);
    expect(limit.state.estimate).toBeCloseTo(15.58, 10);
  });

  it('app-limited guard: no increase while inflight < current / 2; a drop still decreases', () => {
    const limit = aimdLimit({ initial: 10 });
    const { after, heard } = run(limit, [
      s(0, 10, 4), //       4 < 5: hold 10
      s(1, 10, 5), //       5 < 5 is false: 11
      s(2, 10, 5), //       5 < 5.5: hold 11
      s(3, 10, 1, true), // drop while app-limited: min(10, 9.9) = 9.9 → 10
      s(4, 10, 5), //       current 10, 5 < 5 is false: 10.9 → 11
    ]);
    expect(after).toEqual([10, 11, 11, 10, 11]);
    expect(heard).toEqual([11, 10, 11]);
  });

  it('treats a success slower than timeoutMs as a drop (rtt > timeout, not >=)', () => {
    const { after } = run(aimdLimit({ initial: 10, timeoutMs: 1000 }), [
      s(0, 1000, 10), // 11
      s(1, 1001, 10), // min(10, 9.9) = 9.9 → 10
    ]);
    expect(after).toEqual([11, 10]);
  });

  it('takes its increase and backoff ratio from the options', () => {
    const { after } = run(aimdLimit({ initial: 10, increase: 0.5, backoffRatio: 0.5 }), [
      s(0, 10, 10), //       10.5 → 11 (half rounds up)
      s(1, 10, 10, true), // min(9.5, 5.25) = 5.25 → 5
    ]);
    expect(after).toEqual([11, 5]);
  });
});
