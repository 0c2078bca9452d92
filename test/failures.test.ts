/**
 * Tasks that fail: a throw in any stage becomes a `{ ok: false, stage, error }` outcome while the
 * other tasks complete; `stopOnError` stops the run at the first failure; an input that throws
 * ends the run with `SluiceInputError` after the tasks already pulled are yielded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutor,
  cpu,
  ErrorCodes,
  io,
  SluiceInputError,
  SluiceTaskError,
  type Executor,
  type Failed,
  type Outcome,
} from '../src/index.js';
import { startDocServer, type DocServer } from '../src/demo/doc-server.js';
import { createAgent, fetchBuffer, HttpStatusError } from '../src/demo/fetch-doc.js';
import { deferred } from './fixtures/atomics-gate.js';
import type { FaultyInput } from './fixtures/faulty.js';

const faultyWorker = new URL('./fixtures/faulty.ts', import.meta.url);
const doubleWorker = new URL('./fixtures/double.ts', import.meta.url);

interface N {
  readonly n: number;
}

/** Drains a run: the outcomes it yielded, and what the iteration rejected with (if it did). */
async function drain<T, R>(run: AsyncIterable<Outcome<T, R>>): Promise<{ outcomes: Outcome<T, R>[]; error: unknown }> {
  const outcomes: Outcome<T, R>[] = [];
  try {
    for await (const o of run) outcomes.push(o);
  } catch (error) {
    return { outcomes, error };
  }
  return { outcomes, error: undefined };
}

function expectIdle(ex: Executor): void {
  for (const s of ex.stats().stages) {
    expect({ stage: s.name, active: s.active, running: s.running }).toEqual({ stage: s.name, active: 0, running: 0 });
  }
}

