/**
 * The tail scenario's two strategies on T worker threads, both running bench/workers/tail-spin.ts:
 * - sluice: one cpu stage; the executor admits the next task when a thread frees (pulled work);
 * - static: the tasks cut up front into T contiguous chunks, one Piscina task per chunk, each run
 *   sequentially on its own thread (pre-assigned work), on a raw pool with the same options;
 * - pull (a reference, not a sluice feature): the same raw pool fed one task per free thread by T
 *   lanes behind p-limit(T), the way the overhead scenario's raw baseline is; it shows what the
 *   hand-off between tasks costs Piscina itself, without sluice.
 * Each answers every task's span on the shared monotonic clock; the makespan is taken from those.
 */
import pLimit from 'p-limit';
import { createExecutor, cpu } from 'sluice';
import { rawPool } from '../harness/baselines.js';
import type { Span } from '../workers/tail-spin.js';
import { contiguousChunks } from './sequence.js';

export const TAIL_SPIN = new URL('../workers/tail-spin.ts', import.meta.url);

export type StrategyName = 'sluice' | 'static' | 'pull';

export interface TailRun {
  /** Per task, in input order (undefined: the task did not complete). */
  readonly spans: readonly (Span | undefined)[];
  readonly failed: number;
  /** Main thread: from handing over the first task to receiving the last answer (ms). */
  readonly wallMs: number;
  /** sluice: the stage's peak of tasks running at once, from stats(). */
  readonly peakRunning?: number;
  /** sluice: the largest batch its stage sent in the run (1: one task per message). */
  readonly batchPeak?: number;
  /** static: the distinct threads its chunks ran on. */
  readonly chunkThreads?: number;
}

export interface TailStrategy {
  readonly name: StrategyName;
  run(iters: readonly number[]): Promise<TailRun>;
  close(): Promise<void>;
}

export interface StaticStrategy extends TailStrategy {
  /** Iterations per ms of the busy loop with all T threads running it at once: the median of their bursts. */
  calibrate(bursts: number): Promise<number>;
}

const now = () => performance.now();

export function sluiceStrategy(threads: number): TailStrategy {
  const ex = createExecutor<number, Span>({ stages: [cpu('spin', TAIL_SPIN, { threads })] });
  return {
    name: 'sluice',
    async run(iters) {
      const spans = new Array<Span | undefined>(iters.length);
      let failed = 0;
      const t0 = now();
      for await (const o of ex.run(iters)) {
        if (o.ok) spans[o.index] = o.value;
        else failed += 1;
      }
      const wallMs = now() - t0;
      const stage = ex.stats().stages[0];
      return { spans, failed, wallMs, peakRunning: stage?.peakRunning ?? Number.NaN, batchPeak: stage?.batch?.peak ?? Number.NaN };
    },
    close: () => ex.close(),
  };
}

export function staticStrategy(threads: number): StaticStrategy {
  const pool = rawPool(TAIL_SPIN, threads);
  return {
    name: 'static',
    async calibrate(bursts) {
      const perThread = (await Promise.all(Array.from({ length: threads }, () => pool.run(bursts, { name: 'rates' })))) as number[][];
      const rates = perThread.flat().sort((a, b) => a - b);
      return rates[rates.length >> 1]!;
    },
    async run(iters) {
      const chunks = contiguousChunks(iters, threads);
      let failed = 0;
      const t0 = now();
      // Every chunk submitted at once: T tasks on T idle threads, one each.
      const answers = await Promise.all(
        chunks.map((c) =>
          (pool.run(c, { name: 'chunk' }) as Promise<Span[]>).catch(() => {
            failed += c.length;
            return undefined;
          }),
        ),
      );
      const wallMs = now() - t0;
      const spans = answers.flatMap((a, i) => a ?? new Array<Span | undefined>(chunks[i]!.length));
      return { spans, failed, wallMs, chunkThreads: new Set(answers.map((a) => a?.[0]?.[2])).size };
    },
    close: () => pool.destroy(),
  };
}

export function pullStrategy(threads: number): TailStrategy {
  const pool = rawPool(TAIL_SPIN, threads);
  const limit = pLimit(threads);
  return {
    name: 'pull',
    async run(iters) {
      const spans = new Array<Span | undefined>(iters.length);
      let [next, failed] = [0, 0];
      const t0 = now();
      const lane = async () => {
        for (let i = next++; i < iters.length; i = next++) {
          try {
            spans[i] = (await limit(() => pool.run(iters[i]))) as Span;
          } catch {
            failed += 1;
          }
        }
      };
      await Promise.all(Array.from({ length: threads }, lane));
      return { spans, failed, wallMs: now() - t0 };
    },
    close: () => pool.destroy(),
  };
}
