/**
 * The worker of the overhead scenario: a no-op (the default export, answering its input, so only
 * the hand-off is measured) and `spin`, a busy loop of a given number of iterations, calibrated by
 * the scenario to about 0.1 ms of CPU. The same loop, `burn`, is the 1 µs io task on the main
 * thread.
 *
 * It stands apart from the pipeline: it imports nothing.
 */

/** `iters` rounds of an xorshift; the result is returned so the loop cannot be elided. */
export function burn(iters: number): number {
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < iters; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

export default function noop(input: number): number {
  return input;
}

export function spin(iters: number): number {
  return burn(iters);
}
