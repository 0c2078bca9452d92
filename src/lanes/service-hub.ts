/**
 * The main thread's side of the services of a lanes run. Each declared service gets its permits in
 * shared memory (./shared-permits.ts) and keeps its limit algorithm here: the lanes post their
 * samples in batches, the algorithm moves the limit, and the new limit is published into the
 * permits (and the lanes told, so their stages' capacities follow). What the main thread hands to
 * stats, progress and metrics is a view of each service over every lane: calls, retries and
 * failures summed, in-flight and its peak read from the shared count, attempts replayed to observers.
 */
import type { ServiceOptions } from '../services/options.js';
import { sharedService, type Attempt, type AttemptEvent, type Service, type ServiceStats } from '../services/service.js';
import { AlgorithmLimit } from '../limits/base.js';
import type { Limit } from '../limits/limit.js';
import { createPermitBuffer, REPORTS, SharedPermits, sharedGate } from './shared-permits.js';
import type { ServiceReport } from './wire.js';

const SUMMED = ['queued', 'calls', 'attempts', 'successes', 'dropped', 'ignored', 'retries', 'failed', 'pauses'] as const;

export class ServiceHub {
  readonly #views = new Map<string, HubService>();
  readonly #onLimits: () => void;

  /** `onLimits` tells the lanes that a limit moved. */
  constructor(onLimits: () => void) {
    this.#onLimits = onLimits;
  }

  /** The main thread's copy of the service (its limit algorithm), for `buildServices`. */
  make(name: string, options: ServiceOptions): Service {
    const permits = new SharedPermits(createPermitBuffer(1));
    const inner = sharedService(name, options, {
      gate: sharedGate(permits),
      pausedFor: () => permits.pausedUntil() - Date.now(),
      pauseFor: (ms) => permits.pauseUntil(Date.now() + ms),
    });
    permits.setLimit(inner.limit.current);
    const view = new HubService(inner, permits, canMove(inner.limit) ? REPORTS.samples : 0);
    inner.limit.subscribe((n) => {
      permits.setLimit(n);
      this.#onLimits();
    });
    this.#views.set(name, view);
    return view;
  }

  /** The permits of every service, by name, for the lanes' `workerData`. */
  buffers(): Record<string, SharedArrayBuffer> {
    return Object.fromEntries([...this.#views].map(([name, view]) => [name, view.permits.buffer]));
  }

  /** A lane's samples and attempts; `offsetMs` puts its clock on this thread's. */
  ingest(reports: Record<string, ServiceReport>, offsetMs: number): void {
    for (const [name, report] of Object.entries(reports)) this.#views.get(name)?.ingest(report, offsetMs);
  }

  /** Takes back the permits lane `lane` held when it stopped. */
  reclaim(lane: number): void {
    for (const view of this.#views.values()) view.permits.reclaim(1 + lane);
  }

  /** A lane's service stats now (replacing what it said before). */
  laneStats(lane: number, stats: Record<string, ServiceStats>): void {
    for (const [name, s] of Object.entries(stats)) this.#views.get(name)?.lanes.set(lane, s);
  }
}

/** Whether a limit's samples can change it: not a built-in one whose bounds are one value (a fixed limit). */
function canMove(limit: Limit): boolean {
  return !(limit instanceof AlgorithmLimit && limit.bounds.min === limit.bounds.max);
}

/** One service as the main thread shows it: over every lane. */
class HubService implements Service {
  readonly name: string;
  readonly limit: Service['limit'];
  readonly permits: SharedPermits;
  readonly lanes = new Map<number, ServiceStats>();
  readonly #inner: Service;
  readonly #listeners = new Set<(event: AttemptEvent) => void>();
  /** The samples bit when the limit can move: the lanes send samples only then, events only while observed. */
  readonly #samples: number;

  constructor(inner: Service, permits: SharedPermits, samples: number) {
    this.#inner = inner;
    this.name = inner.name;
    this.limit = inner.limit;
    this.permits = permits;
    this.#samples = samples;
    this.#publishWants();
  }

  #publishWants(): void {
    this.permits.setWants(this.#samples | (this.#listeners.size > 0 ? REPORTS.events : 0));
  }

  call<T>(attempt: Attempt<T>, options?: { readonly signal?: AbortSignal }): Promise<T> {
    return this.#inner.call(attempt, options);
  }

  stats(): ServiceStats {
    const own = this.#inner.stats();
    const sums: Record<string, number> = {};
    for (const key of SUMMED) {
      let n = own[key];
      for (const s of this.lanes.values()) n += s[key];
      sums[key] = n;
    }
    return {
      ...(sums as Pick<ServiceStats, (typeof SUMMED)[number]>),
      name: this.name,
      limit: this.limit.current,
      inFlight: this.permits.inFlight,
      peakInFlight: this.permits.peakInFlight,
    };
  }

  observe(listener: (event: AttemptEvent) => void): () => void {
    const off = this.#inner.observe(listener);
    this.#listeners.add(listener);
    this.#publishWants();
    return () => {
      off();
      this.#listeners.delete(listener);
      this.#publishWants();
    };
  }

  ingest(report: ServiceReport, offsetMs: number): void {
    for (const s of report.samples) this.limit.sample({ ...s, startMs: s.startMs + offsetMs });
    if (this.#listeners.size === 0) return;
    for (const e of report.events) {
      const event: AttemptEvent = { service: this.name, ...e };
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch {
          this.#listeners.delete(listener);
          this.#publishWants();
        }
      }
    }
  }
}
