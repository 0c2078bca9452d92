/**
 * Runs an io stage's function on the main thread: behind a p-limit limiter of its own (fixed
 * `concurrency`), or in a slot of its service, whose limit moves and which retries dropped calls.
 */
import pLimit from 'p-limit';
import type { ResolvedIoStage } from '../options.js';
import { callCounted } from '../services/service.js';
import type { StageRunner } from './runner.js';

export function createIoRunner(stage: ResolvedIoStage): StageRunner {
  const { fn, service, name } = stage;
  if (service !== undefined) {
    return {
      name,
      kind: 'io',
      get capacity() {
        return service.limit.current;
      },
      run: (input, ctx) => callCounted(service, (signal, attempt) => fn(input, { ...ctx, signal, attempt }), ctx.signal),
      onCapacityChange: (listener) => service.limit.subscribe(listener),
      close: async () => undefined,
    };
  }
  const limit = pLimit(stage.capacity);
  return {
    name,
    kind: 'io',
    capacity: stage.capacity,
    run: (input, ctx) => limit(fn, input, ctx),
    close: async () => limit.clearQueue(),
  };
}
