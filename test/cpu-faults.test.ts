/**
 * Hard faults of a cpu stage's task, each failing that task alone while the run goes on: a task
 * that runs past the stage's `timeoutMs` (its thread, stuck in a loop that never yields, is stopped
 * and replaced; ERR_SLUICE_TIMEOUT), and a worker whose heap is exhausted under `resourceLimits`
 * (ERR_SLUICE_WORKER_CRASHED). `process.exit` in a worker is covered by test/worker.test.ts and an
 * uncloneable result by test/clone.test.ts. Real Piscina pools; the worker modules are written to a
 * temporary folder; assertions on error class/code/fields, thread ids, counters and peaks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutor,
  cpu,
  ErrorCodes,
  io,
  SluiceOptionError,
  SluiceTimeoutError,
  SluiceWorkerError,
  type Executor,
  type Failed,
  type Outcome,
} from '../src/index.js';

/**
 * `spin`: records its thread id in cell 0 of `shared`, then loops forever. `pair`: meets one other
 * task at a barrier (cell 1 of `shared`), so it only ends when two threads run at once. `hog`:
 * allocates until the heap is exhausted. Anything else: `{ n: 2n, thread }`.
 */
const WORKER = `
import { threadId } from 'node:worker_threads';
export default function work(input) {
  if (input.spin) {
    const cells = new Int32Array(input.shared);
    Atomics.store(cells, 0, threadId);
    Atomics.notify(cells, 0);
    for (;;) {}
  }
  if (input.pair) {
    const cells = new Int32Array(input.shared);
    Atomics.add(cells, 1, 1);
    Atomics.notify(cells, 1);
    for (let seen = Atomics.load(cells, 1); seen < 2; seen = Atomics.load(cells, 1)) Atomics.wait(cells, 1, seen);
  }
  if (input.hog) {
    const kept = [];
    for (;;) kept.push(new Array(100000).fill(kept.length));
  }
  return { n: input.n * 2, thread: threadId };
}
`;

interface Task {
  readonly n: number;
  readonly spin?: boolean;
  readonly pair?: boolean;
  readonly hog?: boolean;
  readonly shared?: SharedArrayBuffer;
}
interface Result {
  readonly n: number;
  readonly thread: number;
}

let dir: string;
let worker: URL;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cpu-faults-'));
  const file = join(dir, 'faults.worker.mjs');
  writeFileSync(file, WORKER);
  worker = pathToFileURL(file);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let executor: Executor<Task, Result> | undefined;
afterEach(async () => {
  await executor?.close();
  executor = undefined;
});

function start(stages: Parameters<typeof createExecutor>[0]['stages']): Executor<Task, Result> {
  executor = createExecutor<Task, Result>({ stages });
  return executor;
}

async function collect(run: AsyncIterable<Outcome<Task, Result>>): Promise<Outcome<Task, Result>[]> {
  const outcomes: Outcome<Task, Result>[] = [];
  for await (const o of run) outcomes.push(o);
  return outcomes.sort((a, b) => a.index - b.index);
}

function expectIdle(ex: Executor<Task, Result>): void {
  for (const s of ex.stats().stages)
    expect({ stage: s.name, active: s.active, running: s.running }).toEqual({ stage: s.name, active: 0, running: 0 });
}

/** Far above what a task here takes (a doubling), so only the endless loop meets it. */
const TIMEOUT_MS = 2000;

