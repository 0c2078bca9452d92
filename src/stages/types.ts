/** The shapes of stages as users declare them, and the context an io function receives. */
import type { Exposed, TaskProgress } from '../bridge/types.js';
import type { Attempt, Service } from '../services/service.js';

/** What an io function receives besides its input. */
export interface TaskContext<T = unknown> {
  /** The task as it came from the input. */
  readonly task: T;
  /** The task's position in the input, from 0. */
  readonly index: number;
  /**
   * The task's key: what the run's `key` function returned for it, else `String(index)`. Work is
   * at least once (a resumed or retried run may do a task again): make side effects idempotent on it,
   * e.g. as the idempotency key of a store's write. (A getter: spreading `ctx` leaves it out.)
   */
  readonly key: string;
  /** The name of the stage running. */
  readonly stage: string;
  /**
   * Aborted when the run is aborted or the consumer stops early, and when this attempt times out
   * (the service's `timeoutMs`, or the stage's own `timeoutMs`; the reason is then a
   * `SluiceTimeoutError`): pass it to fetch and friends.
   */
  readonly signal: AbortSignal;
  /** Which attempt this is, from 1 (io stages on a service retry dropped calls). */
  readonly attempt: number;
  /**
   * Calls another service from inside this stage, through that service's limiter and retries,
   * aborted with `signal`. (Calling the stage's own service from inside its slot is refused:
   * it could deadlock the limiter.)
   */
  call<R>(service: Service, attempt: Attempt<R>): Promise<R>;
}

/** An io stage's function: runs on the main thread inside the stage's limiter slot. */
export type IoFunction<I = any, O = unknown, T = any> = (input: I, ctx: TaskContext<T>) => O | PromiseLike<O>;

/** Give exactly one: a fixed `concurrency`, or the `service` whose limiter the stage runs behind. */
export interface IoOptions {
  /** Calls of this stage in flight at most (a p-limit limiter of its own). A positive integer. */
  readonly concurrency?: number;
  /**
   * The service this stage calls: its (adaptive) limiter gates the stage, shared with every other
   * stage and run that uses the service, and dropped calls are retried inside the slot.
   */
  readonly service?: Service;
  /**
   * With `concurrency` only: the longest a call of `fn` may take, in ms. Past it, `ctx.signal`
   * aborts (its reason a `SluiceTimeoutError`, code `ERR_SLUICE_TIMEOUT`, whose `.stage` names
   * this stage) and the task fails with that error at once, whatever `fn` does later. 0 or unset:
   * no timeout. A stage with a `service` is timed by the service's own `timeoutMs` (giving both
   * is an error).
   * @default 0
   */
  readonly timeoutMs?: number;
}

/**
 * An io stage that takes `I` and yields `O` (the types only guide the compiler: `createExecutor`
 * types a pipeline's outcomes by its last stage).
 */
export interface IoStage<I = any, O = unknown> {
  readonly kind: 'io';
  readonly name: string;
  readonly fn: IoFunction<I, O>;
  readonly concurrency?: number;
  readonly service?: Service;
  /** See `IoOptions.timeoutMs`. */
  readonly timeoutMs?: number;
}

