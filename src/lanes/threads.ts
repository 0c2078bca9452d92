/**
 * How many lanes, and how many threads each lane's cpu stages get. `lanes: 'auto'` is one lane per
 * four cores, at least 2: a lane's own thread does the io of about three cpu threads' worth of
 * work at the costs measured in bench/results/lanes.md. With P lanes, a cpu stage of T threads
 * (its own `threads`, the `threads` option, or the default, os.availableParallelism()) gets
 * max(1, floor(T / P)) threads in each lane, so P lanes together use about T threads.
 */
import { availableParallelism } from 'node:os';
import { SluiceOptionError } from '../errors.js';
import { DEFAULTS } from '../options.js';
import type { Stage } from '../stages/types.js';

/** The most lanes a run may have. */
export const MAX_LANES = 256;

/** `lanes` as a number: an integer 1..MAX_LANES, or 'auto'. */
export function resolveLanes(lanes: unknown, option = 'lanes'): number {
  if (lanes === undefined) return 1;
  if (lanes === 'auto') return autoLanes();
  if (typeof lanes !== 'number' || !Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANES) {
    throw new SluiceOptionError(option, `an integer from 1 to ${MAX_LANES}, or "auto"`, lanes);
  }
  return lanes;
}

export function autoLanes(cores: number = availableParallelism()): number {
  return Math.max(2, Math.ceil(cores / 4));
}

/** The stages with each cpu stage's threads shared out over `lanes` (`threads`: every cpu stage's, over all lanes). */
export function laneThreads(stages: readonly Stage[], threads: number | undefined, lanes: number): readonly Stage[] {
  return stages.map((stage) => {
    if (stage?.kind !== 'cpu') return stage;
    const total = threads ?? stage.threads ?? DEFAULTS.threads();
    const each = lanes > 1 ? Math.max(1, Math.floor(total / lanes)) : total;
    return each === stage.threads ? stage : { ...stage, threads: each };
  });
}