describe('cpu timeoutMs', () => {
  it('stops a task stuck in a loop: it fails with ERR_SLUICE_TIMEOUT naming the stage, its thread is replaced, the rest complete', async () => {
    const shared = new SharedArrayBuffer(8);
    const ex = start([
      io<Task, Task>('before', (t) => t, { concurrency: 2 }),
      cpu('compute', worker, { threads: 2, timeoutMs: TIMEOUT_MS }),
      io<Result, Result>('after', (r) => r, { concurrency: 1 }),
    ]);
    const tasks: Task[] = Array.from({ length: 12 }, (_, n) => (n === 3 ? { n, spin: true, shared } : { n }));
    const outcomes = await collect(ex.run(tasks));

    expect(outcomes.map((o) => o.index)).toEqual(tasks.map((_, i) => i));
    const failed = outcomes[3] as Failed;
    expect(failed).toMatchObject({ ok: false, index: 3, stage: 'compute', attempts: 1 });
    expect(failed.error).toBeInstanceOf(SluiceTimeoutError);
    expect(failed.error).toMatchObject({ code: ErrorCodes.TIMEOUT, stage: 'compute', service: undefined, timeoutMs: TIMEOUT_MS });
    expect((failed.error as Error).message).toContain('cpu stage "compute"');

    const stuck = new Int32Array(shared)[0]!;
    expect(stuck).toBeGreaterThan(0);
    for (const o of outcomes) {
      if (o.index === 3) continue;
      expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
    }
    expect(ex.stats().tasks).toMatchObject({ pulled: 12, completed: 11, failed: 1, open: 0 });
    expect(ex.stats().stages.map((s) => [s.name, s.completed, s.failed])).toEqual([
      ['before', 12, 0],
      ['compute', 11, 1],
      ['after', 11, 0],
    ]);
    expect(ex.stats().stages[1]!.peakRunning).toBeLessThanOrEqual(2);
    expectIdle(ex);

    // The pool still has two threads, neither of them the stopped one: two tasks that only end
    // when they run at once both complete (were a thread missing, the first would time out).
    const pairs = new SharedArrayBuffer(8);
    const later = await collect(ex.run([{ n: 1, pair: true, shared: pairs }, { n: 2, pair: true, shared: pairs }, { n: 3 }]));
    expect(later.map((o) => o.ok)).toEqual([true, true, true]);
    const threads = new Set(later.map((o) => (o.ok ? o.value.thread : 0)));
    expect(threads.size).toBe(2);
    expect(threads.has(stuck)).toBe(false);
    expectIdle(ex);
  });

  it('stops several stuck tasks on one thread in turn; each fails alone and every other task completes', async () => {
    const ex = start([cpu('compute', worker, { threads: 1, timeoutMs: TIMEOUT_MS })]);
    const tasks: Task[] = Array.from({ length: 6 }, (_, n) =>
      n === 1 || n === 4 ? { n, spin: true, shared: new SharedArrayBuffer(8) } : { n },
    );
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes.map((o) => (o.ok ? 'ok' : (o.error as { code?: string }).code))).toEqual([
      'ok',
      ErrorCodes.TIMEOUT,
      'ok',
      'ok',
      ErrorCodes.TIMEOUT,
      'ok',
    ]);
    expect(ex.stats().tasks).toMatchObject({ completed: 4, failed: 2, open: 0 });
    expectIdle(ex);
  });

  it('an abort of the run while a timed task runs ends the run with the abort, not a timeout', async () => {
    const shared = new SharedArrayBuffer(8);
    const ex = start([cpu('compute', worker, { threads: 1, timeoutMs: 2_147_483_647 })]);
    const controller = new AbortController();
    const run = ex.run([{ n: 0, spin: true, shared }], { signal: controller.signal });
    const first = run.next();
    const cells = new Int32Array(shared);
    while (Atomics.load(cells, 0) === 0) {
      const r = (
        Atomics as unknown as { waitAsync(c: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }
      ).waitAsync(cells, 0, 0);
      if (r.async) await r.value;
    }
    controller.abort(new Error('stop'));
    await expect(first).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    expect(ex.stats().tasks).toMatchObject({ completed: 0, failed: 0, open: 0 });
    expectIdle(ex);
  });

  it.each<[unknown, string]>([
    [-1, 'negative'],
    ['100', 'a string'],
    [2 ** 31, 'past setTimeout'],
    [Number.NaN, 'NaN'],
  ])('refuses %s (%s) naming stages[0].timeoutMs', (timeoutMs) => {
    let caught: unknown;
    try {
      createExecutor({ stages: [cpu('compute', worker, { timeoutMs: timeoutMs as number })] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceOptionError);
    expect(caught).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'stages[0].timeoutMs', received: timeoutMs });
  });

  it('takes 0 (none) and 2147483647', async () => {
    for (const timeoutMs of [0, 2_147_483_647]) {
      const ex = createExecutor<Task, Result>({ stages: [cpu('compute', worker, { threads: 1, timeoutMs })] });
      try {
        const outcomes = await collect(ex.run([{ n: 4 }]));
        expect(outcomes).toMatchObject([{ ok: true, value: { n: 8 } }]);
      } finally {
        await ex.close();
      }
    }
  });
});

describe('a worker whose heap is exhausted under resourceLimits', () => {
  it('fails that task alone with ERR_SLUICE_WORKER_CRASHED; the pool replaces the thread and the rest complete', async () => {
    // One task per message: the check at the end needs its two paired tasks on two threads at once,
    // which a batch would put on one thread, one after the other. (A crash in a batch: test/cpu-batch.test.ts.)
    const ex = start([
      cpu('compute', worker, { threads: 2, batch: false, resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 } }),
    ]);
    const tasks: Task[] = Array.from({ length: 10 }, (_, n) => (n === 2 ? { n, hog: true } : { n }));
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes.map((o) => o.index)).toEqual(tasks.map((_, i) => i));
    const failed = outcomes[2] as Failed;
    expect(failed).toMatchObject({ ok: false, stage: 'compute', attempts: 1 });
    expect(failed.error).toBeInstanceOf(SluiceWorkerError);
    expect(failed.error).toMatchObject({ code: ErrorCodes.WORKER_CRASHED, stage: 'compute' });
    expect((failed.error as Error).cause).toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' });
    for (const o of outcomes) if (o.index !== 2) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
    expect(ex.stats().tasks).toMatchObject({ completed: 9, failed: 1, open: 0 });
    expectIdle(ex);

    const pairs = new SharedArrayBuffer(8);
    const later = await collect(
      ex.run([
        { n: 1, pair: true, shared: pairs },
        { n: 2, pair: true, shared: pairs },
      ]),
    );
    expect(later.map((o) => o.ok)).toEqual([true, true]);
  });
});
