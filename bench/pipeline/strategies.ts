/**
 * The pipeline scenario's five strategies, each built once in its own child (bench/pipeline/child.ts),
 * all with the same fetch helper, agent (k sockets; promise-all: none) and worker module:
 *
 * 1. promise-all: every fetch at once, the CPU step on the main thread right after each fetch.
 * 2. plimit-main: p-limit(k) around fetch and CPU together, on the main thread.
 * 3. plimit-unbounded: p-limit(k) around the fetch, then `pool.run` on a raw Piscina pool of T
 *    threads (Piscina's queue takes it all).
 * 4. plimit-await: p-limit(k) around the fetch *and* `await pool.run` (the five-line baseline).
 * 5. sluice: io('fetch', concurrency k) → cpu('synthesize', threads T).
 *
 * 1–4 are the shared baselines (bench/harness/baselines.ts). Buffered payloads (fetched, not yet
 * started on a CPU): on the main thread that gap is a microtask, so their pile-up shows as fetches
 * in flight instead; on a raw pool, what is in it beyond T; for sluice its own counter,
 * `stats().buffered.peak`.
 */
import type { Agent } from 'node:http';
import pLimit from 'p-limit';
import type { Piscina } from 'piscina';
import { createExecutor, cpu, io, type ExecutorStats } from 'sluice';
import { createAgent } from 'sluice/demo';
import { moveToPool, plimitAwait, plimitUnbounded, promiseAll, rawPool, type Task } from '../harness/baselines.js';
import cpuTask from '../workers/cpu-task.js';
import { CPU_TASK, trackedFetch, type Meter, type Strategy, type StrategyFactory, type Workload } from './meter.js';

/** The fetch and the CPU step on the main thread, in the same microtask. */
function onMainThread(w: Workload, agent: Agent, meter: Meter): Task {
  return {
    fetch: (id) => trackedFetch(w, id, agent, meter),
    process(body) {
      meter.setBuffered(meter.buffered + 1);
      meter.setBuffered(meter.buffered - 1);
      return cpuTask(body);
    },
    done: (r) => meter.done(r),
    fail: (e) => meter.fail(e),
  };
}

/**
 * The fetch, then `pool.run` moving the payload. Piscina keeps every thread busy while its queue is
 * not empty: what is in the pool beyond `threads` is fetched and not yet started. It only grows at
 * a `pool.run`, so the peak is exact.
 */
function onPool(w: Workload, agent: Agent, pool: Piscina, meter: Meter, inPool: { n: number }): Task {
  return {
    fetch: (id) => trackedFetch(w, id, agent, meter),
    process(body) {
      const promise = moveToPool(pool, body);
      inPool.n += 1;
      meter.setBuffered(Math.max(0, inPool.n - w.threads));
      return promise.finally(() => {
        inPool.n -= 1;
        meter.setBuffered(Math.max(0, inPool.n - w.threads));
      });
    },
    done: (r) => meter.done(r),
    fail: (e) => meter.fail(e),
  };
}

function mainThread(w: Workload, sockets: number, run: (ids: readonly number[], t: Task) => Promise<void>): Strategy {
  const agent = createAgent(sockets);
  return {
    run: (ids, meter) => run(ids, onMainThread(w, agent, meter)),
    async close() {
      agent.destroy();
    },
  };
}

function onRawPool(w: Workload, run: (ids: readonly number[], t: Task) => Promise<void>): Strategy {
  const agent = createAgent(w.concurrency);
  const pool = rawPool(CPU_TASK, w.threads);
  const inPool = { n: 0 };
  return {
    run: (ids, meter) => run(ids, onPool(w, agent, pool, meter, inPool)),
    async close() {
      agent.destroy();
      await pool.destroy();
    },
  };
}

function summary(s: ExecutorStats): Record<string, unknown> {
  return {
    stages: s.stages.map((st) => ({ name: st.name, peakActive: st.peakActive, peakRunning: st.peakRunning, capacity: st.capacity })),
    buffers: s.buffers.map((b) => ({ name: b.name, peak: b.peak, bound: b.bound })),
    buffered: s.buffered,
    peakOpen: s.tasks.peakOpen,
  };
}

function sluice(w: Workload): Strategy {
  const agent = createAgent(w.concurrency);
  // A holder, so the io function can reach the meter of the current run (warm-up, then timed).
  const current: { meter: Meter | undefined } = { meter: undefined };
  const ex = createExecutor<number>({
    stages: [
      io('fetch', (id: number, ctx) => trackedFetch(w, id, agent, current.meter!, ctx.signal), { concurrency: w.concurrency }),
      cpu('synthesize', CPU_TASK, { threads: w.threads }),
    ],
  });
  return {
    async run(ids, meter) {
      current.meter = meter;
      for await (const o of ex.run(ids)) {
        if (o.ok) meter.done(o.value);
        else meter.fail(o.error);
      }
      meter.setBuffered(ex.stats().buffered.peak);
    },
    extra: () => summary(ex.stats()),
    async close() {
      await ex.close();
      agent.destroy();
    },
  };
}

export const FACTORIES: Readonly<Record<string, StrategyFactory>> = {
  'promise-all': (w) => mainThread(w, Number.POSITIVE_INFINITY, promiseAll),
  'plimit-main': (w) => {
    const limit = pLimit(w.concurrency);
    return mainThread(w, w.concurrency, (ids, t) => plimitAwait(limit, ids, t));
  },
  'plimit-unbounded': (w) => {
    const limit = pLimit(w.concurrency);
    return onRawPool(w, (ids, t) => plimitUnbounded(limit, ids, t));
  },
  'plimit-await': (w) => {
    const limit = pLimit(w.concurrency);
    return onRawPool(w, (ids, t) => plimitAwait(limit, ids, t));
  },
  sluice,
};
