/**
 * What a cpu stage's worker function sees, as public types: its context, and the exposed functions
 * as it calls them. The main side's view of the bridge is in ../bridge/types.ts.
 */
/** The exposed functions as a worker calls them: every call returns a promise of the copied result. */
export type Host<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/**
 * The second argument of a worker function: `export default function (input, ctx: WorkerContext)`.
 * Import it with `import type { WorkerContext } from 'sluice'` (a type-only import loads nothing).
 */
export interface WorkerContext {
  /** The task's position in the input, from 0. */
  readonly index: number;
  /**
   * The task's key: what the run's `key` function returned for it, else `String(index)`. Work is
   * at least once: make a worker's side effects idempotent on it.
   */
  readonly key: string;
  /**
   * The functions the stage exposes: `await ctx.host<typeof api>().lookup(id)`. Throws a
   * `SluiceBridgeError` (code `ERR_SLUICE_BRIDGE`) when the stage exposes nothing; calling a name
   * that is not exposed rejects with one that lists what is. A call made after the task ended
   * rejects with one too; a call still pending when the task ends never settles (and is not made
   * if the main thread had not started it yet): await your calls, and report fire-and-forget facts
   * with `progress` instead.
   */
  host<T = Record<string, (...args: any[]) => unknown>>(): Host<T>;
  /**
   * Reports progress to the stage's `onProgress` (the value is copied). Every value reported
   * before the task ends reaches `onProgress`, in order, before the task's outcome. A no-op on
   * stages without `onProgress` and after the task ended, so a worker module can report whether or
   * not anyone listens.
   */
  progress(value: unknown): void;
}

/** A worker function with the context: what a cpu stage's worker module exports. */
export type WorkerFunction<I = any, O = unknown> = (input: I, ctx: WorkerContext) => O | PromiseLike<O>;
