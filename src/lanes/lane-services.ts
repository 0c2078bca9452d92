/**
 * The services of a lane: each declared service becomes a copy whose gate takes permits from the
 * shared count (so a limit of 10 means 10 across every lane), whose Retry-After pauses every lane,
 * and whose limit is the one the main thread publishes (./remote-limit.ts).
 */
import { SluiceOptionError } from '../errors.js';
import type { ServiceOptions } from '../services/options.js';
import { sharedService, type Service } from '../services/service.js';
import { RemoteLimit } from './remote-limit.js';
import { REPORTS, SharedPermits, sharedGate } from './shared-permits.js';
import type { ServiceReport } from './wire.js';

/** The options a copy keeps: the limit (and its algorithm's parameters) live on the main thread. */
const LIMIT_KEYS = new Set(['limit', 'initial', 'min', 'max']);

export class LaneServices {
  readonly #buffers: Readonly<Record<string, SharedArrayBuffer>>;
  readonly #limits = new Map<string, RemoteLimit>();
  readonly #services = new Map<string, Service>();

  readonly #slot: number;

  /** `lane`: this lane's number (its permits are counted in slot 1 + lane). */
  constructor(buffers: Readonly<Record<string, SharedArrayBuffer>>, lane: number) {
    this.#buffers = buffers;
    this.#slot = 1 + lane;
  }

  /** The lane's copy of the service `name` (made once; the job's services are made once per build). */
  make(name: string, options: ServiceOptions): Service {
    const buffer = this.#buffers[name];
    if (buffer === undefined) {
      throw new SluiceOptionError(
        `services.${name}`,
        `a service the main thread shares (${Object.keys(this.#buffers).join(', ') || 'none'})`,
        name,
      );
    }
    const permits = new SharedPermits(buffer, this.#slot);
    const limit = new RemoteLimit(permits);
    const kept = Object.fromEntries(Object.entries(options).filter(([key]) => !LIMIT_KEYS.has(key))) as ServiceOptions;
    const svc = sharedService(
      name,
      { ...kept, limit },
      {
        gate: sharedGate(permits),
        pausedFor: () => permits.pausedUntil() - Date.now(),
        pauseFor: (ms) => permits.pauseUntil(Date.now() + ms),
      },
    );
    svc.observe(({ service: _, ...event }) => {
      if ((permits.wants & REPORTS.events) !== 0) limit.report.events.push(event);
    });
    this.#limits.set(name, limit);
    this.#services.set(name, svc);
    return svc;
  }

  /** A limit moved on the main thread. */
  limitsChanged(): void {
    for (const limit of this.#limits.values()) limit.changed();
  }

  /** Samples and events gathered since the last call, by service; undefined when none. */
  take(): Record<string, ServiceReport> | undefined {
    let out: Record<string, ServiceReport> | undefined;
    for (const [name, limit] of this.#limits) {
      const r = limit.take();
      if (r === undefined) continue;
      out ??= {};
      out[name] = r;
    }
    return out;
  }

  stats(): Record<string, ReturnType<Service['stats']>> {
    const out: Record<string, ReturnType<Service['stats']>> = {};
    for (const [name, svc] of this.#services) out[name] = svc.stats();
    return out;
  }
}
