/**
 * io(name, fn, { concurrency, timeoutMs }): an attempt past timeoutMs aborts ctx.signal and fails
 * its task with SluiceTimeoutError naming the stage; a straggler that ignores its signal never
 * becomes an unhandled rejection; without timeoutMs the stage adds no signal or timer per task.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createExecutor, ErrorCodes, io, service, SluiceTimeoutError, type ExecutorOptions, type Outcome } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function collect<T>(options: ExecutorOptions, tasks: T[], runOptions?: { signal?: AbortSignal }): Promise<Outcome<T>[]> {
  const ex = createExecutor<T>(options);
  try {
    const outcomes: Outcome<T>[] = [];
    for await (const o of ex.run(tasks, runOptions)) outcomes.push(o);
    return outcomes;
  } finally {
    await ex.close();
  }
}

const aborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));

describe('io stage timeoutMs', () => {
  it('aborts ctx.signal and fails only the attempt past it, with ERR_SLUICE_TIMEOUT naming the stage', async () => {
    const seen = new Map<number, AbortSignal>();
    const outcomes = await collect<number>(
      {
        stages: [
          io(
            'fetch',
            async (n: number, ctx) => {
              seen.set(n, ctx.signal);
              if (n === 2) await aborted(ctx.signal); // a hung server, but a client that honours its signal
              return n * 10;
            },
            { concurrency: 2, timeoutMs: 40 },
          ),
        ],
      },
      [1, 2, 3],
    );
    const byTask = new Map(outcomes.map((o) => [o.task, o]));
    expect(byTask.get(1)).toMatchObject({ ok: true, value: 10 });
    expect(byTask.get(3)).toMatchObject({ ok: true, value: 30 });
    const failed = byTask.get(2)!;
    expect(failed).toMatchObject({ ok: false, stage: 'fetch', attempts: 1 });
    const error = (failed as { error: SluiceTimeoutError }).error;
    expect(error).toBeInstanceOf(SluiceTimeoutError);
    expect(error).toMatchObject({ code: ErrorCodes.TIMEOUT, stage: 'fetch', service: undefined, timeoutMs: 40 });
    expect(seen.get(2)!.aborted).toBe(true);
    expect(seen.get(2)!.reason).toBe(error);
    expect(seen.get(1)!.aborted).toBe(false);
  });

  it('fails a task whose function ignores its signal, and its late rejection is never unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => {
      process.off('unhandledRejection', onUnhandled);
    });
    let rejectLate!: (e: Error) => void;
    let resolveLate!: (v: string) => void;
    const outcomes = await collect<string>(
      {
        stages: [
          io(
            'stubborn',
            (kind: string) =>
              new Promise<string>((resolve, reject) => {
                if (kind === 'rejects') rejectLate = reject;
                else resolveLate = resolve;
              }),
            { concurrency: 2, timeoutMs: 30 },
          ),
        ],
      },
      ['rejects', 'resolves'],
    );
    expect(outcomes.map((o) => [o.task, o.ok, !o.ok && (o.error as SluiceTimeoutError).code]).sort()).toEqual([
      ['rejects', false, ErrorCodes.TIMEOUT],
      ['resolves', false, ErrorCodes.TIMEOUT],
    ]);
    rejectLate(new Error('the straggler gives up late'));
    resolveLate('too late');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  });

  it('the per-call signal follows the run: aborting the run aborts it with the run reason', async () => {
    const run = new AbortController();
    const reasons: unknown[] = [];
    const ex = createExecutor<number>({
      stages: [
        io(
          'wait',
          async (_n: number, ctx) => {
            queueMicrotask(() => run.abort('stop'));
            await aborted(ctx.signal).catch((r: unknown) => reasons.push(r));
            return 0;
          },
          { concurrency: 1, timeoutMs: 60_000 },
        ),
      ],
    });
    cleanups.push(() => ex.close());
    await expect(
      (async () => {
        for await (const _ of ex.run([1], { signal: run.signal })) void _;
      })(),
    ).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    expect(reasons).toEqual(['stop']);
  });

  it('ctx.call inside a timed stage is aborted by the timeout too', async () => {
    const inner = service('timed-inner', { limit: 1, timeoutMs: 0, retry: false });
    const innerSignals: AbortSignal[] = [];
    const outcomes = await collect<number>(
      {
        stages: [
          io(
            'outer',
            (_n: number, ctx) =>
              ctx.call(inner, (signal) => {
                innerSignals.push(signal);
                return aborted(signal);
              }),
            { concurrency: 1, timeoutMs: 30 },
          ),
        ],
      },
      [1],
    );
    expect(outcomes[0]).toMatchObject({ ok: false, error: { code: ErrorCodes.TIMEOUT, stage: 'outer' } });
    // The inner attempt saw its caller's timeout, and the service let its slot go.
    await new Promise((r) => setImmediate(r));
    expect(innerSignals[0]!.aborted).toBe(true);
    expect(innerSignals[0]!.reason).toMatchObject({ code: ErrorCodes.TIMEOUT, stage: 'outer' });
    expect(inner.stats()).toMatchObject({ inFlight: 0, calls: 1 });
  });

  it('times out a real request to a server that never answers', async () => {
    const server: Server = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const outcomes = await collect<number>(
      {
        stages: [
          io('get', (_n: number, ctx) => fetch(url, { signal: ctx.signal }).then((r) => r.text()), { concurrency: 2, timeoutMs: 50 }),
        ],
      },
      [1, 2],
    );
    expect(outcomes.map((o) => (o.ok ? 'ok' : (o.error as SluiceTimeoutError).code))).toEqual([ErrorCodes.TIMEOUT, ErrorCodes.TIMEOUT]);
  });
});

describe('the fast path: no timeoutMs', () => {
  it.each([
    ['unset', {}],
    ['0', { timeoutMs: 0 }],
  ])('timeoutMs %s: every task sees the run signal itself (no controller or timer per task)', async (_name, extra) => {
    const signals: AbortSignal[] = [];
    const outcomes = await collect<number>(
      {
        stages: [
          io(
            'plain',
            (n: number, ctx) => {
              signals.push(ctx.signal);
              return n;
            },
            { concurrency: 4, ...extra },
          ),
        ],
      },
      [1, 2, 3, 4, 5],
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(new Set(signals).size).toBe(1);
  });

  it('with timeoutMs, a task that finishes leaves no timer behind', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const outcomes = await collect<number>(
      { stages: [io('quick', async (n: number) => n, { concurrency: 4, timeoutMs: 60_000 })] },
      [1, 2, 3, 4, 5, 6],
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // A leak would leave one 60 s timer per task (6); other timers of the process may come and go.
    expect(timers()).toBeLessThan(before + 6);
  });
});

describe('timeoutMs options', () => {
  it('io() keeps it on the stage object', () => {
    const stage = io('s', async () => 1, { concurrency: 1, timeoutMs: 250 });
    expect(stage.timeoutMs).toBe(250);
  });

  it('refuses timeoutMs together with a service, naming the field', () => {
    const svc = service('timed-svc', { limit: 1 });
    expect(() => createExecutor({ stages: [io('x', async () => 1, { service: svc, timeoutMs: 100 })] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'stages[0].timeoutMs', received: 100 }),
    );
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '100', null])('refuses timeoutMs %j', (bad) => {
    expect(() => createExecutor({ stages: [io('x', async () => 1, { concurrency: 1, timeoutMs: bad as number })] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'stages[0].timeoutMs' }),
    );
  });

  it('SluiceTimeoutError still names a service the old way', () => {
    const e = new SluiceTimeoutError('docs', 500);
    expect(e).toMatchObject({ code: ErrorCodes.TIMEOUT, service: 'docs', stage: undefined, timeoutMs: 500 });
    expect(new SluiceTimeoutError({ stage: 'fetch' }, 5)).toMatchObject({ service: undefined, stage: 'fetch' });
  });
});
