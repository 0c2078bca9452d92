/**
 * The `Limit` contract: how many calls to one service may be in flight. Three methods, as in
 * Netflix's concurrency-limits: the current value, a subscription to changes, and a sample of one
 * finished call. Algorithms feed on samples only: no timers, no I/O; time comes in the sample.
 */

/** One finished call to a service, as the limiter saw it. */
export interface Sample {
  /** When the call started, in ms of the limiter's injected clock. */
  readonly startMs: number;
  /** Round-trip time of the call in ms (end − start). */
  readonly rttMs: number;
  /** Calls in flight to the service when this one started, itself included. */
  readonly inflight: number;
  /** A loss signal (timeout, HTTP 429/503, connection reset or refused): decrease. */
  readonly dropped: boolean;
}

export interface Limit {
  /** The current limit: an integer ≥ 1 within [min, max]. */
  readonly current: number;
  /** Calls `listener` with the new value whenever, and only when, the limit changes. */
  subscribe(listener: (limit: number) => void): () => void;
  /** Feeds one finished call (an ignored outcome, such as a 404, is never sampled). */
  sample(sample: Sample): void;
}

/** Bounds every algorithm takes (integers, 1 <= min <= initial <= max); see `BOUND_DEFAULTS`. */
export interface LimitBounds {
  /** Where the limit starts; a default outside [min, max] is moved inside. @default 4 */
  readonly initial?: number;
  /** The lowest the limit goes. @default 1 */
  readonly min?: number;
  /** The highest the limit goes. @default 200 */
  readonly max?: number;
}
