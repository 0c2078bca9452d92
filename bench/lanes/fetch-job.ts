/**
 * The lanes scenario's job module: what `createJobExecutor(job, { lanes })` loads, on the main
 * thread and in every lane. A task is a URL; `fetch` (global fetch + `arrayBuffer()`, the run's
 * signal passed on) runs behind service `docs` (a fixed limit, $SLUICE_BENCH_LANES_LIMIT, 16 by
 * default: one limit across every lane), then `work` (./work.ts, or the compiled copy named by
 * $SLUICE_BENCH_LANES_WORK) on the lane's cpu pool, 2 threads over all lanes.
 */
import { readlinkSync } from 'node:fs';
import { cpu, defineJob, io } from 'sluice';
import type { Fetched, Worked } from './work.js';

/** This thread's Linux id (/proc/thread-self → /proc/<pid>/task/<tid>): a lane's, or the main thread's. */
const TID = Number(readlinkSync('/proc/thread-self').split('/').pop());
const LIMIT = Number(process.env.SLUICE_BENCH_LANES_LIMIT ?? 16);
const WORK = process.env.SLUICE_BENCH_LANES_WORK ?? new URL('./work.ts', import.meta.url).href;

export default defineJob<string, Worked>({
  name: 'lanes-bench-fetch',
  services: { docs: { limit: LIMIT, retry: false, timeoutMs: 0 } },
  stages: ({ services }) => [
    io<string, Fetched>(
      'fetch',
      async (url, ctx) => {
        const res = await fetch(url, { signal: ctx.signal });
        if (!res.ok) throw new Error(`GET ${url} answered HTTP ${res.status}`);
        return { body: await res.arrayBuffer(), tid: TID };
      },
      { service: services.docs! },
    ),
    cpu<Fetched, Worked>('work', WORK, { threads: 2 }),
  ],
});
