/**
 * A lane's view of a service's limit: its value is the shared one (the main thread runs the
 * algorithm and publishes each new limit), and its samples go to the main thread in batches with
 * the lane's replies, together with the attempts' events for observers there (metrics).
 */
import type { Limit, Sample } from '../limits/limit.js';
import { REPORTS, type SharedPermits } from './shared-permits.js';
import type { ServiceReport } from './wire.js';

export class RemoteLimit implements Limit {
  readonly #permits: SharedPermits;
  readonly #listeners = new Set<(limit: number) => void>();
  #seen: number;
  report: ServiceReport = { samples: [], events: [] };

  constructor(permits: SharedPermits) {
    this.#permits = permits;
    this.#seen = permits.limit;
  }

  get current(): number {
    return this.#permits.limit;
  }

  subscribe(listener: (limit: number) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  sample(sample: Sample): void {
    if ((this.#permits.wants & REPORTS.samples) !== 0) this.report.samples.push(sample);
  }

  /** The main thread said a limit moved: tell the listeners if this one did. */
  changed(): void {
    const now = this.#permits.limit;
    if (now === this.#seen) return;
    this.#seen = now;
    for (const listener of this.#listeners) listener(now);
  }

  /** What gathered since the last take, or undefined when nothing did. */
  take(): ServiceReport | undefined {
    const r = this.report;
    if (r.samples.length === 0 && r.events.length === 0) return undefined;
    this.report = { samples: [], events: [] };
    return r;
  }
}
