/**
 * Stopping a run from outside: an AbortSignal (before or during the run) and a consumer that
 * breaks out of its loop. Nothing new is admitted, in-flight work is aborted or settled, and the
 * executor is ready for the next run.
 */
import { describe, expect, it } from 'vitest';
import { createExecutor, cpu, ErrorCodes, io, SluiceAbortError, type Executor, type ExecutorStats, type Outcome } from '../src/index.js';
import { createGate, deferred } from './fixtures/atomics-gate.js';
import type { FaultyInput } from './fixtures/faulty.js';

const faultyWorker = new URL('./fixtures/faulty.ts', import.meta.url);
const doubleWorker = new URL('./fixtures/double.ts', import.meta.url);

interface N {
  readonly n: number;
}

/** An endless input that counts what was pulled from it and notes when it was closed. */
function counted<T>(make: (n: number) => T): { input: Generator<T>; pulled(): number; closed(): boolean; started(): boolean } {
  let pulled = 0;
  let closed = false;
  let started = false;
  function* gen(): Generator<T> {
    started = true;
    try {
      for (let n = 0; ; n++) {
        pulled += 1;
        yield make(n);
      }
    } finally {
      closed = true;
    }
  }
  return { input: gen(), pulled: () => pulled, closed: () => closed, started: () => started };
}

/** The most tasks the pipeline holds at once: stage capacities, buffer bounds and the output bound. */
function pipelineWindow(stats: ExecutorStats): number {
  return stats.stages.reduce((sum, s) => sum + s.capacity, 0) + stats.buffers.reduce((sum, b) => sum + b.bound, 0);
}

function expectIdle(ex: Executor): void {
  for (const s of ex.stats().stages) {
    expect({ stage: s.name, active: s.active, running: s.running }).toEqual({ stage: s.name, active: 0, running: 0 });
  }
}

async function collect<T, R>(run: AsyncIterable<Outcome<T, R>>): Promise<Outcome<T, R>[]> {
  const outcomes: Outcome<T, R>[] = [];
  for await (const o of run) outcomes.push(o);
  return outcomes;
}

