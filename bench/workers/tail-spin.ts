/**
 * The worker of the tail scenario: a calibrated busy loop, so a task's work is a fixed amount of
 * CPU (iterations) whatever the strategy, and stretches only when the machine is contended. It
 * answers the task's start and end on `process.hrtime`, one monotonic clock shared by every thread
 * of the process, so the main thread can take a makespan across threads.
 *
 * It stands apart from the pipeline: it imports only node builtins and the busy loop (burn.ts).
 */
import { threadId } from 'node:worker_threads';

/** [start, end] of one task, in ms on the process's monotonic clock, and the thread that ran it. */
export type Span = readonly [start: number, end: number, thread: number];

/** Monotonic ms, comparable across the threads of one process. */
export function nowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

import { burn } from './burn.js';

export { burn };

let sink = 0;

/** One task (sluice's cpu stage): burn `iters`, answer its span. */
export default function spin(iters: number): Span {
  const start = nowMs();
  sink ^= burn(iters);
  return [start, nowMs(), threadId];
}

/**
 * Calibration: iterations of `burn` per ms on this thread, in `bursts` bursts of about 5 ms after
 * a warm-up. The scenario runs it on all T threads at once, so the rates are the ones tasks get
 * when every thread is busy (on a 2-vCPU machine the two may share a core).
 */
export function rates(bursts: number): number[] {
  let n = 20_000;
  for (let i = 0; i < 200; i++) sink ^= burn(n); // tier up
  const rates: number[] = [];
  for (let i = 0; i < bursts; i++) {
    const t0 = nowMs();
    sink ^= burn(n);
    const r = n / (nowMs() - t0);
    rates.push(r);
    n = Math.round(r * 5);
  }
  return rates;
}

/** One chunk (the static strategy): its tasks one after the other, answering each task's span. */
export function chunk(iters: readonly number[]): Span[] {
  const spans: Span[] = [];
  for (const n of iters) spans.push(spin(n));
  // Read the sink, so the loops stay observable to the compiler.
  if (sink === 0.5) spans.push([0, 0, -1]);
  return spans;
}