export interface CpuOptions {
  /**
   * Worker threads of the stage's Piscina pool; one task per thread at a time.
   * @default os.availableParallelism()
   */
  readonly threads?: number;
  /**
   * Tasks a free thread receives in one message (their results come back in one message; the
   * worker function still takes one input and returns one result). `'auto'` sizes it from what the
   * stage measures, the time per task and the hand-off per message, so that a batch is about 20
   * hand-offs of work (1 to 10 ms): tasks of 1 ms or more go one per message, tiny ones up to 256
   * per message (and about 1 MiB of binary input). A number fixes it (up to 65536); `false` or 1 sends one task
   * per message. A thread never waits for a batch to fill: it takes what is ready, up to B. With
   * B > 1 the stage holds up to (threads + 1) x B tasks (one batch ready for the first thread that
   * frees), and so does the buffer in front of it (unless `buffer` is set). A stage with
   * `timeoutMs` runs one task per message.
   * @default 'auto'
   */
  readonly batch?: 'auto' | number | false;
  /**
   * The export of the worker module to call.
   * @default 'default'
   */
  readonly exportName?: string;
  /**
   * Move binary payloads (ArrayBuffer, typed arrays, Buffer that own their memory) to the worker
   * and back instead of copying them. The sender's copy is detached. Set `false` to copy.
   * @default true
   */
  readonly transfer?: boolean;
  /** Resource limits of each worker thread (Node's `ResourceLimits`). @default undefined: Node's own */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly codeRangeSizeMb?: number;
    readonly stackSizeMb?: number;
  };
  /**
   * The longest a task may take on its thread, in ms, counted from when it is handed to the pool
   * (so a thread's start and its loading of the worker module count for the first task it runs).
   * Past it, the thread is stopped (even in a loop that never yields) and replaced, and the task
   * fails with a `SluiceTimeoutError` (code `ERR_SLUICE_TIMEOUT`, `.stage` names this stage); the
   * other tasks go on. A number from 0 (no timeout) to 2147483647.
   * @default 0
   */
  readonly timeoutMs?: number;
  /**
   * Main-thread functions the stage's workers may call, by name, through comlink
   * (`await ctx.host<typeof api>().lookup(id)` in the worker). Each is called with the worker's
   * arguments and `this` = `{ stage, index, task, signal }`, the signal aborted when the task ends;
   * arguments and results are copied. Have them call services through `service.call(...)`, so
   * the workers' I/O shares the service's limiter. A plain object of functions.
   * @default undefined: workers get the bare input, and `ctx.host()` throws
   */
  readonly expose?: Exposed;
  /**
   * Receives each `ctx.progress(value)` of the stage's workers: in order per task, all of a task's
   * before its outcome, none after. If it throws (or rejects), the task goes on and the error is
   * reported once per stage as a process warning (a `SluiceBridgeError`).
   * @default undefined: `ctx.progress()` is a no-op
   */
  readonly onProgress?: (event: TaskProgress) => void;
}

/** Type-only key of a cpu stage's input and result types; no such property exists at run time. */
declare const stageTypes: unique symbol;

/**
 * A cpu stage whose worker takes `I` and returns `O` (say them with `cpu<I, O>(...)`; the types
 * only guide the compiler: `createExecutor` types a pipeline's outcomes by its last stage). Unsaid,
 * both are `any`: the worker module's types are not visible here.
 */
export interface CpuStage<I = any, O = any> {
  /** Type-only: never set. */
  readonly [stageTypes]?: (input: I) => O;
  readonly kind: 'cpu';
  readonly name: string;
  /** Absolute path or `file:` URL of the worker module (`.js`, `.mjs`, `.ts`, `.mts`). */
  readonly file: string | URL;
  readonly threads?: number;
  readonly batch?: 'auto' | number | false;
  readonly exportName?: string;
  readonly transfer?: boolean;
  readonly resourceLimits?: CpuOptions['resourceLimits'];
  readonly timeoutMs?: number;
  readonly expose?: Exposed;
  readonly onProgress?: (event: TaskProgress) => void;
}

export type Stage = IoStage | CpuStage;

/** What a stage takes: its input type (`any` when the stage does not say). */
export type StageInput<S> = S extends IoStage<infer I, any> ? I : S extends CpuStage<infer I, any> ? I : unknown;

/** What a stage yields: its result type, promises unwrapped (`unknown` when the stage does not say). */
export type StageOutput<S> = S extends IoStage<any, infer O> ? Awaited<O> : S extends CpuStage<any, infer O> ? Awaited<O> : unknown;

/** An io stage: `fn(input, ctx)` on the main thread, at most `concurrency` calls in flight. */
export function io<I = any, O = unknown, T = any>(name: string, fn: IoFunction<I, O, T>, options: IoOptions): IoStage<I, O> {
  return { ...options, kind: 'io', name, fn: fn as IoFunction<I, O> };
}

/**
 * A cpu stage: the worker module's export runs in a Piscina pool, one task per free thread.
 * Resolve the file from your module, not the current directory:
 * `cpu('parse', new URL('./parse.worker.ts', import.meta.url))`.
 */
export function cpu<I = any, O = any>(name: string, file: string | URL, options: CpuOptions = {}): CpuStage<I, O> {
  return { ...options, kind: 'cpu', name, file };
}
