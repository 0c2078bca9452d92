/** Runs an io stage's function on the main thread behind a p-limit limiter. */
import pLimit from 'p-limit';
import type { ResolvedIoStage } from '../options.js';
import type { StageRunner } from './runner.js';

export function createIoRunner(stage: ResolvedIoStage): StageRunner {
  const limit = pLimit(stage.capacity);
  const { fn } = stage;
  return {
    name: stage.name,
    kind: 'io',
    capacity: stage.capacity,
    run: (input, ctx) => limit(fn, input, ctx),
    close: async () => limit.clearQueue(),
  };
}
