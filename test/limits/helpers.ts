/** Literal samples and a runner that records the limit after each one. */
import type { Limit, Sample } from '../../src/limits/index.js';

/** A sample: start time, rtt and inflight in literal numbers; `dropped` last. */
export function s(startMs: number, rttMs: number, inflight: number, dropped = false): Sample {
  return { startMs, rttMs, inflight, dropped };
}

/** Feeds `samples` in order; returns `current` after each and the values listeners heard. */
export function run(limit: Limit, samples: readonly Sample[]): { after: number[]; heard: number[] } {
  const heard: number[] = [];
  const off = limit.subscribe((n) => heard.push(n));
  const after = samples.map((sample) => {
    limit.sample(sample);
    return limit.current;
  });
  off();
  return { after, heard };
}

/** `n` successes of `rttMs` each with `inflight` in flight, 1 ms apart. */
export function successes(n: number, rttMs: number, inflight: number, from = 0): Sample[] {
  return Array.from({ length: n }, (_, i) => s(from + i, rttMs, inflight));
}
