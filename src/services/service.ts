/**
 * service(): the limiter for one downstream service. A p-limit gate whose `concurrency` follows a
 * limit algorithm fed by every call's outcome; retries with backoff happen inside the slot (so a
 * failing service cannot make the job burn through its input); a 429/503 with Retry-After pauses
 * every call to the service until then. Create one per service, at module scope, and share it:
 * "10 requests across all tasks", not 10 per task.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pLimit, { type LimitFunction } from 'p-limit';
import { SluiceOptionError, SluiceReentrantCallError, SluiceTimeoutError } from '../errors.js';
import type { Limit } from '../limits/limit.js';
import { backoffMs, sleep } from './backoff.js';
import { defaultClassify, type CallOutcome } from './classify.js';
import { resolveServiceOptions, type ResolvedServiceOptions, type ServiceOptions } from './options.js';
import { discardBody, isFailedValue, responseError, responseOfError } from './response.js';
import { parseRetryAfter, retryAfterHeader } from './retry-after.js';

/** One attempt of a call: gets the attempt's signal (aborted on timeout or abort) and its number. */
export type Attempt<T> = (signal: AbortSignal, attempt: number) => T | PromiseLike<T>;

export interface ServiceStats {
  readonly name: string;
  /** The limit now. */
  readonly limit: number;
  /** Attempts running now (not waiting for a slot, a backoff or a pause). */
  readonly inFlight: number;
  readonly peakInFlight: number;
  /** Calls waiting for a slot. */
  readonly queued: number;
  readonly calls: number;
  readonly attempts: number;
  readonly successes: number;
  readonly dropped: number;
  readonly ignored: number;
  readonly retries: number;
  /** Calls that failed after their last attempt. */
  readonly failed: number;
  /** Retry-After pauses applied. */
  readonly pauses: number;
}

/** One finished attempt of a call, as `observe` listeners see it (for metrics and logs). */
export interface AttemptEvent {
  readonly service: string;
  /** Which attempt of its call, from 1. */
  readonly attempt: number;
  /** How the attempt was classified: a sample, a loss signal, or neither. */
  readonly outcome: CallOutcome;
  /** From the start of the attempt to its settling, in the service's clock (ms). */
  readonly latencyMs: number;
  /** The attempts running when this one started, itself included. */
  readonly inflight: number;
}

export interface Service {
  readonly name: string;
  readonly limit: Limit;
  /**
   * Runs `attempt` in a slot of this service, retrying dropped attempts (timeouts, 429/503,
   * resets) with backoff inside the slot. Rejects with the last attempt's error, or, when the last
   * attempt returned a failure (a value classified dropped, or a response with status >= 400 not
   * classified a success, such as a 404), with a `SluiceResponseError` (`ERR_SLUICE_RESPONSE`)
   * naming the status and the attempts; that response's body is cancelled, the response itself is
   * the error's (non-enumerable) `response`.
   */
  call<T>(attempt: Attempt<T>, options?: { readonly signal?: AbortSignal }): Promise<T>;
  stats(): ServiceStats;
  /**
   * Calls `listener` after every attempt that was not aborted (for metrics: latency histograms,
   * outcomes by kind). Returns the function that unsubscribes it. A listener that throws is
   * unsubscribed rather than allowed to fail the call.
   */
  observe(listener: (event: AttemptEvent) => void): () => void;
}

/** A call that failed, with the number of attempts it made; an io stage's runner unwraps it. */
export class CallFailure {
  constructor(
    readonly attempts: number,
    readonly cause: unknown,
  ) {}
}

/** The services whose slot the current async context holds: calling one of them again deadlocks. */
const held = new AsyncLocalStorage<ReadonlySet<ServiceImpl>>();

const kCall = Symbol('sluice.service.call');

/**
 * How a copy of a service shares its limit with the copies in other threads (lanes): a gate over
 * permits counted in shared memory, and a Retry-After pause every copy sees. The limit itself is
 * the `limit` option (a `Limit` whose value the main thread publishes).
 */