describe('abort through run(input, { signal })', () => {
  it('freezes admission, aborts in-flight io and a running cpu task, and rejects with SluiceAbortError', async () => {
    interface Task extends N {
      readonly gate?: boolean;
      readonly hold?: boolean;
    }
    const gate = createGate();
    const ioHolding = deferred();
    let holding = 0;
    const sawAbort: Array<{ index: number; aborted: boolean; reason: unknown }> = [];
    const ex = createExecutor<Task, N>({
      stages: [
        io<Task, FaultyInput>(
          'fetch',
          (task, ctx) => {
            if (!task.hold) return task.gate ? { n: task.n, gate: gate.buffer } : { n: task.n };
            // Held until the run is aborted, as a fetch given ctx.signal would be.
            return new Promise<FaultyInput>((_, reject) => {
              ctx.signal.addEventListener(
                'abort',
                () => {
                  sawAbort.push({ index: ctx.index, aborted: ctx.signal.aborted, reason: ctx.signal.reason });
                  reject(ctx.signal.reason);
                },
                { once: true },
              );
              holding += 1;
              if (holding === 2) ioHolding.resolve();
            });
          },
          { concurrency: 2 },
        ),
        cpu('compute', faultyWorker, { threads: 1 }),
      ],
    });
    // Task 0 goes straight through; task 1 blocks its worker thread at the gate; tasks 2 and 3
    // fill the io stage and wait for the abort.
    const input = counted<Task>((n) => (n === 0 ? { n } : n === 1 ? { n, gate: true } : { n, hold: true }));
    const controller = new AbortController();
    const reason = new Error('the operator stopped the job');
    try {
      const run = ex.run(input.input, { signal: controller.signal });
      const first = await run.next();
      expect(first).toEqual({ done: false, value: { ok: true, task: { n: 0 }, index: 0, value: { n: 0 } } });
      await gate.entered();
      await ioHolding.promise;
      const before = ex.stats();
      expect(before.stages.map((s) => s.running)).toEqual([2, 1]);
      expect(before.tasks.pulled).toBe(4);
      expect(input.pulled()).toBe(4);

      controller.abort(reason);
      const error = await run.next().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SluiceAbortError);
      const abortError = error as SluiceAbortError;
      expect(abortError.code).toBe(ErrorCodes.ABORTED);
      expect(abortError.reason).toBe(reason);
      expect(abortError.cause).toBe(reason);

      // Nothing was admitted after the abort; the input was closed.
      expect(input.pulled()).toBe(4);
      expect(input.closed()).toBe(true);
      expect(ex.stats().tasks.pulled).toBe(4);
      // Both io calls in flight saw their signal aborted with the run's reason.
      expect(sawAbort.map((s) => s.index).sort()).toEqual([2, 3]);
      for (const s of sawAbort) expect(s).toMatchObject({ aborted: true, reason });
      // The gate was never opened: the run settled because the cpu task was aborted.
      const after = ex.stats();
      expect(after.stages[1]).toMatchObject({ name: 'compute', completed: 1, failed: 0 });
      expectIdle(ex);
      expect(await run.next()).toEqual({ done: true, value: undefined });

      // The aborted task's thread was replaced: the executor runs again.
      const outcomes = await collect(ex.run([{ n: 5 }, { n: 6 }]));
      expect(outcomes.map((o) => (o.ok ? o.value : o.error))).toEqual(expect.arrayContaining([{ n: 10 }, { n: 12 }]));
      expect(outcomes).toHaveLength(2);
    } finally {
      gate.release();
      await ex.close();
    }
  });

  it('does not wait for a pull of an async input that is under way', async () => {
    const never = deferred<N>();
    let calls = 0;
    async function* stuck(): AsyncGenerator<N> {
      yield { n: 0 };
      yield await never.promise;
    }
    const pulledOne = deferred();
    const ex = createExecutor<N, N>({
      stages: [
        io<N, N>(
          'fetch',
          (task) => {
            calls += 1;
            pulledOne.resolve();
            return task;
          },
          { concurrency: 2 },
        ),
      ],
    });
    const controller = new AbortController();
    try {
      const run = ex.run(stuck(), { signal: controller.signal });
      const first = await run.next();
      expect(first).toMatchObject({ done: false, value: { ok: true, index: 0 } });
      await pulledOne.promise;
      const pending = run.next();
      controller.abort('stop');
      await expect(pending).rejects.toMatchObject({ code: ErrorCodes.ABORTED, reason: 'stop' });
      await expect(pending).rejects.toBeInstanceOf(SluiceAbortError);
      expect(calls).toBe(1);
      expect(ex.stats().tasks.pulled).toBe(1);
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('a signal aborted before the run rejects with SluiceAbortError and pulls nothing', async () => {
    const reason = { why: 'cancelled before it began' };
    const ex = createExecutor<N, N>({
      stages: [io<N, N>('fetch', (task) => task, { concurrency: 2 }), cpu('compute', doubleWorker, { threads: 1 })],
    });
    const input = counted<N>((n) => ({ n }));
    try {
      const run = ex.run(input.input, { signal: AbortSignal.abort(reason) });
      const error = await run.next().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SluiceAbortError);
      expect((error as SluiceAbortError).code).toBe(ErrorCodes.ABORTED);
      expect((error as SluiceAbortError).reason).toBe(reason);
      expect((error as SluiceAbortError).cause).toBe(reason);
      expect(input.started()).toBe(false);
      expect(input.pulled()).toBe(0);
      expect(ex.stats().tasks.pulled).toBe(0);
      // The executor is free for the next run.
      const outcomes = await collect(ex.run([{ n: 1 }]));
      expect(outcomes).toEqual([{ ok: true, task: { n: 1 }, index: 0, value: { n: 2 } }]);
    } finally {
      await ex.close();
    }
  });
});

describe('a consumer that breaks out of its loop', () => {
  it('stops the run: at most k + window pulled, in-flight work settled, and the executor runs again', async () => {
    const ex = createExecutor<N, N>({
      stages: [
        io<N, N>('fetch', async (task) => task, { concurrency: 3 }),
        // A fixed batch keeps the window exact: the stage holds (threads + 1) x B tasks, and the
        // buffer in front of it as many ('auto' would move B with the measured task time).
        cpu('compute', doubleWorker, { threads: 2, batch: 4 }),
        io<N, N>('store', async (value) => value, { concurrency: 2 }),
      ],
    });
    const input = counted<N>((n) => ({ n }));
    const k = 5;
    try {
      const seen: Outcome<N, N>[] = [];
      for await (const o of ex.run(input.input)) {
        seen.push(o);
        if (seen.length === k) break;
      }
      expect(seen).toHaveLength(k);
      for (const o of seen) expect(o).toEqual({ ok: true, task: { n: o.index }, index: o.index, value: { n: 2 * o.index } });

      const stats = ex.stats();
      const window = pipelineWindow(stats);
      // Capacities 3 + (2+1)x4 + 2, buffers (2+1)x4 (in front of compute) + 2, output 2.
      expect(window).toBe(3 + (2 + 1) * 4 + 2 + (2 + 1) * 4 + 2 + 2);
      expect(input.pulled()).toBeLessThanOrEqual(k + window);
      expect(stats.tasks.pulled).toBe(input.pulled());
      expect(stats.tasks.peakOpen).toBeLessThanOrEqual(window);
      expect(input.closed()).toBe(true);
      // Breaking waited for what was in flight.
      expectIdle(ex);

      const outcomes = await collect(ex.run(Array.from({ length: 10 }, (_, n) => ({ n }))));
      expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const o of outcomes) expect(o).toEqual({ ok: true, task: { n: o.index }, index: o.index, value: { n: 2 * o.index } });
    } finally {
      await ex.close();
    }
  });

  it('breaking while a cpu task is held at a gate aborts it and settles', async () => {
    const gate = createGate();
    const ex = createExecutor<N, N>({
      stages: [
        io<N, FaultyInput>('fetch', (task) => (task.n === 1 ? { n: 1, gate: gate.buffer } : { n: task.n }), {
          concurrency: 1,
        }),
        cpu('compute', faultyWorker, { threads: 1 }),
      ],
    });
    const input = counted<N>((n) => ({ n }));
    try {
      const run = ex.run(input.input);
      const first = await run.next();
      expect(first).toMatchObject({ done: false, value: { ok: true, index: 0 } });
      await gate.entered();
      // `for await ... break` calls return(): it resolves once the held task was aborted.
      expect(await run.return!()).toEqual({ done: true, value: undefined });
      expectIdle(ex);
      expect(input.closed()).toBe(true);
      expect(ex.stats().stages[1]).toMatchObject({ completed: 1, failed: 0 });
      const outcomes = await collect(ex.run([{ n: 4 }]));
      expect(outcomes).toEqual([{ ok: true, task: { n: 4 }, index: 0, value: { n: 8 } }]);
    } finally {
      gate.release();
      await ex.close();
    }
  });
});

