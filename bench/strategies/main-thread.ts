/**
 * Strategies 1 and 2: CPU on the main thread, right after each fetch.
 * 1. promise-all: every fetch at once (an agent without a socket limit), `Promise.all`.
 * 2. plimit-main: p-limit(k) around fetch and CPU together.
 * A payload is "buffered" from the moment its fetch resolves to the start of its CPU work; on
 * one thread that gap is a microtask, so their pile-up shows as fetches in flight instead.
 */
import pLimit from 'p-limit';
import { createAgent } from '../../src/demo/fetch-doc.js';
import { trackedFetch, type Meter, type Strategy, type Workload } from '../common.js';
import cpuTask from '../workers/cpu-task.js';

async function fetchThenCpu(w: Workload, id: number, agent: ReturnType<typeof createAgent>, meter: Meter): Promise<void> {
  try {
    const body = await trackedFetch(w, id, agent, meter);
    meter.setBuffered(meter.buffered + 1);
    meter.setBuffered(meter.buffered - 1);
    meter.done(cpuTask(body));
  } catch (error) {
    meter.fail(error);
  }
}

export function promiseAll(w: Workload): Strategy {
  const agent = createAgent(Number.POSITIVE_INFINITY);
  return {
    async run(ids, meter) {
      await Promise.all(ids.map((id) => fetchThenCpu(w, id, agent, meter)));
    },
    async close() {
      agent.destroy();
    },
  };
}

export function plimitMain(w: Workload): Strategy {
  const agent = createAgent(w.concurrency);
  const limit = pLimit(w.concurrency);
  return {
    async run(ids, meter) {
      await Promise.all(ids.map((id) => limit(() => fetchThenCpu(w, id, agent, meter))));
    },
    async close() {
      agent.destroy();
    },
  };
}
