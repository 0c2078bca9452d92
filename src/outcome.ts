/** What a run yields for each task. */

export interface Completed<T = unknown, R = unknown> {
  readonly ok: true;
  readonly task: T;
  /** The task's position in the input, from 0. */
  readonly index: number;
  /**
   * What the run's `key` function returned for the task (its `ctx.key`); undefined when the run has
   * none (the key is then `String(index)`).
   */
  readonly key?: string | undefined;
  /** What the last stage returned. */
  readonly value: R;
}

export interface Failed<T = unknown> {
  readonly ok: false;
  readonly task: T;
  readonly index: number;
  /**
   * As on `Completed`; undefined too when the run's `key` function threw or returned no non-empty
   * string for the task (then `error` says so, `stage` is the first stage's name and `attempts` is
   * 0: the task did not run).
   */
  readonly key?: string | undefined;
  /** The name of the stage that failed. */
  readonly stage: string;
  /** What the stage threw (a worker's error keeps its message, stack, `code` and own properties). */
  readonly error: unknown;
  /** Attempts made in the failing stage: more than 1 when a service retried dropped calls (0: it never ran). */
  readonly attempts: number;
}

export type Outcome<T = unknown, R = unknown> = Completed<T, R> | Failed<T>;
