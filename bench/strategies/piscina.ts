/**
 * Strategies 3 and 4 on a raw Piscina pool of T threads (payloads moved with a transferList, as
 * sluice does), and the raw baselines of the no-op scenario.
 * 3. plimit-unbounded: p-limit(k) around the fetch, then `pool.run` (Piscina's queue takes it all).
 * 4. plimit-await: p-limit(k) around the fetch *and* `await pool.run` (the five-line baseline).
 * noop-raw: p-limit(T) around `pool.run` (bounded submission, as sluice admits);
 * noop-burst: every `pool.run` at once (Piscina's queue; its best case).
 */
import pLimit from 'p-limit';
import { createAgent } from '../../src/demo/fetch-doc.js';
import { CPU_TASK, NOOP_TASK, rawPool, runOnPool, trackedFetch, type Meter, type Strategy, type Workload } from '../common.js';

function settle(meter: Meter, p: Promise<unknown>): Promise<void> {
  return p.then(
    (r) => meter.done(r),
    (e: unknown) => meter.fail(e),
  );
}

export function plimitUnbounded(w: Workload): Strategy {
  const agent = createAgent(w.concurrency);
  const limit = pLimit(w.concurrency);
  const pool = rawPool(CPU_TASK, w.threads);
  const inPool = { n: 0 };
  return {
    async run(ids, meter) {
      await Promise.all(
        ids.map((id) =>
          settle(
            meter,
            limit(() => trackedFetch(w, id, agent, meter)).then((body) => runOnPool(pool, body, w.threads, meter, inPool)),
          ),
        ),
      );
    },
    async close() {
      agent.destroy();
      await pool.destroy();
    },
  };
}

export function plimitAwait(w: Workload): Strategy {
  const agent = createAgent(w.concurrency);
  const limit = pLimit(w.concurrency);
  const pool = rawPool(CPU_TASK, w.threads);
  const inPool = { n: 0 };
  return {
    async run(ids, meter) {
      await Promise.all(
        ids.map((id) =>
          settle(
            meter,
            limit(async () => {
              const body = await trackedFetch(w, id, agent, meter);
              return await runOnPool(pool, body, w.threads, meter, inPool);
            }),
          ),
        ),
      );
    },
    async close() {
      agent.destroy();
      await pool.destroy();
    },
  };
}

export function noopRaw(w: Workload): Strategy {
  const pool = rawPool(NOOP_TASK, w.threads);
  const limit = pLimit(w.threads);
  return {
    async run(ids, meter) {
      await Promise.all(ids.map((id) => settle(meter, limit(() => pool.run(id)))));
    },
    close: () => pool.destroy(),
  };
}

export function noopBurst(w: Workload): Strategy {
  const pool = rawPool(NOOP_TASK, w.threads);
  return {
    async run(ids, meter) {
      await Promise.all(ids.map((id) => settle(meter, pool.run(id))));
    },
    close: () => pool.destroy(),
  };
}
