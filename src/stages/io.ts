/**
 * Runs an io stage's function on the main thread: in a slot of its service (a p-limit gate whose
 * limit moves, shared by every stage and run that calls the service, and which retries dropped
 * calls), or, with a fixed `concurrency`, in one of the stage's own slots. The pipeline never
 * admits more tasks into a stage than its capacity, so a fixed stage needs no gate of its own: a
 * p-limit there would count the same slots a second time (measured: ~0.5 µs a task, a third of a
 * 1 µs task's cost).
 */
import type { ResolvedIoStage } from '../options.js';
import { callCounted } from '../services/service.js';
import type { StageRunner } from './runner.js';

const resolved = Promise.resolve();

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
  return {
    name,
    kind: 'io',
    capacity: stage.capacity,
    // One microtask later, as a limiter would: the function never runs inside the pipeline's pump.
    run: (input, ctx) => resolved.then(() => fn(input, ctx)),
    close: async () => undefined,
  };
}
