/**
 * The limits as a public, composable part: `service('docs', { limit: windowedLimit(vegasLimit({
 * alpha: 2 })) })`, imported from the public API, drives the service's gate with one aggregated
 * sample per window. The service's clock is injected, so rtts and windows are literal numbers.
 */
import { describe, expect, it } from 'vitest';
import { service, vegasLimit, windowedLimit, type Limit, type Service } from '../../src/index.js';

/** Starts `k` calls at once at time `at`, lets them all start, then ends them together `rtt` ms later. */
async function batch(svc: Service, clock: { t: number }, at: number, rtt: number, k: number): Promise<void> {
  clock.t = at;
  const release: Array<() => void> = [];
  const calls = Array.from({ length: k }, () => svc.call(() => new Promise<string>((r) => release.push(() => r('ok')))));
  while (release.length < k) await new Promise((r) => setImmediate(r));
  clock.t = at + rtt;
  for (const r of release) r();
  await Promise.all(calls);
}

describe('composing limits through service()', () => {
  it('takes windowedLimit(vegasLimit({ alpha: 2 })) as its limit', () => {
    const docs = service('docs', { limit: windowedLimit(vegasLimit({ alpha: 2 })) });
    const limit: Limit = docs.limit;
    expect(limit.current).toBe(4);
    expect(docs.stats().limit).toBe(4);
  });

  it('feeds the inner algorithm one aggregate per window, and the gate follows its limit', async () => {
    const clock = { t: 0 };
    const vegas = vegasLimit({ alpha: 2 });
    const docs = service('docs', { limit: windowedLimit(vegas), now: () => clock.t, timeoutMs: 0 });
    // Window 1 opens at the first call's end (100) and lasts 1000 ms: 12 calls, none reach vegas.
    for (const at of [0, 100, 200]) await batch(docs, clock, at, 100, 4);
    expect(vegas.state).toEqual({ estimate: 4, rttNoLoad: 0, probeCount: 0 });
    // A call ending at 2100 closes it: vegas gets one sample, the minimum rtt, as its no-load rtt.
    await batch(docs, clock, 2000, 100, 4);
    expect(vegas.state).toEqual({ estimate: 4, rttNoLoad: 100, probeCount: 1 });
    // Two more windows of 11 calls at the no-load rtt, 4 in flight: no queue, + beta (2) × 0.2 each.
    for (const at of [2100, 2200, 4000, 4100, 4200, 6000]) await batch(docs, clock, at, 100, 4);
    expect(vegas.state.probeCount).toBe(3);
    expect(vegas.state.estimate).toBeCloseTo(4.8, 10);
    expect(docs.limit.current).toBe(5);
    expect(docs.stats()).toMatchObject({ limit: 5, calls: 40, successes: 40, peakInFlight: 4 });
    // The gate follows: five calls now run at once.
    await batch(docs, clock, 6100, 100, 5);
    expect(docs.stats().peakInFlight).toBe(5);
  });
});
