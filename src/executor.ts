/**
 * createExecutor: validates options, builds one runner per stage, and starts runs. The stages'
 * pools and limiters belong to the executor and outlive a run; one run is active at a time.
 */
import { ErrorCodes, SluiceOptionError, SluiceStateError } from './errors.js';
import { resolveOptions, type ExecutorOptions, type ResolvedOptions } from './options.js';
import type { Outcome } from './outcome.js';
import type { KeyFunction } from './run/keys.js';
import { Run } from './run/run.js';
import { zeroStats } from './run/stats.js';
import { createCpuRunner } from './stages/cpu.js';
import { createIoRunner } from './stages/io.js';
import type { StageRunner } from './stages/runner.js';
import type { Stage, StageInput, StageOutput } from './stages/types.js';
import type { ExecutorStats } from './stats.js';

export interface RunOptions<T = unknown> {
  /** Aborting it stops admission, aborts in-flight work, and rejects the iteration. */
  readonly signal?: AbortSignal;
  /**
   * Aborting it drains the run: no new task is pulled (the input's `return()` is called), work
   * already pulled finishes and is yielded, then the iteration ends normally. For a graceful stop.
   */
  readonly drain?: AbortSignal;
  /**
   * Each task's key, called once per task as it is pulled: stages see it as `ctx.key` and its
   * outcome carries it. Work is at least once (a resumed run may do a task again), so a stage's
   * side effects should be idempotent on it. A key that is not a non-empty string (or a throw)
   * fails that task alone, without running it, with a `SluiceOptionError` naming `key` (or what
   * was thrown).
   * @default (task, index) => String(index)
   */
  readonly key?: (task: T, index: number) => string;
}

export interface Executor<T = unknown, R = unknown> extends AsyncDisposable {
  /**
   * Runs every task of `input` (pulled lazily, one at a time) through the stages. Iterate the
   * result to drive the run: outcomes come as they finish (or in input order with `ordered`).
   * Breaking out of the loop stops the run and settles what is in flight.
   */
  run(input: Iterable<T> | AsyncIterable<T>, options?: RunOptions<T>): AsyncIterableIterator<Outcome<T, R>>;
  /** Counters and peaks of the active run, or of the last one. */
  stats(): ExecutorStats;
  /** Stops an active run, then releases the worker pools. Idempotent. */
  close(): Promise<void>;
}

/** The input type of a pipeline: its first stage's. */
export type PipelineInput<S extends readonly Stage[]> = S extends readonly [infer F, ...unknown[]] ? StageInput<F> : unknown;

/** The result type of a pipeline: its last stage's. */
export type PipelineOutput<S extends readonly Stage[]> = S extends readonly [...unknown[], infer L] ? StageOutput<L> : unknown;

/**
 * Validates `options` and builds the stages' runners (no thread starts before the first run).
 * Given the stages as a literal list, the executor is typed by them: tasks of the first stage's
 * input, outcomes of the last stage's result. Type arguments (`createExecutor<T, R>(...)`) or a
 * list typed `Stage[]` give `Executor<T, R>` as said, or `Executor<unknown, unknown>`.
 */
export function createExecutor<const S extends readonly [Stage, ...Stage[]]>(
  options: ExecutorOptions & { readonly stages: S },
): Executor<PipelineInput<S>, PipelineOutput<S>>;
export function createExecutor<T = unknown, R = unknown>(options: ExecutorOptions): Executor<T, R>;
export function createExecutor<T = unknown, R = unknown>(options: ExecutorOptions): Executor<T, R> {
  const resolved = resolveOptions(options);
  const runners: StageRunner[] = resolved.stages.map((s) => (s.kind === 'io' ? createIoRunner(s) : createCpuRunner(s)));
  return executorOf(resolved, runners);
}

/** An executor over runners built already (a lanes executor's one runner stands for every lane). */
export function executorOf<T = unknown, R = unknown>(resolved: ResolvedOptions, runners: readonly StageRunner[]): Executor<T, R> {
  let active: Run | undefined;
  let last: Run | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  function run(input: Iterable<T> | AsyncIterable<T>, runOptions: RunOptions<T> = {}): AsyncIterableIterator<Outcome<T, R>> {
    if (closed) throw new SluiceStateError(ErrorCodes.CLOSED, 'The executor is closed');
    if (input === null || (typeof input !== 'object' && typeof input !== 'function') || !isIterable(input)) {
      throw new SluiceOptionError('input', 'an Iterable or AsyncIterable of tasks', input);
    }
    if (runOptions === null || typeof runOptions !== 'object') throw new SluiceOptionError('run options', 'an object', runOptions);
    const { signal, drain, key } = runOptions;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new SluiceOptionError('signal', 'an AbortSignal', signal);
    }
    if (drain !== undefined && !(drain instanceof AbortSignal)) {
      throw new SluiceOptionError('drain', 'an AbortSignal', drain);
    }
    if (key !== undefined && typeof key !== 'function') {
      throw new SluiceOptionError('key', 'a function (task, index) => string', key);
    }
    if (active !== undefined) throw runActive();
    const r: Run = new Run({
      options: resolved,
      runners,
      source: input,
      signal,
      drain,
      key: key as KeyFunction | undefined,
      onStart() {
        if (closed) throw new SluiceStateError(ErrorCodes.CLOSED, 'The executor is closed');
        if (active !== undefined && active !== r) throw runActive();
        active = r;
        last = r;
      },
      onSettle() {
        if (active === r) active = undefined;
      },
    });
    last ??= r;
    return r as unknown as AsyncIterableIterator<Outcome<T, R>>;
  }

  function stats(): ExecutorStats {
    // Before any run: the zeros of a run that never started (stats() changes nothing).
    return (active ?? last)?.stats() ?? zeroStats(resolved, runners);
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      closed = true;
      if (active) await active.cancel(new SluiceStateError(ErrorCodes.CLOSED, 'The executor was closed during the run'));
      await Promise.all(runners.map((r) => r.close()));
    })();
    return closing;
  }

  return { run, stats, close, [Symbol.asyncDispose]: close };
}

function runActive(): SluiceStateError {
  return new SluiceStateError(
    ErrorCodes.RUN_ACTIVE,
    'Another run of this executor is active: finish or break out of it first (one run at a time per executor)',
  );
}

function isIterable(value: object): boolean {
  const v = value as Partial<Iterable<unknown> & AsyncIterable<unknown>>;
  return typeof v[Symbol.iterator] === 'function' || typeof v[Symbol.asyncIterator] === 'function';
}
