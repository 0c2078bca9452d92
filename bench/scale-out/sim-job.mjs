/**
 * The scale-out bench's service job (bench/scale-out/), as a user would write it against the built
 * package: one io stage that calls the simulated service (`GET $SLUICE_BENCH_URL/work/ID`) behind
 * the job's service `sim`, over a keep-alive agent of 256 sockets (more than any limit here
 * reaches), and returns the task (the answer's body is empty: nothing large goes to Redis). The
 * service's limit is the adaptive default unless $SLUICE_BENCH_LIMIT gives a number (a fixed limit);
 * `sluice worker --io sim=...` would replace it the same way. Its tasks, for `enqueue`, are the
 * numbers 0..$SLUICE_BENCH_TASKS-1. Under `sluice worker` with $SLUICE_BENCH_REPORT it reports its
 * outcomes to the bench (outcome-log.mjs). Plain ESM, so a worker loads it without a TypeScript loader.
 */
import { defineJob, io } from 'sluice';
import { createAgent, fetchBuffer } from 'sluice/demo';
import { outcomeLog } from './outcome-log.mjs';

const url = process.env.SLUICE_BENCH_URL ?? '';
const tasks = Number(process.env.SLUICE_BENCH_TASKS ?? 1000);
const fixed = process.env.SLUICE_BENCH_LIMIT;
const log = outcomeLog();

export default defineJob({
  name: 'bench-scale-out-sim',
  services: { sim: fixed !== undefined && fixed !== 'adaptive' ? { limit: Number(fixed) } : {} },
  setup: () => ({ agent: createAgent(256) }),
  stages: ({ services, resources }) => [
    io(
      'call',
      async (id, ctx) => {
        await fetchBuffer(`${url}/work/${id}`, resources.agent, ctx.signal);
        return id;
      },
      { service: services.sim },
    ),
  ],
  input: function* () {
    for (let i = 0; i < tasks; i++) yield i;
  },
  onOutcome: log.onOutcome,
  close: (resources) => {
    resources?.agent.destroy();
    log.close();
  },
});
