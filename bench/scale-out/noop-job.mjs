/**
 * The scale-out bench's no-op job (bench/scale-out/): one io stage that returns its task, at most
 * $SLUICE_BENCH_CONCURRENCY (64) at once, over the numbers 0..$SLUICE_BENCH_TASKS-1. With
 * $SLUICE_BENCH_SLEEP_MS it waits that long first (the recovery runs: tasks that take time, so a
 * node killed mid-run holds some). Under `sluice worker` with $SLUICE_BENCH_REPORT it reports its
 * outcomes to the bench (outcome-log.mjs). Plain ESM, so a worker loads it without a TypeScript loader.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineJob, io } from 'sluice';
import { outcomeLog } from './outcome-log.mjs';

const tasks = Number(process.env.SLUICE_BENCH_TASKS ?? 1000);
const concurrency = Number(process.env.SLUICE_BENCH_CONCURRENCY ?? 64);
const sleepMs = Number(process.env.SLUICE_BENCH_SLEEP_MS ?? 0);
const log = outcomeLog();

export default defineJob({
  name: 'bench-scale-out-noop',
  stages: [
    io(
      'noop',
      sleepMs > 0
        ? async (task, ctx) => {
            await sleep(sleepMs, undefined, { signal: ctx.signal });
            return task;
          }
        : (task) => task,
      { concurrency },
    ),
  ],
  input: function* () {
    for (let i = 0; i < tasks; i++) yield i;
  },
  onOutcome: log.onOutcome,
  close: log.close,
});
