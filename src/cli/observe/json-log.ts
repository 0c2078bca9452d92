/**
 * The JSON progress log: one line per tick, for logs and machines.
 *
 *   {"type":"progress","elapsedMs":5012,"done":4210,"total":10000,"percent":42,"completed":4209,
 *    "failed":1,"rate":240.5,"etaMs":24075,"buffered":5,"busyThreads":2,"threads":2,
 *    "draining":false,"services":{"docs":{"limit":16,"inFlight":16,"queued":3}}}
 *
 * `total`, `percent` and `etaMs` are left out when unknown; the line `stop()` emits has `"final": true`.
 * A queue worker's lines (`sluice worker`) also carry its jobs and the queue's (`queue`: left out
 * until the worker's first look at the queue):
 *
 *   ..."held":4,"peakHeld":5,"claimed":212,"handedBack":0,"dropped":0,
 *   "queue":{"waiting":780,"active":8,"delayed":0,"completed":1200,"failed":3}
 */
import type { Figures, FigureTracker } from './figures.js';
import type { QueueSnapshot, RunSnapshot } from './snapshot.js';
import { createTicker, type Reporter } from './ticker.js';

export interface JsonLogOptions {
  readonly snapshot: () => RunSnapshot;
  readonly figures: FigureTracker;
  readonly intervalMs: number;
  /** Receives each line, without a newline. */
  readonly write: (line: string) => void;
}

export function createJsonLog(options: JsonLogOptions): Reporter {
  const { snapshot, figures, write } = options;
  return createTicker((final) => write(formatJsonLine(figures(snapshot()), final)), options.intervalMs, write);
}

/** One progress line. Rates keep two decimals, times whole milliseconds. */
export function formatJsonLine(f: Figures, final = false): string {
  const services: Record<string, { limit: number; inFlight: number; queued: number }> = {};
  for (const s of f.services) services[s.name] = { limit: s.limit, inFlight: s.inFlight, queued: s.queued };
  return JSON.stringify({
    type: 'progress',
    elapsedMs: Math.round(f.elapsedMs),
    done: f.done,
    ...(f.total !== undefined ? { total: f.total, percent: f.percent } : {}),
    completed: f.completed,
    failed: f.failed,
    rate: Math.round(f.rate * 100) / 100,
    ...(f.etaMs !== undefined ? { etaMs: Math.round(f.etaMs) } : {}),
    buffered: f.buffered,
    busyThreads: f.busyThreads,
    threads: f.threads,
    draining: f.draining,
    services,
    ...(f.queue !== undefined ? queueFields(f.queue) : {}),
    ...(final ? { final: true } : {}),
  });
}

function queueFields(q: QueueSnapshot): Record<string, unknown> {
  const { held, peakHeld, claimed, handedBack, dropped, jobs } = q;
  return { held, peakHeld, claimed, handedBack, dropped, ...(jobs !== undefined ? { queue: { ...jobs } } : {}) };
}
