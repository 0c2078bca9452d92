/**
 * The figures both reporters print, derived from a sequence of snapshots. The rate is taken over a
 * sliding window (the last ~10 s) rather than since the start, so it follows a service that slows
 * down or speeds up, and the ETA follows the rate.
 *
 *   rate  = (done_now − done_oldest) / (t_now − t_oldest)   over the samples in the window
 *   etaMs = (total − done) / rate                            when total is known and rate > 0
 */
import { performance } from 'node:perf_hooks';
import { type LanesStats, type MainThreadStats, SluiceOptionError } from '../../index.js';
import { OBSERVE_DEFAULTS } from './defaults.js';
import type { QueueSnapshot, RunSnapshot } from './snapshot.js';

export interface ServiceFigures {
  readonly name: string;
  readonly limit: number;
  readonly inFlight: number;
  readonly queued: number;
}

export interface BatchFigures {
  /** The cpu stage. */
  readonly name: string;
  /** Tasks a free thread receives in one message now (1: no batching). */
  readonly size: number;
}

/** A run in lanes (`--lanes`): the dispatch, and how busy each lane's thread is. */
export interface LaneFigures {
  /** Lanes running. */
  readonly count: number;
  /** Tasks waiting on the main thread for a lane to ask for them. */
  readonly queued: number;
  /** Tasks the lanes hold now (sent, not answered), and the most they held at once. */
  readonly held: number;
  readonly peakHeld: number;
  /** Lanes started again after one stopped. */
  readonly restarts: number;
  /** Each lane's event-loop utilisation (0 to 1) over the last few seconds, in lane order. */
  readonly busy: readonly number[];
  /** The same over the run so far. */
  readonly utilization: readonly number[];
}

export interface Figures {
  readonly elapsedMs: number;
  readonly done: number;
  /** Tasks in the input, when known. */
  readonly total?: number;
  /** Whole percent done (rounded down, so 100 means all done), when total is known. */
  readonly percent?: number;
  readonly completed: number;
  readonly failed: number;
  /** Tasks per second over the rate window. */
  readonly rate: number;
  /** Time left at the current rate, when total is known and the rate is not 0. */
  readonly etaMs?: number;
  /** Payloads that finished a stage and wait for the next one. */
  readonly buffered: number;
  /**
   * Worker threads running a task now, over all cpu stages. A thread holds up to B tasks of a
   * batching stage, so there it is the running tasks over B, rounded up: the threads at least busy.
   */
  readonly busyThreads: number;
  /** Worker threads of all cpu stages (a batching stage's capacity over its B). */
  readonly threads: number;
  /** The current batch size B of each cpu stage that reports one, in stage order. */
  readonly batches: readonly BatchFigures[];
  /** The main thread's event-loop utilisation (0 to 1), over the run and over the last few seconds. */
  readonly mainThread: MainThreadStats;
  /** A run in lanes: the main thread above is then only their dispatcher. Absent without lanes. */
  readonly lanes?: LaneFigures;
  readonly draining: boolean;
  readonly services: readonly ServiceFigures[];
  /** A queue worker's held jobs and the queue's depth (`sluice worker`); absent for `sluice run`. */
  readonly queue?: QueueSnapshot;
}

export interface FigureOptions {
  /** @default OBSERVE_DEFAULTS.rateWindowMs (10 s) */
  readonly windowMs?: number;
  /** The clock (ms). @default performance.now */
  readonly now?: () => number;
}

/** Turns each snapshot into figures, remembering the recent ones for the rate. */
export type FigureTracker = (snapshot: RunSnapshot) => Figures;

export function createFigureTracker(options: FigureOptions = {}): FigureTracker {
  const windowMs = options.windowMs ?? OBSERVE_DEFAULTS.rateWindowMs;
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs <= 0) {
    throw new SluiceOptionError('windowMs', 'a finite number > 0', windowMs);
  }
  const now = options.now ?? (() => performance.now());
  if (typeof now !== 'function') throw new SluiceOptionError('now', 'a function', now);
  const rate = createRateWindow(windowMs);
  return (snapshot) => figuresOf(snapshot, rate(now(), snapshot.done, snapshot.elapsedMs));
}

/**
 * A sliding-window rate: `sample(t, done, elapsedMs)` returns tasks/s over the samples of the last
 * `windowMs`. One sample older than the window is kept as the anchor, so the window is never
 * empty after the second sample; before that the rate is the one since the start (`elapsedMs`).
 */
export function createRateWindow(windowMs: number): (t: number, done: number, elapsedMs: number) => number {
  const samples: { t: number; done: number }[] = [];
  return (t, done, elapsedMs) => {
    samples.push({ t, done });
    while (samples.length > 2 && samples[1]!.t <= t - windowMs) samples.shift();
    const first = samples[0]!;
    const dt = t - first.t;
    if (dt > 0) return Math.max(0, ((done - first.done) / dt) * 1000);
    return elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  };
}

/** The figures of one snapshot, given the rate. */
export function figuresOf(s: RunSnapshot, rate: number): Figures {
  let busyThreads = 0;
  let threads = 0;
  const batches: BatchFigures[] = [];
  for (const stage of s.stats.stages) {
    if (stage.kind !== 'cpu') continue;
    // A cpu stage's capacity counts tasks (threads × B, and one batch more): its batch stats say threads.
    const stageThreads = stage.batch?.threads ?? stage.capacity;
    busyThreads += stage.batch?.busyThreads ?? Math.min(stageThreads, stage.running);
    threads += stageThreads;
    if (stage.batch !== undefined) batches.push({ name: stage.name, size: stage.batch.size });
  }
  const known = s.total !== undefined;
  const left = known ? Math.max(0, s.total! - s.done) : 0;
  const etaMs = !known ? undefined : left === 0 ? 0 : rate > 0 ? (left / rate) * 1000 : undefined;
  return {
    elapsedMs: s.elapsedMs,
    done: s.done,
    ...(known ? { total: s.total!, percent: percentOf(s.done, s.total!) } : {}),
    completed: s.completed,
    failed: s.failed,
    rate,
    ...(etaMs !== undefined ? { etaMs } : {}),
    buffered: s.stats.buffered.size,
    busyThreads,
    threads,
    batches,
    mainThread: { utilization: s.stats.mainThread.utilization, recentUtilization: s.stats.mainThread.recentUtilization },
    ...(s.stats.lanes !== undefined ? { lanes: laneFiguresOf(s.stats.lanes) } : {}),
    draining: s.draining,
    services: s.services.map(({ name, limit, inFlight, queued }) => ({ name, limit, inFlight, queued })),
    ...(s.queue !== undefined ? { queue: s.queue } : {}),
  };
}

function laneFiguresOf(l: LanesStats): LaneFigures {
  return {
    count: l.lanes.length,
    queued: l.queued,
    held: l.held,
    peakHeld: l.peakHeld,
    restarts: l.restarts,
    busy: l.lanes.map((lane) => lane.recentUtilization),
    utilization: l.lanes.map((lane) => lane.utilization),
  };
}

function percentOf(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((done / total) * 100));
}
