/** The bench workers' busy loop. Imports nothing: worker modules stand apart from the pipeline. */

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