export interface ServiceShare {
  /** Runs `fn` holding one permit, as a p-limit gate does; `concurrency` follows the shared limit. */
  readonly gate: Gate;
  /** The ms left of a Retry-After pause (<= 0: none). */
  pausedFor(): number;
  /** Pauses every copy of the service for `ms` from now (or longer, if a pause already runs longer). */
  pauseFor(ms: number): void;
}

/** What a service needs of its gate: p-limit's `LimitFunction`, or a gate over shared permits. */
export interface Gate {
  <T>(fn: () => PromiseLike<T> | T): Promise<T>;
  readonly pendingCount: number;
  concurrency: number;
}

/** Creates the limiter for one downstream service. */
export function service(name: string, options: ServiceOptions = {}): Service {
  return new ServiceImpl(resolveServiceOptions(name, options));
}

/** A copy of a service whose gate and pauses are shared with copies in other threads (lanes). */
export function sharedService(name: string, options: ServiceOptions, share: ServiceShare): Service {
  return new ServiceImpl(resolveServiceOptions(name, options), share);
}

export function isService(value: unknown): value is Service {
  return value instanceof ServiceImpl;
}

/** Like `call`, but rejects with a `CallFailure` that carries the attempts made. */
export function callCounted<T>(svc: Service, attempt: Attempt<T>, signal?: AbortSignal): Promise<T> {
  return (svc as ServiceImpl)[kCall](attempt, signal);
}

class ServiceImpl implements Service {
  readonly name: string;
  readonly limit: Limit;
  readonly #o: ResolvedServiceOptions;
  readonly #gate: Gate;
  readonly #share: ServiceShare | undefined;
  #inFlight = 0;
  #peakInFlight = 0;
  #pausedUntil = 0;
  #calls = 0;
  #attempts = 0;
  #successes = 0;
  #dropped = 0;
  #ignored = 0;
  #retries = 0;
  #failed = 0;
  #pauses = 0;
  readonly #observers = new Set<(event: AttemptEvent) => void>();

  constructor(o: ResolvedServiceOptions, share?: ServiceShare) {
    this.#o = o;
    this.name = o.name;
    this.limit = o.limit;
    this.#share = share;
    this.#gate = share?.gate ?? (pLimit(o.limit.current) as LimitFunction);
    o.limit.subscribe((n) => {
      this.#gate.concurrency = n;
    });
  }

  call<T>(attempt: Attempt<T>, options: { readonly signal?: AbortSignal } = {}): Promise<T> {
    return this[kCall](attempt, options.signal).catch((error: unknown) => {
      throw error instanceof CallFailure ? error.cause : error;
    });
  }

  [kCall]<T>(attempt: Attempt<T>, signal?: AbortSignal): Promise<T> {
    const outer = held.getStore();
    if (outer?.has(this)) return Promise.reject(new SluiceReentrantCallError(this.name));
    this.#calls += 1;
    const inside = new Set(outer);
    inside.add(this);
    return this.#gate(() => held.run(inside, () => this.#withRetries(attempt, signal)));
  }

  stats(): ServiceStats {
    return {
      name: this.name,
      limit: this.limit.current,
      inFlight: this.#inFlight,
      peakInFlight: this.#peakInFlight,
      queued: this.#gate.pendingCount,
      calls: this.#calls,
      attempts: this.#attempts,
      successes: this.#successes,
      dropped: this.#dropped,
      ignored: this.#ignored,
      retries: this.#retries,
      failed: this.#failed,
      pauses: this.#pauses,
    };
  }

  observe(listener: (event: AttemptEvent) => void): () => void {
    if (typeof listener !== 'function') throw new SluiceOptionError('listener', 'a function', listener);
    this.#observers.add(listener);
    return () => {
      this.#observers.delete(listener);
    };
  }

