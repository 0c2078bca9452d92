/**
 * Workers calling home over comlink: exposed functions behind a service's limiter, progress
 * events, errors both ways, plain stages left untouched, transfer, abort and late calls. Real
 * Piscina pools; assertions on counters and traces, never on time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { bridgeCounts } from '../src/bridge/main.js';
import {
  createExecutor,
  cpu,
  ErrorCodes,
  io,
  service,
  SluiceAbortError,
  SluiceBridgeError,
  SluiceOptionError,
  type CpuOptions,
  type Executor,
  type HostCallContext,
  type Outcome,
  type TaskProgress,
} from '../src/index.js';
import { deferred, type Deferred } from './fixtures/atomics-gate.js';

const worker = new URL('./fixtures/bridge/worker.ts', import.meta.url);

let executor: Executor<any, any> | undefined;
afterEach(async () => {
  await executor?.close();
  executor = undefined;
  expect(bridgeCounts()).toEqual({ links: 0, tasks: 0 });
});

function start<T, R>(exportName: string, options: CpuOptions, threads = 2): Executor<T, R> {
  const ex = createExecutor<T, R>({ stages: [cpu('parse', worker, { threads, exportName, ...options })] });
  executor = ex;
  return ex;
}

async function collect<T, R>(run: AsyncIterable<Outcome<T, R>>, each?: (o: Outcome<T, R>) => void): Promise<Outcome<T, R>[]> {
  const outcomes: Outcome<T, R>[] = [];
  for await (const o of run) {
    each?.(o);
    outcomes.push(o);
  }
  return outcomes.sort((a, b) => a.index - b.index);
}

const values = <T, R>(outcomes: readonly Outcome<T, R>[]): unknown[] => outcomes.map((o) => (o.ok ? o.value : o.error));

describe('exposed functions', () => {
  it('go through the service limiter: right answers, at most `limit` in flight, calls from both threads overlapping', async () => {
    const docs = service('docs', { limit: 2, retry: false });
    const K = 6;
    // Every task sends its K calls at once; each attempt waits until all K of its task have
    // arrived, so the first two hold the service's two slots while the other four queue.
    const arrived = new Map<number, number>();
    const allArrived = new Map<number, Deferred<void>>();
    let peakQueued = 0;
    const contexts: Array<{ stage: string; index: number; task: unknown }> = [];
    const ex = start<{ ids: number[] }, number[]>('lookups', {
      expose: {
        lookup(this: HostCallContext, id: number) {
          const { index } = this;
          contexts.push({ stage: this.stage, index, task: this.task });
          if (!allArrived.has(index)) allArrived.set(index, deferred());
          const gate = allArrived.get(index)!;
          const result = docs.call(async () => {
            await gate.promise;
            return id * 10;
          });
          arrived.set(index, (arrived.get(index) ?? 0) + 1);
          peakQueued = Math.max(peakQueued, docs.stats().queued);
          if (arrived.get(index) === K) gate.resolve();
          return result;
        },
      },
    });
    const tasks = Array.from({ length: 12 }, (_, t) => ({ ids: Array.from({ length: K }, (_, i) => t * 100 + i) }));
    const outcomes = await collect(ex.run(tasks));
    expect(values(outcomes)).toEqual(tasks.map((t) => t.ids.map((id) => id * 10)));
    const stats = docs.stats();
    expect(stats).toMatchObject({ calls: 12 * K, successes: 12 * K, peakInFlight: 2, inFlight: 0, queued: 0 });
    expect(peakQueued).toBeGreaterThanOrEqual(K - 2);
    expect(contexts).toHaveLength(12 * K);
    for (const c of contexts) expect(c).toEqual({ stage: 'parse', index: c.index, task: tasks[c.index] });
  });

  it('stay reachable from the thread Piscina starts in place of one that died', async () => {
    const ex = start<{ id: number; exit?: boolean }, number>('lookupOrExit', { expose: { lookup: (id: number) => id * 10 } }, 1);
    const outcomes = await collect(ex.run([{ id: 1 }, { id: 0, exit: true }, { id: 2 }, { id: 3 }]));
    expect(values(outcomes.filter((o) => o.ok))).toEqual([10, 20, 30]);
    expect(outcomes[1]).toMatchObject({ ok: false, error: { code: ErrorCodes.WORKER_CRASHED } });
    expect(bridgeCounts()).toEqual({ links: 1, tasks: 0 });
  });

  it('that throw: the worker can catch the error (name, message, code kept) or let it fail the task', async () => {
    const ex = start<{ catch: boolean }, unknown>('failing', {
      expose: {
        fail(message: string) {
          throw Object.assign(new TypeError(message), { code: 'E_LOOKUP' });
        },
      },
    });
    const [caught, uncaught] = await collect(ex.run([{ catch: true }, { catch: false }]));
    expect(caught).toMatchObject({ ok: true, value: { name: 'TypeError', message: 'caught', code: 'E_LOOKUP' } });
    expect(uncaught).toMatchObject({ ok: false, stage: 'parse' });
    const error = (uncaught as { error: unknown }).error;
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'TypeError', message: 'uncaught', code: 'E_LOOKUP' });
  });

  it('a call to a name that is not exposed rejects in the worker with ERR_SLUICE_BRIDGE, listing what is', async () => {
    const ex = start<{ call: string }, unknown>('probe', { expose: { lookup: (id: number) => id, block: () => undefined } });
    const [o] = await collect(ex.run([{ call: 'unknown' }]));
    expect(o).toMatchObject({ ok: true, value: { name: 'SluiceBridgeError', code: ErrorCodes.BRIDGE } });
    const message = (o as { value: { message: string } }).value.message;
    expect(message).toContain('nope');
    expect(message).toContain('lookup, block');
  });

  it('host() on a stage that exposes nothing throws ERR_SLUICE_BRIDGE: plain stage, and a stage with onProgress only', async () => {
    const plain = start<{ call: string }, unknown>('probe', {});
    const [a] = await collect(plain.run([{ call: 'host' }]));
    expect(a).toMatchObject({ ok: true, value: { name: 'SluiceBridgeError', code: ErrorCodes.BRIDGE } });
    await plain.close();
    const listening = start<{ call: string }, unknown>('probe', { onProgress: () => undefined });
    const [b] = await collect(listening.run([{ call: 'host' }]));
    expect(b).toMatchObject({ ok: true, value: { name: 'SluiceBridgeError', code: ErrorCodes.BRIDGE } });
    expect(new SluiceBridgeError('x').code).toBe(ErrorCodes.BRIDGE);
  });
});

describe('progress', () => {
  it('arrives for every task, in order, with stage, index and task, all of it before the outcome', async () => {
    const events: TaskProgress[] = [];
    const seenAtOutcome = new Map<number, number>();
    const ex = start<{ steps: number }, number>('progress', { onProgress: (e) => events.push(e) });
    const tasks = Array.from({ length: 10 }, (_, i) => ({ steps: 5 + i }));
    const outcomes = await collect(ex.run(tasks), (o) => {
      seenAtOutcome.set(o.index, events.filter((e) => e.index === o.index).length);
    });
    expect(values(outcomes)).toEqual(tasks.map((_, i) => i)); // ctx.index in the worker
    tasks.forEach((task, index) => {
      const mine = events.filter((e) => e.index === index);
      expect(mine.map((e) => e.value)).toEqual(Array.from({ length: task.steps }, (_, i) => i));
      for (const e of mine) expect(e).toMatchObject({ stage: 'parse', index, task });
      expect(seenAtOutcome.get(index)).toBe(task.steps);
    });
  });

  it('a throwing onProgress does not fail the task; it is reported once per stage, as a SluiceBridgeError warning', async () => {
    // Take the process's warning listeners (Node's printer among them) off while the warnings
    // this test provokes are emitted, so they are asserted here instead of printed.
    const printers = process.listeners('warning');
    for (const l of printers) process.off('warning', l);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const calls = { parse: 0, refine: 0 };
      const throwing = (stage: keyof typeof calls) => (): void => {
        calls[stage] += 1;
        throw new Error(`listener of ${stage} broke`);
      };
      const ex = createExecutor<{ steps: number }, number>({
        stages: [
          cpu('parse', worker, { threads: 2, exportName: 'progress', onProgress: throwing('parse') }),
          io('again', (index: number) => ({ steps: index + 1 }), { concurrency: 2 }),
          cpu('refine', worker, { threads: 2, exportName: 'progress', onProgress: throwing('refine') }),
        ],
      });
      executor = ex;
      const outcomes = await collect(ex.run([{ steps: 3 }, { steps: 4 }, { steps: 2 }]));
      expect(values(outcomes)).toEqual([0, 1, 2]);
      expect(calls).toEqual({ parse: 9, refine: 1 + 2 + 3 });
      await ex.close();
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).toHaveLength(2);
      for (const w of warnings) expect(w).toBeInstanceOf(SluiceBridgeError);
      const byStage = (stage: string): Error[] => warnings.filter((w) => w.message.startsWith(`cpu stage "${stage}"`));
      expect(byStage('parse')).toEqual([
        expect.objectContaining({ code: ErrorCodes.BRIDGE, cause: expect.objectContaining({ message: 'listener of parse broke' }) }),
      ]);
      expect(byStage('refine')).toEqual([
        expect.objectContaining({ code: ErrorCodes.BRIDGE, cause: expect.objectContaining({ message: 'listener of refine broke' }) }),
      ]);
    } finally {
      process.off('warning', onWarning);
      for (const l of printers) process.on('warning', l);
    }
  });

  it('and host calls after the task ended are dropped or rejected, and crash nothing', async () => {
    const events: unknown[] = [];
    const looked: number[] = [];
    const ex = start<{ phase: string }, unknown>(
      'afterEnd',
      { expose: { lookup: (id: number) => looked.push(id) }, onProgress: (e) => events.push(e.value) },
      1,
    );
    const outcomes = await collect(ex.run([{ phase: 'fire' }, { phase: 'check' }]));
    const thread = (outcomes[0] as { value: { threadId: number } }).value.threadId;
    expect(outcomes[0]).toMatchObject({ ok: true, value: { fired: true } });
    expect(outcomes[1]).toMatchObject({
      ok: true,
      value: { late: { name: 'SluiceBridgeError', code: ErrorCodes.BRIDGE }, threadId: thread },
    });
    expect(events).toEqual([]);
    expect(looked).toEqual([]);
    // The late call nobody handled did not kill the thread: the same one still serves.
    const again = await collect(ex.run([{ phase: 'fire' }, { phase: 'check' }]));
    expect(values(again)).toMatchObject([{ threadId: thread }, { threadId: thread }]);
    expect(ex.stats().tasks).toMatchObject({ failed: 0 });
  });
});

describe('a call still pending when its task ends', () => {
  it('never settles in the worker: its late answer does not touch the next task on the thread', async () => {
    const slow = deferred<void>();
    const block = deferred<void>();
    const blocked = deferred<void>();
    const slowCalled = deferred<void>();
    const ex = start<{ phase: string }, { threadId: number }>(
      'pending',
      {
        expose: {
          lookup: (id: number) => id,
          slow() {
            slowCalled.resolve();
            return slow.promise;
          },
          block() {
            blocked.resolve();
            return block.promise;
          },
        },
      },
      1,
    );
    const run = collect(ex.run([{ phase: 'leave' }, { phase: 'wait' }, { phase: 'wait' }]));
    await Promise.all([slowCalled.promise, blocked.promise]);
    slow.reject(new Error('late failure')); // answered (a rejection) while the second task runs
    await new Promise((resolve) => setImmediate(resolve));
    block.resolve();
    const outcomes = await run;
    const thread = (outcomes[0] as { value: { threadId: number } }).value.threadId;
    expect(values(outcomes)).toEqual([
      { left: true, threadId: thread },
      { waited: true, threadId: thread },
      { waited: true, threadId: thread }, // the thread survived
    ]);
  });
});

describe('the task message', () => {
  it('on a plain stage unwraps to exactly the input, with the index and key', async () => {
    const ex = start<unknown, unknown>('inspect', {});
    const inputs = [{ a: 1, nested: { b: [2] } }, 'text', 42, null];
    const outcomes = await collect(ex.run(inputs));
    expect(values(outcomes)).toEqual(inputs.map((input, index) => ({ input, index, ctxKeys: ['host', 'index', 'key', 'progress'] })));
  });

  it('on a bridged stage unwraps to the same input, with the index, and still moves binary payloads', async () => {
    const ex = start<unknown, unknown>('inspect', { expose: { lookup: (id: number) => id } });
    const body = new ArrayBuffer(1 << 16);
    const outcomes = await collect(ex.run([{ a: 1 }, { body }]));
    expect(values(outcomes)).toEqual([
      { input: { a: 1 }, index: 0, ctxKeys: ['host', 'index', 'key', 'progress'] },
      { input: { bodyBytes: 1 << 16 }, index: 1, ctxKeys: ['host', 'index', 'key', 'progress'] },
    ]);
    expect(body.byteLength).toBe(0); // detached: moved to the worker, not copied
  });
});

describe('abort while a worker waits on a host call', () => {
  it("settles the run cleanly, aborts the call's signal and forgets the task", async () => {
    const entered = deferred<AbortSignal>();
    const ex = start<number, unknown>(
      'blocked',
      {
        expose: {
          block(this: HostCallContext) {
            const { signal } = this;
            entered.resolve(signal);
            return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
          },
        },
      },
      1,
    );
    const controller = new AbortController();
    const run = collect(ex.run([1, 2, 3], { signal: controller.signal }));
    const signal = await entered.promise;
    expect(bridgeCounts()).toEqual({ links: 1, tasks: 1 });
    controller.abort(new Error('stop'));
    await expect(run).rejects.toBeInstanceOf(SluiceAbortError);
    expect(signal.aborted).toBe(true);
    expect(bridgeCounts().tasks).toBe(0);
    expect(ex.stats().stages[0]).toMatchObject({ active: 0, running: 0 });
  });

  describe('in a program of its own', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('leaves no port or handle behind: the program exits by itself', { timeout: 120_000 }, async () => {
      const script = fileURLToPath(new URL('./fixtures/bridge/abort-script.ts', import.meta.url));
      const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const proc = spawn(process.execPath, ['--import', 'tsx', script], {
          cwd: fileURLToPath(new URL('..', import.meta.url)),
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        child = proc;
        let stdout = '';
        proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        proc.on('error', reject);
        proc.on('close', (code) => resolve({ code, stdout }));
      });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ error: ErrorCodes.ABORTED, hostSignalAborted: true, counts: { links: 0, tasks: 0 } });
    });
  });
});

describe('validation', () => {
  const file = worker;
  it.each([
    ['a function', () => undefined, 'stages[0].expose'],
    ['an array', [() => undefined], 'stages[0].expose'],
    ['a class instance', new (class Api {})(), 'stages[0].expose'],
    ['null', null, 'stages[0].expose'],
    ['a non-function entry', { lookup: () => 1, limit: 3 }, 'stages[0].expose.limit'],
    // biome-ignore lint/suspicious/noThenProperty: the case is an object with `then`, which expose refuses
    ['a `then` entry', { then: () => undefined }, 'stages[0].expose.then'],
  ])('expose as %s is refused, naming the option', (_label, expose, option) => {
    const error = captureError(() => createExecutor({ stages: [cpu('parse', file, { expose: expose as never })] }));
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option });
  });

  it('names the stage by position', () => {
    const error = captureError(() =>
      createExecutor({
        stages: [cpu('a', file, { threads: 1 }), cpu('b', file, { threads: 1, expose: { lookup: 'nope' as never } })],
      }),
    );
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'stages[1].expose.lookup' });
  });

  it.each([
    ['a string', 'log'],
    ['an object', {}],
    ['null', null],
  ])('onProgress as %s is refused', (_label, onProgress) => {
    const error = captureError(() => createExecutor({ stages: [cpu('parse', file, { onProgress: onProgress as never })] }));
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'stages[0].onProgress' });
  });

  it('accepts a null-prototype object, and an empty one (a plain stage)', async () => {
    const bare = Object.assign(Object.create(null) as object, { lookup: () => 1 });
    for (const expose of [bare, {}])
      await createExecutor({ stages: [cpu('parse', file, { expose: expose as never, threads: 1 })] }).close();
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
