/** What a run yields for each task. */

export interface Completed<T = unknown, R = unknown> {
  readonly ok: true;
  readonly task: T;
  /** The task's position in the input, from 0. */
  readonly index: number;
  /** What the last stage returned. */
  readonly value: R;
}

export interface Failed<T = unknown> {
  readonly ok: false;
  readonly task: T;
  readonly index: number;
  /** The name of the stage that failed. */
  readonly stage: string;
  /** What the stage threw (a worker's error keeps its message, stack, `code` and own properties). */
  readonly error: unknown;
  /** Attempts made in the failing stage: more than 1 when a service retried dropped calls. */
  readonly attempts: number;
}

export type Outcome<T = unknown, R = unknown> = Completed<T, R> | Failed<T>;
