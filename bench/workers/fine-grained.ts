/**
 * The worker of the fine-grained scenario. One task is `spin`, a busy loop of a given number of
 * iterations (real CPU work, calibrated by the scenario; not a clock spin); the no-op is `spin(0)`,
 * a call that does nothing, so only the hand-off is measured. The chunked baseline sends a whole
 * chunk as one Piscina task: `chunk` loops over it, calling the very same `spin` per item, and
 * answers one result per item. `rates` calibrates the loop.
 *
 * It stands apart from the pipeline: it imports only the busy loop (burn.ts).
 */
import { burn } from './burn.js';

export { burn };

export function spin(iters: number): number {
  return burn(iters);
}

// Piscina loads a pool's default export when a thread starts, whatever `name` its tasks call.
export default spin;

/** The chunked baseline's task: `spin` over each item of the chunk, one answer per item. */
export function chunk(iters: readonly number[]): number[] {
  const out = new Array<number>(iters.length);
  for (let i = 0; i < iters.length; i++) out[i] = spin(iters[i]!);
  return out;
}

let sink = 0;

/**
 * Calibration: iterations of `burn` per ms on this thread, in `bursts` bursts of about 5 ms after
 * a warm-up. The scenario runs it on all T threads at once, so the rates are the ones tasks get
 * when every thread is busy.
 */
export function rates(bursts: number): number[] {
  let n = 20_000;
  for (let i = 0; i < 200; i++) sink ^= burn(n); // tier up
  const out: number[] = [];
  for (let i = 0; i < bursts; i++) {
    const t0 = performance.now();
    sink ^= burn(n);
    const r = n / (performance.now() - t0);
    out.push(r);
    n = Math.round(r * 5);
  }
  // Read the sink, so the loops stay observable to the compiler.
  if (sink === 0.5) out.push(0);
  return out;
}
