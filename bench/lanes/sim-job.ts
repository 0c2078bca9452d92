/**
 * The job of the lanes scenario's adaptive part: the adaptive scenario's client (bench/adaptive/child.ts)
 * as a job module, so it runs in lanes. A task is a URL on the simulator; one io stage fetches it
 * (`fetchBuffer` over a keep-alive agent of 256 sockets, opened in `setup`: one per lane) behind
 * service `sim`, whose limit is the strategy named in $SLUICE_BENCH_LANES_STRATEGY (`vegas`,
 * `fixed-5`, …: bench/adaptive/strategies.ts), with the default timeout and retry policy. The
 * limit is one across every lane. Read once when the module loads: one strategy per process.
 */
import type { Agent } from 'node:http';
import { defineJob, io } from 'sluice';
import { createAgent, fetchBuffer } from 'sluice/demo';
import { limitOf } from '../adaptive/strategies.js';

export const STRATEGY = process.env.SLUICE_BENCH_LANES_STRATEGY ?? 'vegas';

export default defineJob<string, number, { agent: Agent }>({
  name: 'lanes-bench-sim',
  services: { sim: { limit: limitOf(STRATEGY) } },
  setup: () => ({ agent: createAgent(256) }),
  stages: ({ services, resources }) => [
    io<string, number>('fetch', async (url, ctx) => (await fetchBuffer(url, resources.agent, ctx.signal)).byteLength, {
      service: services.sim!,
    }),
  ],
  // The main thread loads the module and runs no setup: its close gets undefined.
  close: (resources) => {
    resources?.agent.destroy();
  },
});
