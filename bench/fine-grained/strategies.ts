/**
 * The fine-grained scenario's strategies, all on T threads running bench/workers/fine-grained.ts:
 * - raw: a raw Piscina pool (min = max = T threads, one task per thread, as sluice's), one task
 *   per message, fed by T lanes that each pull the next input and `await limit(() => pool.run(x))`
 *   with p-limit(T): a task is submitted only when a thread frees (the overhead scenario's cpuRaw);
 * - off: a sluice cpu stage with `batch: false` (one task per message, as before batching);
 * - auto: a sluice cpu stage with `batch: 'auto'` (the default);
 * - chunked: the hand-written baseline: the input cut into fixed chunks of 64, each chunk one
 *   Piscina task whose worker loops over it (same raw pool options), fed by T lanes as threads free.
 * Each counts, per task index, the answers it got and checks each against the task's right answer,
 * so "every task completed exactly once" is read off the run, not assumed.
 */
import { performance } from 'node:perf_hooks';
import type { Piscina } from 'piscina';
import pLimit from 'p-limit';
import { createExecutor, cpu, type BatchStats, type Executor, type MainThreadStats } from 'sluice';
import { rawPool } from '../harness/baselines.js';
import { cpuMsOf } from '../harness/stats.js';

export const FINE_GRAINED = new URL('../workers/fine-grained.ts', import.meta.url);
/** The chunked baseline's fixed chunk size. */
export const CHUNK = 64;

export type StrategyName = 'raw' | 'off' | 'auto' | 'chunked';

const SPIN = { name: 'spin' };
const CHUNKED = { name: 'chunk' };

/** One run's tasks, read lazily (no array of N inputs): task i's input (iterations), and the answer it must get. */
export interface Input {
  readonly n: number;
  at(i: number): number;
  expect(i: number): number;
}

export interface FgRun {
  readonly n: number;
  /** Main thread: from the first pull to the last answer (ms). */
  readonly wallMs: number;
  /** CPU time of the whole process (all threads, user + sys) over the run. */
  readonly cpuMs: number;
  /** The main thread's event-loop utilisation over the run, read by the bench (0..1). */
  readonly elu: number;
  /** Tasks answered exactly once, with the right answer. */
  readonly completed: number;
  readonly missing: number;
  /** Tasks answered more than once. */
  readonly doubled: number;
  readonly wrong: number;
  readonly failed: number;
  /** sluice: the stage's figures from `executor.stats()` after the run. */
  readonly stage?: {
    readonly peakRunning: number;
    readonly capacity: number;
    readonly batch: BatchStats | undefined;
    readonly mainThread: MainThreadStats;
  };
}

export interface Strategy {
  readonly name: StrategyName;
  run(input: Input): Promise<FgRun>;
  close(): Promise<void>;
}

/** Per task index: how many answers, and whether each was right. */
class Tally {
  readonly #counts: Uint8Array;
  #wrong = 0;
  #failed = 0;
  constructor(private readonly input: Input) {
    this.#counts = new Uint8Array(input.n);
  }
  ok(i: number, value: unknown): void {
    if (this.#counts[i]! < 255) this.#counts[i]! += 1;
    if (value !== this.input.expect(i)) this.#wrong += 1;
  }
  fail(count = 1): void {
    this.#failed += count;
  }
  read() {
    let [completed, missing, doubled] = [0, 0, 0];
    for (const c of this.#counts) {
      if (c === 1) completed += 1;
      else if (c === 0) missing += 1;
      else doubled += 1;
    }
    return { completed, missing, doubled, wrong: this.#wrong, failed: this.#failed };
  }
}

async function timed(input: Input, body: (t: Tally) => Promise<FgRun['stage'] | undefined>): Promise<FgRun> {
  const tally = new Tally(input);
  const [cpu0, elu0] = [process.cpuUsage(), performance.eventLoopUtilization()];
  const t0 = performance.now();
  const stage = await body(tally);
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const cpuMs = cpuMsOf(process.cpuUsage(cpu0));
  return { n: input.n, wallMs, cpuMs, elu, ...tally.read(), ...(stage ? { stage } : {}) };
}

/** The raw pool the raw and chunked strategies share (never at the same time): sluice's pool options. */
export function fineGrainedPool(threads: number): Piscina {
  return rawPool(FINE_GRAINED, threads);
}

/** Iterations of the busy loop per ms with all T threads running it at once: the median of their bursts. */
export async function calibrate(pool: Piscina, threads: number, bursts: number): Promise<number> {
  const perThread = (await Promise.all(Array.from({ length: threads }, () => pool.run(bursts, { name: 'rates' })))) as number[][];
  const rates = perThread.flat().sort((a, b) => a - b);
  return rates[rates.length >> 1]!;
}

/** Pool owned by the caller: `close` leaves it open. */
export function rawStrategy(pool: Piscina, threads: number): Strategy {
  const limit = pLimit(threads);
  return {
    name: 'raw',
    run: (input) =>
      timed(input, async (t) => {
        let next = 0;
        const lane = async () => {
          for (let i = next++; i < input.n; i = next++) {
            try {
              t.ok(i, await limit(() => pool.run(input.at(i), SPIN)));
            } catch {
              t.fail();
            }
          }
        };
        await Promise.all(Array.from({ length: threads }, lane));
        return undefined;
      }),
    close: async () => undefined,
  };
}

/** Pool owned by the caller: `close` leaves it open. */
export function chunkedStrategy(pool: Piscina, threads: number, size = CHUNK): Strategy {
  return {
    name: 'chunked',
    run: (input) =>
      timed(input, async (t) => {
        let next = 0;
        const lane = async () => {
          for (let start = next; start < input.n; start = next) {
            next = Math.min(input.n, start + size);
            const items = new Array<number>(next - start);
            for (let k = 0; k < items.length; k++) items[k] = input.at(start + k);
            try {
              const answers = (await pool.run(items, CHUNKED)) as number[];
              for (const [k, v] of answers.entries()) t.ok(start + k, v);
            } catch {
              t.fail(items.length);
            }
          }
        };
        await Promise.all(Array.from({ length: threads }, lane));
        return undefined;
      }),
    close: async () => undefined,
  };
}

function* pull(input: Input): Generator<number> {
  for (let i = 0; i < input.n; i++) yield input.at(i);
}

/** One sluice executor: one cpu stage of T threads on `spin`. */
export function sluiceStrategy(threads: number, batch: false | 'auto'): Strategy {
  const stage = cpu('work', FINE_GRAINED, { threads, batch, exportName: 'spin' });
  const ex: Executor<number, number> = createExecutor<number, number>({ stages: [stage] });
  return {
    name: batch === false ? 'off' : 'auto',
    run: (input) =>
      timed(input, async (t) => {
        for await (const o of ex.run(pull(input))) {
          if (o.ok) t.ok(o.index, o.value);
          else t.fail();
        }
        const stats = ex.stats();
        const s = stats.stages[0];
        return {
          peakRunning: s?.peakRunning ?? Number.NaN,
          capacity: s?.capacity ?? Number.NaN,
          batch: s?.batch,
          mainThread: stats.mainThread,
        };
      }),
    close: () => ex.close(),
  };
}
