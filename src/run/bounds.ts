/**
 * The bounds of a run that move with its stages' capacities: the output's, and the window of
 * open tasks. (Each buffer's bound is `Stages.bound(i)` in ./stages.ts.)
 */
import type { ResolvedOptions } from '../options.js';
import type { StageRunner } from '../stages/runner.js';
import type { Stages } from './stages.js';

/**
 * The output's bound now: as resolved, or, after a batching cpu stage (and no `outputBuffer`
 * given), that stage's capacity, (threads + 1) x B, so a finished batch moves out at once.
 */
export function outputBound(opts: ResolvedOptions, runners: readonly StageRunner[]): number {
  const last = runners[runners.length - 1]!;
  return opts.outputSet || last.followsCapacity !== true ? opts.outputBound : Math.max(opts.outputBound, last.capacity);
}

/**
 * Tasks that may be open at once. Unordered, the stages and buffers bound it by themselves; in
 * input order, finished outcomes wait for earlier ones, so the window bounds them: the capacities
 * (as they are now: a service's limit and a batching stage's B move) + the buffers + the output.
 */
export function pipelineWindow(opts: ResolvedOptions, runners: readonly StageRunner[], stages: Stages): number {
  if (opts.window !== undefined) return opts.window;
  if (!opts.ordered) return Number.POSITIVE_INFINITY;
  let sum = outputBound(opts, runners);
  for (const r of runners) sum += r.capacity;
  for (let i = 0; i < opts.bounds.length; i++) sum += stages.bound(i);
  return sum;
}
