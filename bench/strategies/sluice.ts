/**
 * Strategy 5, sluice: io('fetch', concurrency k) → cpu('synthesize', threads T), with the same
 * fetch helper, agent and worker module as the baselines; and its no-op scenario (one cpu stage).
 * Buffered payloads come from sluice's own counter, `stats().buffered.peak` (fetched, not yet
 * admitted into a free thread), which is what the baselines count by hand.
 */
import { createExecutor, cpu, io, type Executor, type ExecutorStats } from 'sluice';
import { createAgent } from '../../src/demo/fetch-doc.js';
import { CPU_TASK, NOOP_TASK, trackedFetch, type Meter, type Strategy, type Workload } from '../common.js';

async function drain(ex: Executor<number>, ids: readonly number[], meter: Meter): Promise<void> {
  for await (const o of ex.run(ids)) {
    if (o.ok) meter.done(o.value);
    else meter.fail(o.error);
  }
  meter.setBuffered(ex.stats().buffered.peak);
}

function summary(s: ExecutorStats): Record<string, unknown> {
  return {
    stages: s.stages.map((st) => ({ name: st.name, peakActive: st.peakActive, peakRunning: st.peakRunning, capacity: st.capacity })),
    buffers: s.buffers.map((b) => ({ name: b.name, peak: b.peak, bound: b.bound })),
    buffered: s.buffered,
    peakOpen: s.tasks.peakOpen,
  };
}

export function sluice(w: Workload): Strategy {
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
      await drain(ex, ids, meter);
    },
    extra: () => summary(ex.stats()),
    async close() {
      await ex.close();
      agent.destroy();
    },
  };
}

export function noopSluice(w: Workload): Strategy {
  const ex = createExecutor<number>({ stages: [cpu('noop', NOOP_TASK, { threads: w.threads })] });
  return {
    run: (ids, meter) => drain(ex, ids, meter),
    extra: () => summary(ex.stats()),
    close: () => ex.close(),
  };
}
