/**
 * The JSON progress log: one line per tick, for logs and machines.
 *
 *   {"type":"progress","elapsedMs":5012,"done":4210,"total":10000,"percent":42,"completed":4209,
 *    "failed":1,"rate":240.5,"etaMs":24075,"buffered":5,"busyThreads":2,"threads":2,
 *    "draining":false,"mainThread":{"utilization":0.412,"recentUtilization":0.57},"batch":{"parse":64},
 *    "services":{"docs":{"limit":16,"inFlight":16,"queued":3}}}
 *
 * `total`, `percent` and `etaMs` are left out when unknown, `batch` (each cpu stage's current batch
 * size B) when no stage reports one; the line `stop()` emits has `"final": true`. The ceiling
 * warning is a line of its own: `{"type":"warning","warning":"main-thread-ceiling",...}`.
 * A run in lanes (`--lanes`) adds them after `mainThread` (then only their dispatcher): tasks waiting
 * for a lane, held by the lanes, the most held at once, lanes restarted, and each lane's
 * `recentUtilization` in lane order:
 *
 *   ..."mainThread":{...},"lanes":{"count":2,"queued":3,"held":40,"peakHeld":48,"restarts":0,"busy":[0.45,0.51]},...
 *
 * A queue worker's lines (`sluice worker`) also carry its jobs and the queue's (`queue`: left out
 * until the worker's first look at the queue):
 *
 *   ..."held":4,"peakHeld":5,"claimed":212,"handedBack":0,"dropped":0,
 *   "queue":{"waiting":780,"active":8,"delayed":0,"completed":1200,"failed":3}
 */
import { ratio } from './ceiling-warning.js';
import type { Figures, FigureTracker, LaneFigures } from './figures.js';
import type { QueueSnapshot, RunSnapshot } from './snapshot.js';
import { createTicker, type Reporter } from './ticker.js';

export interface JsonLogOptions {
  readonly snapshot: () => RunSnapshot;
  readonly figures: FigureTracker;
  readonly intervalMs: number;
  /** Receives each line, without a newline. */
  readonly write: (line: string) => void;
  /** Runs after each line (see `createTicker`). */
  readonly after?: (final: boolean) => void;
}

export function createJsonLog(options: JsonLogOptions): Reporter {
  const { snapshot, figures, write } = options;
  return createTicker((final) => write(formatJsonLine(figures(snapshot()), final)), options.intervalMs, write, options.after);
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
    mainThread: { utilization: ratio(f.mainThread.utilization), recentUtilization: ratio(f.mainThread.recentUtilization) },
    ...(f.lanes !== undefined ? { lanes: lanesFields(f.lanes) } : {}),
    ...(f.batches.length > 0 ? { batch: Object.fromEntries(f.batches.map((b) => [b.name, b.size])) } : {}),
    services,
    ...(f.queue !== undefined ? queueFields(f.queue) : {}),
    ...(final ? { final: true } : {}),
  });
}

function lanesFields(l: LaneFigures): Record<string, unknown> {
  const { count, queued, held, peakHeld, restarts } = l;
  return { count, queued, held, peakHeld, restarts, busy: l.busy.map(ratio) };
}

function queueFields(q: QueueSnapshot): Record<string, unknown> {
  const { held, peakHeld, claimed, handedBack, dropped, jobs } = q;
  return { held, peakHeld, claimed, handedBack, dropped, ...(jobs !== undefined ? { queue: { ...jobs } } : {}) };
}
