/**
 * The overhead scenario's variants: the same workload through the raw tools and through sluice.
 * - cpu-raw: a raw Piscina pool (min = max = T threads, one task per thread, as sluice's), fed by
 *   T lanes that each pull the next input and `await limit(() => pool.run(x))` with p-limit(T):
 *   a task is submitted only when a thread is free, and Piscina's queue stays empty.
 * - cpu-sluice: createExecutor with one cpu stage of T threads on the same worker module, with
 *   `batch: false` (one task per message, like the raw pool; batching is measured by fine-grained).
 * - io-raw: p-limit(k) around the async function, fed by k lanes pulling the input lazily (k in
 *   flight, no array of N promises).
 * - io-sluice: createExecutor with one io stage of concurrency k on the same function.
 * Raw and sluice pull from the same lazy generator and count completions the same way.
 */
import pLimit from 'p-limit';
import { createExecutor, cpu, io, type Executor } from 'sluice';
import { rawPool } from '../harness/baselines.js';
import { cpuMsOf } from '../harness/stats.js';

export const OVERHEAD_TASK = new URL('../workers/overhead-task.ts', import.meta.url);

export interface Timed {
  readonly n: number;
  readonly wallMs: number;
  /** CPU time of the whole process (all threads, user + sys) over the run. */
  readonly cpuMs: number;
  readonly completed: number;
  readonly failed: number;
  /** sluice: the stage's peak of tasks running at once (stats). */
  readonly peakRunning?: number;
}

export interface Variant {
  readonly tool: 'raw' | 'sluice';
  run(n: number): Promise<Timed>;
  close(): Promise<void>;
}

/** The lazy input every variant pulls from: task i's input is `input(i)`. */
export type Source = (n: number) => Generator<number>;

export const indices: Source = function* (n) {
  for (let i = 0; i < n; i++) yield i;
};

export function constant(value: number): Source {
  return function* (n) {
    for (let i = 0; i < n; i++) yield value;
  };
}

async function timed(n: number, body: () => Promise<{ completed: number; failed: number; peakRunning?: number }>): Promise<Timed> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await body();
  const wallMs = performance.now() - t0;
  return { n, wallMs, cpuMs: cpuMsOf(process.cpuUsage(cpu0)), ...r };
}

/** `lanes` loops pulling from one iterator, each awaiting its call before pulling again. */
async function lanes(
  it: Iterator<number>,
  width: number,
  call: (x: number) => Promise<unknown>,
): Promise<{ completed: number; failed: number }> {
  let [completed, failed] = [0, 0];
  const lane = async () => {
    for (let r = it.next(); r.done !== true; r = it.next()) {
      try {
        await call(r.value);
        completed += 1;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return { completed, failed };
}

async function drain<R>(
  ex: Executor<number, R>,
  input: Iterable<number>,
): Promise<{ completed: number; failed: number; peakRunning: number }> {
  let [completed, failed] = [0, 0];
  for await (const o of ex.run(input)) {
    if (o.ok) completed += 1;
    else failed += 1;
  }
  return { completed, failed, peakRunning: ex.stats().stages[0]?.peakRunning ?? Number.NaN };
}

/** `exportName` of bench/workers/overhead-task.ts: 'default' (the no-op) or 'spin'. */
export function cpuRaw(threads: number, exportName: string, source: Source): Variant {
  const pool = rawPool(OVERHEAD_TASK, threads);
  const limit = pLimit(threads);
  const options = { name: exportName };
  return {
    tool: 'raw',
    run: (n) => timed(n, () => lanes(source(n), threads, (x) => limit(() => pool.run(x, options)))),
    close: () => pool.destroy(),
  };
}

/** `batch: false`: one task per message, as raw Piscina sends them (batching is the fine-grained scenario's). */
export function cpuSluice(threads: number, exportName: string, source: Source): Variant {
  const ex = createExecutor<number, number>({ stages: [cpu('work', OVERHEAD_TASK, { threads, exportName, batch: false })] });
  return {
    tool: 'sluice',
    run: (n) => timed(n, () => drain(ex, source(n))),
    close: () => ex.close(),
  };
}

export function ioRaw(concurrency: number, fn: (x: number) => Promise<number>, source: Source): Variant {
  const limit = pLimit(concurrency);
  return {
    tool: 'raw',
    run: (n) => timed(n, () => lanes(source(n), concurrency, (x) => limit(fn, x))),
    close: async () => undefined,
  };
}

export function ioSluice(concurrency: number, fn: (x: number) => Promise<number>, source: Source): Variant {
  const ex = createExecutor<number, number>({ stages: [io('work', fn, { concurrency })] });
  return {
    tool: 'sluice',
    run: (n) => timed(n, () => drain(ex, source(n))),
    close: () => ex.close(),
  };
}
