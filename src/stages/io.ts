/**
 * Runs an io stage's function on the main thread: in a slot of its service (a p-limit gate whose
 * limit moves, shared by every stage and run that calls the service, and which retries dropped
 * calls), or, with a fixed `concurrency`, in one of the stage's own slots. The pipeline never
 * admits more tasks into a stage than its capacity, so a fixed stage needs no gate of its own: a
 * p-limit there would count the same slots a second time (measured: ~0.5 µs a task, a third of a
 * 1 µs task's cost). For the same reason a fixed stage without `timeoutMs` gets no timer and no
 * signal of its own per task: it sees the run's signal.
 */
import { SluiceTimeoutError } from '../errors.js';
import type { ResolvedIoStage } from './io-options.js';
import { CallFailure, callCounted } from '../services/service.js';
import { StageFailure, type StageRunner, type TaskRef } from './runner.js';
import type { IoFunction, TaskContext } from './types.js';

const resolved = Promise.resolve();

export function createIoRunner(stage: ResolvedIoStage): StageRunner {
  const { fn, service, name, timeoutMs } = stage;
  if (service !== undefined) {
    return {
      name,
      kind: 'io',
      get capacity() {
        return service.limit.current;
      },
      // ctx.signal and ctx.call follow the attempt's signal: a service timeout aborts both.
      run: (input, task, runSignal) =>
        callCounted(service, (signal, attempt) => fn(input, taskContext(task, name, signal, attempt)), runSignal).then(
          undefined,
          stageFailure,
        ),
      onCapacityChange: (listener) => service.limit.subscribe(listener),
      close: async () => undefined,
    };
  }
  return {
    name,
    kind: 'io',
    capacity: stage.capacity,
    // One microtask later, as a limiter would: the function never runs inside the pipeline's pump.
    run:
      timeoutMs > 0
        ? (input, task, signal) => runTimed(fn, input, task, signal, name, timeoutMs)
        : (input, task, signal) => resolved.then(() => fn(input, taskContext(task, name, signal, 1))),
    close: async () => undefined,
  };
}

/**
 * Runs `fn` with a signal of its own that follows the run's and aborts after `timeoutMs`, when the
 * task fails with a `SluiceTimeoutError` naming the stage. What `fn` does after that (it may ignore
 * its signal) is dropped: a late rejection is handled here, never unhandled.
 */
function runTimed(fn: IoFunction, input: unknown, task: TaskRef, outer: AbortSignal, stage: string, timeoutMs: number): Promise<unknown> {
  const controller = new AbortController();
  const signal = controller.signal;
  const onAbort = (): void => controller.abort(outer.reason);
  if (outer.aborted) controller.abort(outer.reason);
  else outer.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      outer.removeEventListener('abort', onAbort);
      const error = new SluiceTimeoutError({ stage }, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
    };
    resolved
      .then(() => fn(input, taskContext(task, stage, signal, 1)))
      .then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
  });
}

/**
 * What `fn` sees in one attempt: the task's context, with the attempt's signal and a `call` aborted
 * with it. A class, so that the default key is made only when read: `String(index)` on every task
 * cost the 1 µs io path about 8% (measured against the same code with a constant key).
 */
class IoTaskContext implements TaskContext {
  readonly task: unknown;
  readonly index: number;
  readonly stage: string;
  readonly signal: AbortSignal;
  readonly attempt: number;
  readonly call: TaskContext['call'];
  readonly #key: string | undefined;

  constructor(ref: TaskRef, stage: string, signal: AbortSignal, attempt: number) {
    this.task = ref.task;
    this.index = ref.index;
    this.stage = stage;
    this.signal = signal;
    this.attempt = attempt;
    this.call = (service, a) => service.call(a, { signal });
    this.#key = ref.key;
  }

  get key(): string {
    return this.#key ?? String(this.index);
  }
}

function taskContext(task: TaskRef, stage: string, signal: AbortSignal, attempt: number): TaskContext {
  return new IoTaskContext(task, stage, signal, attempt);
}

/** A service call's failure, with the attempts it made, as the pipeline takes it. */
function stageFailure(error: unknown): never {
  throw error instanceof CallFailure ? new StageFailure(error.cause, error.attempts) : error;
}
