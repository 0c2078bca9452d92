/**
 * The hand-written baselines sluice is compared with, shared by the pipeline and memory scenarios
 * (each feeds them its own fetch, CPU step and counters), and the raw Piscina pool they, the tail
 * and the overhead scenarios use:
 *
 * - `promiseAll`: every fetch at once, each followed by its CPU step.
 * - `plimitUnbounded`: p-limit(k) around the fetch only, then the CPU step without waiting for it
 *   (on a raw pool: Piscina's queue takes whatever the fetches deliver).
 * - `plimitAwait`: p-limit(k) around the fetch *and* the CPU step (on a raw pool: `await pool.run`,
 *   the five-line baseline): a slot is held until its payload is processed.
 *
 * The CPU step runs on the main thread or hands the payload to a raw pool (`moveToPool`, moving it
 * with a transferList as sluice does): that is the scenario's `Task.process`.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { LimitFunction } from 'p-limit';
import { Piscina } from 'piscina';

/** What a baseline does with one id, and where its outcome goes. */
export interface Task {
  fetch(id: number): Promise<Buffer>;
  /** The CPU step on the fetched payload (a value, or a promise of one). */
  process(body: Buffer): unknown;
  done(result: unknown): void;
  fail(error: unknown): void;
}

function settle(t: Task, p: Promise<unknown>): Promise<void> {
  return p.then(
    (r) => t.done(r),
    (e: unknown) => t.fail(e),
  );
}

export async function promiseAll(ids: readonly number[], t: Task): Promise<void> {
  await Promise.all(
    ids.map((id) =>
      settle(
        t,
        t.fetch(id).then((body) => t.process(body)),
      ),
    ),
  );
}

export async function plimitUnbounded(limit: LimitFunction, ids: readonly number[], t: Task): Promise<void> {
  await Promise.all(
    ids.map((id) =>
      settle(
        t,
        limit(() => t.fetch(id)).then((body) => t.process(body)),
      ),
    ),
  );
}

export async function plimitAwait(limit: LimitFunction, ids: readonly number[], t: Task): Promise<void> {
  await Promise.all(
    ids.map((id) =>
      settle(
        t,
        limit(async () => t.process(await t.fetch(id))),
      ),
    ),
  );
}

/**
 * A raw Piscina pool of `threads` threads on a worker module, with sluice's cpu stage options
 * (min = max threads, one task per thread, no idle timeout). A TypeScript worker is loaded through
 * tsx's require hook; a compiled one needs nothing.
 */
export function rawPool(worker: URL, threads: number): Piscina {
  const execArgv = worker.pathname.endsWith('.ts')
    ? [...process.execArgv, '--require', createRequire(import.meta.url).resolve('tsx/cjs')]
    : [];
  return new Piscina({
    filename: fileURLToPath(worker),
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
    execArgv,
  });
}

/** `pool.run` moving the payload (a transferList, never a copy), as sluice moves it. */
export function moveToPool(pool: Piscina, body: Buffer): Promise<unknown> {
  return pool.run(body, { transferList: [body.buffer] as never });
}