  #notify(event: AttemptEvent): void {
    for (const listener of this.#observers) {
      try {
        listener(event);
      } catch {
        // An observer is instrumentation: it must never fail the call it watches.
        this.#observers.delete(listener);
      }
    }
  }

  async #withRetries<T>(fn: Attempt<T>, signal: AbortSignal | undefined): Promise<T> {
    const { retry, random, now } = this.#o;
    for (let attempt = 1; ; attempt++) {
      const pause = this.#share ? this.#share.pausedFor() : this.#pausedUntil - now();
      if (pause > 0) await sleep(pause, signal);
      const r = await this.#attempt(fn, attempt, signal);
      // A value classified `ignore` that is not a failure response only gave the limit no sample.
      if (!r.threw && !isFailedValue(r.value, r.outcome)) return r.value as T;
      if (signal?.aborted) throw new CallFailure(attempt, signal.reason);
      const last = attempt >= retry.attempts;
      if (r.outcome === 'ignore' || last) {
        this.#failed += 1;
        throw new CallFailure(attempt, r.threw ? r.error : responseError(this.name, attempt, r.value));
      }
      // This attempt's response is never seen: release its connection before the next attempt.
      discardBody(r.threw ? responseOfError(r.error) : r.value);
      this.#retries += 1;
      await sleep(Math.max(backoffMs(retry, attempt, random), r.retryAfterMs ?? 0), signal);
    }
  }

  async #attempt<T>(
    fn: Attempt<T>,
    attempt: number,
    outer: AbortSignal | undefined,
  ): Promise<{ outcome: CallOutcome; threw: boolean; value?: unknown; error?: unknown; retryAfterMs?: number }> {
    const { now, timeoutMs, classify } = this.#o;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(outer!.reason);
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    this.#attempts += 1;
    this.#inFlight += 1;
    if (this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
    const inflight = this.#inFlight;
    const startMs = now();
    let threw = false;
    let value: unknown;
    let error: unknown;
    try {
      const running = Promise.resolve().then(() => fn(controller.signal, attempt));
      if (timeoutMs > 0) {
        // A straggler that ignores its signal must not go unhandled, and the response it may
        // still return after its timeout is nobody's to read.
        running.then(
          (late) => controller.signal.aborted && discardBody(late),
          () => undefined,
        );
        value = await Promise.race([
          running,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const e = new SluiceTimeoutError(this.name, timeoutMs);
              controller.abort(e);
              reject(e);
            }, timeoutMs);
          }),
        ]);
      } else {
        value = await running;
      }
    } catch (e) {
      threw = true;
      error = e;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
      this.#inFlight -= 1;
    }
    const rttMs = now() - startMs;
    if (outer?.aborted) {
      if (!threw) discardBody(value);
      return { outcome: 'ignore', threw: true, error: outer.reason };
    }
    const result = threw ? { error } : { value };
    const outcome = classify?.(result) ?? defaultClassify(result);
    if (outcome === 'success') this.#successes += 1;
    else if (outcome === 'dropped') this.#dropped += 1;
    else this.#ignored += 1;
    if (this.#observers.size > 0) {
      const event: AttemptEvent = { service: this.name, attempt, outcome, latencyMs: rttMs, inflight };
      held.exit(() => this.#notify(event));
    }
    if (outcome !== 'ignore') {
      // A new limit wakes whoever listens (a pipeline admitting more work): that must not run,
      // nor start calls, in this slot's async context, or they would look re-entrant.
      const sample = { startMs, rttMs, inflight, dropped: outcome === 'dropped' };
      held.exit(() => this.limit.sample(sample));
    }
    let retryAfterMs: number | undefined;
    if (outcome === 'dropped') {
      retryAfterMs = parseRetryAfter(retryAfterHeader(threw ? error : value), Date.now(), this.#o.maxRetryAfterMs);
      if (retryAfterMs !== undefined && retryAfterMs > 0) {
        this.#pauses += 1;
        if (this.#share) this.#share.pauseFor(retryAfterMs);
        else this.#pausedUntil = Math.max(this.#pausedUntil, now() + retryAfterMs);
      }
    }
    return { outcome, threw, value, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
}