describe('close() during a run', () => {
  it('aborts in-flight io, yields what had finished, and ends the iteration with ERR_SLUICE_CLOSED', async () => {
    const hold = deferred();
    const aborted: number[] = [];
    const started: number[] = [];
    const ex = createExecutor<number>({
      stages: [
        io(
          'wait',
          async (n: number, ctx) => {
            if (n === 0) return n;
            started.push(n);
            await hold.promise;
            if (ctx.signal.aborted) aborted.push(n);
            return n;
          },
          { concurrency: 3 },
        ),
      ],
    });
    const it = ex.run([0, 1, 2, 3, 4]);
    const first = await it.next();
    expect(first.done).toBe(false);
    const closing = ex.close();
    const rest = it.next();
    hold.resolve();
    await expect(rest).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    await closing;
    // Every call in flight saw the abort; none started after the close.
    expect(started).toEqual(expect.arrayContaining([1, 2]));
    expect(aborted.sort()).toEqual(started.sort());
    expect(ex.stats().tasks.pulled).toBe(started.length + 1);
    expect((await it.next()).done).toBe(true);
  });
});

describe('drain through run(input, { drain })', () => {
  it('stops pulling, lets every pulled task finish and be yielded, and ends the iteration normally', async () => {
    const release = deferred();
    let started = 0;
    const twoStarted = deferred();
    const ex = createExecutor<N, N>({
      stages: [
        io<N, N>(
          'fetch',
          async (task) => {
            started += 1;
            if (started === 2) twoStarted.resolve();
            await release.promise;
            return { n: task.n * 2 };
          },
          { concurrency: 2 },
        ),
        io<N, N>('store', (v) => v, { concurrency: 1 }),
      ],
    });
    const input = counted<N>((n) => ({ n }));
    const drain = new AbortController();
    try {
      const run = ex.run(input.input, { drain: drain.signal });
      const outcomes: Outcome<N, N>[] = [];
      const consuming = (async () => {
        for await (const o of run) outcomes.push(o);
      })();
      await twoStarted.promise;
      const pulledAtDrain = ex.stats().tasks.pulled;
      expect(pulledAtDrain).toBe(2);
      drain.abort();
      expect(input.closed()).toBe(true);
      release.resolve();
      await consuming; // ends without an error
      expect(input.pulled()).toBe(pulledAtDrain);
      expect(outcomes).toHaveLength(pulledAtDrain);
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(outcomes.map((o) => o.index).sort()).toEqual([0, 1]);
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('rejects a drain that is not an AbortSignal, naming the option', async () => {
    const ex = createExecutor({ stages: [io('a', (x) => x, { concurrency: 1 })] });
    try {
      expect(() => ex.run([1], { drain: 'soon' as never })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'drain' }),
      );
    } finally {
      await ex.close();
    }
  });
});
