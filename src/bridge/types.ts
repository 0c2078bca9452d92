/**
 * The bridge between a cpu stage's workers and the main thread, as users see it on the main side:
 * the functions a stage exposes and the progress it hears. What a worker function sees is in
 * ../worker/types.ts; what crosses the links is in ../wire/link.ts.
 */
/** What an exposed function sees as `this` when a worker calls it. */
export interface HostCallContext<T = unknown> {
  /** The name of the cpu stage whose worker called. */
  readonly stage: string;
  /** The task's position in the input, from 0. */
  readonly index: number;
  /** The task's key (see `TaskContext.key`). */
  readonly key: string;
  /** The task as it came from the input. */
  readonly task: T;
  /**
   * Aborted when the task ends (done, failed, crashed, aborted): pass it to `service.call(...,
   * { signal })` so a lookup no one waits for any more stops early.
   */
  readonly signal: AbortSignal;
}

/**
 * A main-thread function a cpu stage exposes to its workers. It gets the worker's arguments (copied
 * by structured clone) and `this` = the calling task's `HostCallContext`; what it returns (or
 * resolves to) is copied back. Make it call services through `service.call` so the worker's I/O
 * shares the service's limiter with every other caller.
 */
export type ExposedFunction = (this: HostCallContext, ...args: any[]) => unknown;

/** The functions a cpu stage exposes, by name. */
export type Exposed = Readonly<Record<string, ExposedFunction>>;

/** One `ctx.progress(value)` of a worker, as the stage's `onProgress` receives it. */
export interface TaskProgress<T = unknown> {
  readonly stage: string;
  readonly index: number;
  readonly task: T;
  /** What the worker passed to `progress` (copied by structured clone). */
  readonly value: unknown;
}