describe('a task that throws', () => {
  let server: DocServer;
  const agent = createAgent(8);
  beforeAll(async () => {
    server = await startDocServer({ latencyMs: 0, sizeBytes: 512, variety: 4 });
  });
  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  it('yields { ok: false, stage, error } naming the stage (io first, cpu middle, io last); the others complete', async () => {
    const storeError = new Error('the store refused task 7');
    const stored: number[] = [];
    const ex = createExecutor<N, number>({
      stages: [
        // Task 2 asks the server for a document that does not exist: a real 404.
        io<N, FaultyInput>(
          'fetch',
          async (task, ctx) => {
            const body = await fetchBuffer(`${server.url}/docs/${task.n === 2 ? 'missing' : task.n}`, agent, ctx.signal);
            expect(body.length).toBeGreaterThan(0);
            if (task.n === 5) return { n: task.n, throwCode: 'E_BAD_INPUT' };
            if (task.n === 6) return { n: task.n, throwValue: 'not an Error' };
            return { n: task.n };
          },
          { concurrency: 3 },
        ),
        cpu('compute', faultyWorker, { threads: 2 }),
        io<N, number>(
          'store',
          (value, ctx) => {
            if (ctx.index === 7) throw storeError;
            stored.push(ctx.index);
            return value.n;
          },
          { concurrency: 2 },
        ),
      ],
    });
    try {
      const { outcomes, error } = await drain(ex.run(Array.from({ length: 10 }, (_, n) => ({ n }))));
      expect(error).toBeUndefined();
      expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const byIndex = new Map(outcomes.map((o) => [o.index, o]));

      for (const i of [0, 1, 3, 4, 8, 9]) {
        expect(byIndex.get(i)).toEqual({ ok: true, task: { n: i }, index: i, value: 2 * i });
      }

      const fetchFailed = byIndex.get(2) as Failed<N>;
      expect(fetchFailed).toMatchObject({ ok: false, index: 2, stage: 'fetch', task: { n: 2 } });
      expect(fetchFailed.error).toBeInstanceOf(HttpStatusError);
      expect((fetchFailed.error as HttpStatusError).status).toBe(404);

      // The worker's error crossed the thread with its name, message, code and own properties.
      const cpuFailed = byIndex.get(5) as Failed<N>;
      expect(cpuFailed).toMatchObject({ ok: false, index: 5, stage: 'compute', task: { n: 5 } });
      expect(cpuFailed.error).toBeInstanceOf(Error);
      expect(cpuFailed.error).toMatchObject({
        name: 'BadInputError',
        message: 'bad input 5',
        code: 'E_BAD_INPUT',
        detail: { n: 5 },
      });
      // A thrown value that is not an Error comes back as that value.
      expect(byIndex.get(6)).toMatchObject({ ok: false, index: 6, stage: 'compute', error: 'not an Error' });

      const storeFailed = byIndex.get(7) as Failed<N>;
      expect(storeFailed).toMatchObject({ ok: false, index: 7, stage: 'store', task: { n: 7 } });
      expect(storeFailed.error).toBe(storeError);

      // A task that failed never reached the later stages.
      expect(stored.sort((a, b) => a - b)).toEqual([0, 1, 3, 4, 8, 9]);
      const stats = ex.stats();
      expect(stats.tasks).toMatchObject({ pulled: 10, open: 0, completed: 6, failed: 4 });
      expect(stats.stages.map((s) => [s.name, s.completed, s.failed])).toEqual([
        ['fetch', 9, 1],
        ['compute', 7, 2],
        ['store', 6, 1],
      ]);
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });
});

describe('stopOnError', () => {
  it('stops admitting at the first failure, settles in-flight work, yields it, then rejects with SluiceTaskError', async () => {
    const boom = new Error('fetch failed for task 3');
    const release = deferred();
    const gen = { pulled: 0, closed: false };
    function* endless(): Generator<N> {
      try {
        for (let n = 0; ; n++) {
          gen.pulled += 1;
          yield { n };
        }
      } finally {
        gen.closed = true;
      }
    }
    const ex = createExecutor<N, N>({
      stopOnError: true,
      stages: [
        io<N, N>(
          'fetch',
          (task, ctx) => {
            if (ctx.index === 3) {
              // Tasks 0-2 stay in flight until the failure has been handled: setImmediate runs
              // after every microtask the rejection sets off.
              setImmediate(() => release.resolve());
              return Promise.reject(boom);
            }
            return release.promise.then(() => task);
          },
          { concurrency: 4 },
        ),
        cpu('compute', doubleWorker, { threads: 1 }),
      ],
    });
    try {
      const { outcomes, error } = await drain(ex.run(endless()));
      expect(error).toBeInstanceOf(SluiceTaskError);
      const taskError = error as SluiceTaskError;
      expect(taskError.code).toBe(ErrorCodes.TASK_FAILED);
      expect(taskError.outcome).toEqual({ ok: false, task: { n: 3 }, index: 3, stage: 'fetch', error: boom, attempts: 1 });
      expect(taskError.cause).toBe(boom);

      // What was in flight when task 3 failed was finished and yielded; nothing else was started.
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual([0, 1, 2]);
      for (const o of outcomes) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
      expect(gen.pulled).toBe(4);
      expect(gen.closed).toBe(true);
      const stats = ex.stats();
      expect(stats.tasks.pulled).toBe(4);
      expect(stats.tasks.failed).toBe(1);
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('does not wait for a pull of an async input that is under way', async () => {
    const boom = new Error('task 0 failed');
    const thirdPull = deferred();
    const inputAnswers = deferred();
    const checkpoint = deferred();
    async function* slowInput(): AsyncGenerator<N> {
      yield { n: 0 };
      yield { n: 1 };
      // The third pull: an input with nothing ready yet (a queue waiting for jobs, say).
      thirdPull.resolve();
      await inputAnswers.promise;
      yield { n: 2 };
    }
    const ex = createExecutor<N, N>({
      stopOnError: true,
      stages: [
        io<N, N>(
          'fetch',
          async (task, ctx) => {
            if (ctx.index !== 0) return task;
            await thirdPull.promise;
            // Runs after every microtask the failure sets off: by then the run has settled.
            setImmediate(() => checkpoint.resolve());
            throw boom;
          },
          { concurrency: 3 },
        ),
      ],
    });
    let settled = false;
    const drained = drain(ex.run(slowInput())).finally(() => {
      settled = true;
    });
    try {
      await checkpoint.promise;
      const settledBeforeInputAnswered = settled;
      inputAnswers.resolve();
      const { outcomes, error } = await drained;
      expect(error).toBeInstanceOf(SluiceTaskError);
      expect((error as SluiceTaskError).outcome).toMatchObject({ ok: false, index: 0, stage: 'fetch', error: boom, attempts: 1 });
      expect(outcomes).toEqual([{ ok: true, task: { n: 1 }, index: 1, value: { n: 1 } }]);
      // The run stopped: it must not hang on an input that has nothing more to give.
      expect(settledBeforeInputAnswered).toBe(true);
      expect(ex.stats().tasks.pulled).toBe(2);
    } finally {
      inputAnswers.resolve();
      await drained;
      await ex.close();
    }
  });

  it('with ordered: skips the failed task, yields the settled ones in input order, then rejects', async () => {
    const boom = new Error('check failed for task 1');
    const release = deferred();
    const ex = createExecutor<N, N>({
      stopOnError: true,
      ordered: true,
      stages: [
        // Task 0 stays in flight until task 1 has failed, so it settles after the run stopped.
        io<N, N>(
          'fetch',
          async (task) => {
            if (task.n === 0) await release.promise;
            return task;
          },
          { concurrency: 3 },
        ),
        // A fixed batch keeps the window exact: the stage holds (threads + 1) x B tasks, and the
        // buffer in front of it as many ('auto' would move B with the measured task time).
        cpu('compute', doubleWorker, { threads: 2, batch: 4 }),
        io<N, N>(
          'check',
          (value, ctx) => {
            if (ctx.index !== 1) return value;
            setImmediate(() => release.resolve());
            throw boom;
          },
          { concurrency: 2 },
        ),
      ],
    });
    try {
      function* endless(): Generator<N> {
        for (let n = 0; ; n++) yield { n };
      }
      const { outcomes, error } = await drain(ex.run(endless()));
      expect(error).toBeInstanceOf(SluiceTaskError);
      expect((error as SluiceTaskError).outcome).toEqual({ ok: false, task: { n: 1 }, index: 1, stage: 'check', error: boom, attempts: 1 });
      // Every task pulled before the failure was settled and yielded, in input order, except task 1.
      const { pulled, peakOpen } = ex.stats().tasks;
      const window = 3 + (2 + 1) * 4 + 2 + (2 + 1) * 4 + 2 + 2; // capacities 3 + (2+1)x4 + 2, buffers (2+1)x4 + 2, output 2
      expect(peakOpen).toBeLessThanOrEqual(window);
      expect(pulled).toBeLessThanOrEqual(window);
      expect(outcomes.map((o) => o.index)).toEqual([0, ...Array.from({ length: pulled - 2 }, (_, i) => i + 2)]);
      for (const o of outcomes) expect(o).toEqual({ ok: true, task: { n: o.index }, index: o.index, value: { n: 2 * o.index } });
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });
});

describe('an input that throws', () => {
  const inputError = new Error('the input broke');

  function makeExecutor(): Executor<N, N> {
    return createExecutor<N, N>({
      stages: [io<N, N>('fetch', async (task) => task, { concurrency: 2 }), cpu('compute', doubleWorker, { threads: 2 })],
    });
  }

  it('sync iterator: yields the tasks already pulled, then rejects with SluiceInputError', async () => {
    function* breaking(): Generator<N> {
      for (let n = 0; n < 5; n++) yield { n };
      throw inputError;
    }
    const ex = makeExecutor();
    try {
      const { outcomes, error } = await drain(ex.run(breaking()));
      expect(error).toBeInstanceOf(SluiceInputError);
      expect((error as SluiceInputError).code).toBe(ErrorCodes.INPUT_FAILED);
      expect((error as SluiceInputError).cause).toBe(inputError);
      expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
      for (const o of outcomes) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
      expect(ex.stats().tasks).toMatchObject({ pulled: 5, open: 0, completed: 5 });
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('async iterator: yields the tasks already pulled, then rejects with SluiceInputError', async () => {
    async function* breaking(): AsyncGenerator<N> {
      for (let n = 0; n < 5; n++) {
        await Promise.resolve();
        yield { n };
      }
      throw inputError;
    }
    const ex = makeExecutor();
    try {
      const { outcomes, error } = await drain(ex.run(breaking()));
      expect(error).toBeInstanceOf(SluiceInputError);
      expect((error as SluiceInputError).code).toBe(ErrorCodes.INPUT_FAILED);
      expect((error as SluiceInputError).cause).toBe(inputError);
      expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
      expect(ex.stats().tasks).toMatchObject({ pulled: 5, open: 0, completed: 5 });
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('an input whose iterator cannot be created rejects with SluiceInputError and pulls nothing', async () => {
    const input: Iterable<N> = {
      [Symbol.iterator]() {
        throw inputError;
      },
    };
    const ex = makeExecutor();
    try {
      const { outcomes, error } = await drain(ex.run(input));
      expect(error).toBeInstanceOf(SluiceInputError);
      expect((error as SluiceInputError).code).toBe(ErrorCodes.INPUT_FAILED);
      expect((error as SluiceInputError).cause).toBe(inputError);
      expect(outcomes).toEqual([]);
      expect(ex.stats().tasks.pulled).toBe(0);
      // The executor is free again.
      const again = await drain(ex.run([{ n: 1 }]));
      expect(again).toEqual({ outcomes: [{ ok: true, task: { n: 1 }, index: 0, value: { n: 2 } }], error: undefined });
    } finally {
      await ex.close();
    }
  });
});
