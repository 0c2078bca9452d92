/**
 * The worker of the overhead scenario: a no-op (the default export, answering its input, so only
 * the hand-off is measured) and `spin`, a busy loop of a given number of iterations, calibrated by
 * the scenario to about 0.1 ms of CPU. The same loop, `burn`, is the 1 µs io task on the main
 * thread.
 *
 * It stands apart from the pipeline: it imports only the busy loop (burn.ts).
 */

import { burn } from './burn.js';

export { burn };

export default function noop(input: number): number {
  return input;
}

export function spin(iters: number): number {
  return burn(iters);
}
