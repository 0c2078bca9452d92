/**
 * The memory scenario's four strategies, each run in its own child process (bench/memory/child.ts)
 * over the same synthetic fetch and the same worker module:
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
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { Piscina } from 'piscina';
import { createExecutor, cpu, io } from 'sluice';

/** The worker module's source; children may get a compiled copy instead (bench/memory/build.ts). */
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

function rawPool(w: Workload, worker: URL): Piscina {
  // A TypeScript worker is loaded through tsx's require hook; a compiled one needs nothing.
  const ts = worker.pathname.endsWith('.ts');
  const execArgv = ts ? [...process.execArgv, '--require', createRequire(import.meta.url).resolve('tsx/cjs')] : [];
  return new Piscina({
    filename: fileURLToPath(worker),
    minThreads: w.threads,
    maxThreads: w.threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
    execArgv,
  });
}

/** `pool.run` moving the payload; the queue it joins is the buffered count. */
function toPool(pool: Piscina, body: Buffer, tally: Tally): Promise<unknown> {
  const p = pool.run(body, { transferList: [body.buffer] as never });
  tally.buffered(pool.queueSize);
  return p;
}

function settle(tally: Tally, p: Promise<unknown>): Promise<void> {
  return p.then(
    () => tally.settled(true),
    (e: unknown) => tally.settled(false, e),
  );
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
      const bound = s.stages.slice(0, -1).reduce((a, st) => a + st.capacity, 0) + s.buffers.slice(0, -1).reduce((a, b) => a + b.bound, 0);
      return {
        bound,
        stats: {
          stages: s.stages.map((st) => ({ name: st.name, capacity: st.capacity, peakActive: st.peakActive, peakRunning: st.peakRunning })),
          buffers: s.buffers.map((b) => ({ name: b.name, peak: b.peak, bound: b.bound })),
          buffered: s.buffered,
          peakOpen: s.tasks.peakOpen,
        },
      };
    },
    close: () => ex.close(),
  };
}

function plimitUnbounded(w: Workload, worker: URL): Strategy {
  const limit = pLimit(w.concurrency);
  const pool = rawPool(w, worker);
  return {
    async run(ids, tally) {
      await Promise.all(
        ids.map((id) =>
          settle(
            tally,
            limit(() => fetchPayload(id, w)).then((body) => {
              tally.fetched();
              return toPool(pool, body, tally);
            }),
          ),
        ),
      );
    },
    close: () => pool.destroy(),
  };
}

function promiseAll(w: Workload, worker: URL): Strategy {
  const pool = rawPool(w, worker);
  return {
    async run(ids, tally) {
      await Promise.all(
        ids.map((id) =>
          settle(
            tally,
            fetchPayload(id, w).then((body) => {
              tally.fetched();
              return toPool(pool, body, tally);
            }),
          ),
        ),
      );
    },
    close: () => pool.destroy(),
  };
}

function plimitAwait(w: Workload, worker: URL): Strategy {
  const limit = pLimit(w.concurrency);
  const pool = rawPool(w, worker);
  return {
    async run(ids, tally) {
      await Promise.all(
        ids.map((id) =>
          settle(
            tally,
            limit(async () => {
              const body = await fetchPayload(id, w);
              tally.fetched();
              return await toPool(pool, body, tally);
            }),
          ),
        ),
      );
    },
    close: () => pool.destroy(),
  };
}

export const STRATEGIES = {
  sluice,
  'plimit-unbounded': plimitUnbounded,
  'promise-all': promiseAll,
  'plimit-await': plimitAwait,
} as const satisfies Record<string, (w: Workload, worker: URL) => Strategy>;

export type StrategyName = keyof typeof STRATEGIES;
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];
