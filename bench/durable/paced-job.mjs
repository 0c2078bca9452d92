/**
 * The durable bench's paced job (bench/durable/): the no-op io stage of noop-job.mjs over an input
 * released at $SLUICE_BENCH_RATE (10000) tasks/s for $SLUICE_BENCH_SECONDS (5) s: every 1 ms tick
 * releases the tasks due by the clock (about 10), so the rate holds even when a timer fires late.
 * Plain ESM, so the CLI loads it without a TypeScript loader.
 *
 * It measures the process's CPU (user + sys, `process.cpuUsage()`: every thread) over the paced
 * window, from the first task released to the last, and prints it on stderr as one line
 * `SLUICE_BENCH_PACE {"cpuMs":…,"wallMs":…,"tasks":…}` (stderr: stdout may be the output).
 */
import { writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineJob, io } from 'sluice';

const rate = Number(process.env.SLUICE_BENCH_RATE ?? 10_000);
const seconds = Number(process.env.SLUICE_BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.SLUICE_BENCH_CONCURRENCY ?? 64);

export default defineJob({
  name: 'bench-durable-paced',
  stages: [io('noop', (task) => task, { concurrency })],
  input: async function* () {
    const total = Math.round(rate * seconds);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let released = 0;
    while (released < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (released < due) yield released++;
      await sleep(1);
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    writeSync(2, `SLUICE_BENCH_PACE ${JSON.stringify({ cpuMs, wallMs, tasks: released })}\n`);
  },
});
