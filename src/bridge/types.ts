/**
 * The bridge between a cpu stage's worker and the main thread: what users see on each side, and the
 * few shapes that cross the wire. Types, two constants and a name helper, so both halves can
 * import it: the worker half must never pull in services or the pipeline.
 */
/** What an exposed function sees as `this` when a worker calls it. */
export interface HostCallContext<T = unknown> {
  /** The name of the cpu stage whose worker called. */
  readonly stage: string;
  /** The task's position in the input, from 0. */
  readonly index: number;
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

/** The exposed functions as a worker calls them: every call returns a promise of the copied result. */
export type Host<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/**
 * The second argument of a worker function: `export default function (input, ctx: WorkerContext)`.
 * Import it with `import type { WorkerContext } from 'sluice'` (a type-only import loads nothing).
 */
export interface WorkerContext {
  /**
   * The task's position in the input, from 0, on stages that declare `expose` or `onProgress`.
   * `undefined` on other stages: their workers get the bare input, nothing else, so plain stages
   * pay nothing for the bridge.
   */
  readonly index: number | undefined;
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

/** What the worker entry learns about the bridge from `workerData` (absent on plain stages). */
export interface BridgeData {
  /** Unique to the stage's bridge: names its links. */
  readonly key: string;
  /** The names of the exposed functions. */
  readonly names: readonly string[];
  /** Whether the stage listens to progress (else `progress()` sends nothing). */
  readonly progress: boolean;
}

/** The task message of a bridged stage; on plain stages the message is the bare input. */
export interface BridgedTask {
  readonly input: unknown;
  readonly index: number;
  /** Names the task on the thread's link (unique per stage, unlike an index across runs). */
  readonly id: number;
}

/** The BroadcastChannel name of a thread's link home: only the thread and the main side use it. */
export function linkName(key: string, threadId: number): string {
  return `sluice-bridge:${key}:${threadId}`;
}

/** Tag of a progress message on a link (comlink's own messages never carry it). */
export const PROGRESS_KEY = 'sluiceProgress';

/**
 * An exposed function's error travels under this key as plain data: comlink's own error handling
 * keeps only message, name and stack, and would lose `code`, `cause` and other properties.
 */
export const REMOTE_ERROR_KEY = 'sluiceRemoteError';
