/**
 * Calibrates the CPU step once per bench run, in the orchestrator before any child starts. It
 * counts this thread's CPU time, not wall time, so a busy machine (preemption) does not skew it:
 * times single SHA-256 passes over a 256 KiB document (after a warm-up), picks the number of rounds
 * that makes `cpuTask` cost about `targetMs`, then measures `cpuTask` itself with that count.
 */
import { generateDocument } from 'sluice/demo';
import { hashRounds, threadCpuMs } from '../workers/cpu-task.js';

export interface Calibration {
  readonly rounds: number;
  /** CPU time of one pass (ms). */
  readonly passMs: number;
  /** CPU time of the whole task with `rounds` passes (ms): the calibrated C. */
  readonly taskMs: number;
}

/** Mean CPU time of `fn` over `reps` calls (wall time where schedstat is missing). */
function cpuTime(reps: number, fn: () => void): number {
  const clock = () => threadCpuMs() ?? performance.now();
  const t0 = clock();
  for (let i = 0; i < reps; i++) fn();
  return (clock() - t0) / reps;
}

export function calibrate(targetMs: number, sizeBytes: number): Calibration {
  const doc = generateDocument(1, sizeBytes);
  cpuTime(200, () => hashRounds(doc, 1));
  const passMs = cpuTime(400, () => hashRounds(doc, 1));
  const rounds = Math.max(1, Math.round(targetMs / passMs));
  const taskMs = cpuTime(100, () => hashRounds(doc, rounds));
  return { rounds, passMs, taskMs };
}

/**
 * The same for several target costs over one payload size, each task timed for about `budgetMs`
 * of CPU in all (at least 3 calls), so a 20 ms step does not take 100 × 20 ms to calibrate.
 */
export function calibrateMany(targetsMs: readonly number[], sizeBytes: number, budgetMs = 150): Calibration[] {
  const doc = generateDocument(1, sizeBytes);
  cpuTime(200, () => hashRounds(doc, 1));
  const passMs = cpuTime(400, () => hashRounds(doc, 1));
  return targetsMs.map((targetMs) => {
    const rounds = Math.max(1, Math.round(targetMs / passMs));
    const reps = Math.max(3, Math.ceil(budgetMs / Math.max(targetMs, 0.1)));
    return { rounds, passMs, taskMs: cpuTime(reps, () => hashRounds(doc, rounds)) };
  });
}
