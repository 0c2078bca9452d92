/**
 * The memory scenario's four strategies, each run in its own child process (bench/memory/child.ts)
 * over the same synthetic fetch and the same worker module (the three baselines are the shared
 * ones of bench/harness/baselines.ts):
 *
 * - `sluice`: io('fetch', k) → cpu('checksum', T); buffered payloads from `stats().buffered.peak`.
 * - `plimit-unbounded`: p-limit(k) around the fetch, then `pool.run` without waiting for a free
 *   thread: Piscina's queue takes whatever the fetches deliver.
 * - `promise-all`: every fetch at once, each followed by `pool.run`.
 * - `plimit-await`: p-limit(k) around the fetch *and* `await pool.run`: a slot is held until the
 *   payload is processed, so at most k payloads are alive.
 *
 * The baselines use a raw Piscina pool of T threads, one task per thread, payloads moved with a
 * transferList as sluice moves them. Their buffered payloads (fetched, not yet on a thread) are
 * Piscina's `queueSize`, read after every `pool.run` (the only moment it grows).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { Piscina } from 'piscina';
import { createExecutor, cpu, io } from 'sluice';
import { moveToPool, plimitAwait, plimitUnbounded, promiseAll, rawPool, type Task } from '../harness/baselines.js';

/** The worker module's source; children may get a compiled copy instead (bench/harness/build.ts). */
export const CHECKSUM = new URL('../workers/memory-checksum.ts', import.meta.url);

export interface Workload {
  /** Synthetic fetch latency L (ms). */
  readonly latencyMs: number;
  /** Payload size (bytes). */
  readonly sizeBytes: number;
  /** io concurrency k. */
  readonly concurrency: number;
  /** cpu threads T. */
  readonly threads: number;
}

/** Counters of one run, fed the same way by every strategy. */
export class Tally {
  completed = 0;
  failed = 0;
  firstError: string | undefined;
  /** Payloads fetched and not yet started on a thread. */
  peakBuffered = 0;
  /** Payloads allocated whose task has not settled yet (buffered, on a thread, or in transit). */
  inHand = 0;
  peakInHand = 0;

  fetched(): void {
    this.inHand += 1;
    if (this.inHand > this.peakInHand) this.peakInHand = this.inHand;
  }

  buffered(n: number): void {
    if (n > this.peakBuffered) this.peakBuffered = n;
  }

  settled(ok: boolean, error?: unknown): void {
    this.inHand -= 1;
    if (ok) this.completed += 1;
    else {
      this.failed += 1;
      this.firstError ??= error instanceof Error ? error.message : String(error);
    }
  }
}

export interface Strategy {
  run(ids: readonly number[], tally: Tally): Promise<void>;
  /** Brings the tally's counters up to date mid-run (for progress lines). */
  sample?(tally: Tally): void;
  /** sluice's bound on buffered payloads and its stats summary; undefined for the baselines. */
  extra?(): { bound: number; stats: Record<string, unknown> };
  close(): Promise<void>;
}

/**
 * The synthetic fetch: L ms on a timer, then a fresh payload, filled so its pages are touched. The
 * Buffer owns its ArrayBuffer (never Node's shared pool), so it can be moved to a thread; `fill`
 * writes each page once (`Buffer.alloc` would zero it first).
 */
export async function fetchPayload(id: number, w: Workload): Promise<Buffer> {
  await sleep(w.latencyMs);
  return Buffer.allocUnsafeSlow(w.sizeBytes).fill(id & 0xff);
}

/**
 * The synthetic fetch, then `pool.run` moving the payload; the queue it joins is the buffered
 * count (read after every `pool.run`, the only moment it grows).
 */
function onPool(w: Workload, pool: Piscina, tally: Tally): Task {
  return {
    fetch: (id) => fetchPayload(id, w),
    process(body) {
      tally.fetched();
      const p = moveToPool(pool, body);
      tally.buffered(pool.queueSize);
      return p;
    },
    done: () => tally.settled(true),
    fail: (e) => tally.settled(false, e),
  };
}

function sluice(w: Workload, worker: URL): Strategy {
  const current = { tally: new Tally() };
  const ex = createExecutor<number, number>({
    stages: [
      io(
        'fetch',
        async (id: number) => {
          const body = await fetchPayload(id, w);
          current.tally.fetched();
          return body;
        },
        { concurrency: w.concurrency },
      ),
      cpu('checksum', worker, { threads: w.threads }),
    ],
  });
  return {
    async run(ids, tally) {
      current.tally = tally;
      for await (const o of ex.run(ids)) {
        if (o.ok) tally.settled(true);
        else tally.settled(false, o.error);
      }
      tally.buffered(ex.stats().buffered.peak);
    },
    sample: (tally) => tally.buffered(ex.stats().buffered.peak),
    extra() {
      const s = ex.stats();
      // Payloads that finished a stage and wait for the next: held in a non-last stage's slots or
      // in a buffer between stages (the output buffer holds results, not payloads).
      // The largest of the run: a batching stage's capacity and the buffer in front of it move with its B.
      const bound =
        s.stages.slice(0, -1).reduce((a, st) => a + st.peakCapacity, 0) + s.buffers.slice(0, -1).reduce((a, b) => a + b.peakBound, 0);
      return {
        bound,
        stats: {
          stages: s.stages.map((st) => ({
            name: st.name,
            capacity: st.capacity,
            peakCapacity: st.peakCapacity,
            peakActive: st.peakActive,
            peakRunning: st.peakRunning,
            ...(st.batch ? { batch: st.batch } : {}),
          })),
          buffers: s.buffers.map((b) => ({ name: b.name, peak: b.peak, bound: b.bound, peakBound: b.peakBound })),
          buffered: s.buffered,
          peakOpen: s.tasks.peakOpen,
        },
      };
    },
    close: () => ex.close(),
  };
}

/** A baseline on a raw pool of T threads (one task per thread). */
function baseline(w: Workload, worker: URL, run: (ids: readonly number[], t: Task) => Promise<void>): Strategy {
  const pool = rawPool(worker, w.threads);
  return {
    run: (ids, tally) => run(ids, onPool(w, pool, tally)),
    close: () => pool.destroy(),
  };
}

export const STRATEGIES = {
  sluice,
  'plimit-unbounded': (w, worker) => {
    const limit = pLimit(w.concurrency);
    return baseline(w, worker, (ids, t) => plimitUnbounded(limit, ids, t));
  },
  'promise-all': (w, worker) => baseline(w, worker, promiseAll),
  'plimit-await': (w, worker) => {
    const limit = pLimit(w.concurrency);
    return baseline(w, worker, (ids, t) => plimitAwait(limit, ids, t));
  },
} as const satisfies Record<string, (w: Workload, worker: URL) => Strategy>;

export type StrategyName = keyof typeof STRATEGIES;
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];
