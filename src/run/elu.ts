/**
 * The main thread's event-loop utilisation over a run: `performance.eventLoopUtilization()` read
 * against the run's start, and against a snapshot about `RECENT_MS` old. A snapshot is taken at
 * most once a second, by an unref'd timer that lives only while the run does, so the meter costs
 * nothing per task and never keeps the process alive.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { MainThreadStats } from '../stats.js';

/** What "recent" spans: the utilisation over about the last 5 s. */
export const RECENT_MS = 5_000;
const TICK_MS = 1_000;
const KEPT = RECENT_MS / TICK_MS;
const MIN_SPAN_MS = 1;

export const IDLE_MAIN_THREAD: MainThreadStats = Object.freeze({ utilization: 0, recentUtilization: 0 });

export class EluMeter {
  #start: EventLoopUtilization | undefined;
  /** Snapshots, oldest first, one a second, the last `KEPT` of them. */
  readonly #ring: EventLoopUtilization[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Frozen at stop: a settled run reports what it measured. */
  #final: MainThreadStats | undefined;

  start(): void {
    this.#start = performance.eventLoopUtilization();
    this.#timer = setInterval(() => {
      this.#ring.push(performance.eventLoopUtilization());
      if (this.#ring.length > KEPT) this.#ring.shift();
    }, TICK_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#start === undefined || this.#final !== undefined) return;
    this.#final = this.read();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  read(): MainThreadStats {
    if (this.#final !== undefined) return this.#final;
    const start = this.#start;
    if (start === undefined) return IDLE_MAIN_THREAD;
    const now = performance.eventLoopUtilization();
    const since = this.#ring[0] ?? start;
    return {
      utilization: share(performance.eventLoopUtilization(now, start)),
      recentUtilization: share(performance.eventLoopUtilization(now, since)),
    };
  }
}

/** The busy share of a span; 0 for a span under `MIN_SPAN_MS` , too short to say (a run that pulled nothing reports zeros: see run.ts). */
function share(span: EventLoopUtilization): number {
  return span.active + span.idle < MIN_SPAN_MS ? 0 : span.utilization;
}
