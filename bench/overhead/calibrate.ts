/** Iterations of the overhead worker's busy loop per ms of CPU, measured on this thread. */
import { burn } from '../workers/overhead-task.js';

/**
 * Warms the loop up (so it runs optimized, as it will on the workers after their warm-up), then
 * times `trials` bursts of about 10 ms and keeps the fastest: the rate when nothing preempted it.
 */
export function itersPerMs(trials = 9): number {
  let rate = 0;
  let n = 50_000;
  for (let i = 0; i < 40; i++) burn(n); // tier up
  for (let i = 0; i < trials; i++) {
    const t0 = performance.now();
    burn(n);
    const ms = performance.now() - t0;
    rate = Math.max(rate, n / ms);
    n = Math.max(50_000, Math.round(rate * 10));
  }
  return rate;
}
