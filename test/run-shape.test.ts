/**
 * The seams of the scheduler as the public API sees them: stats() before any run has the shape
 * of a run's stats, every io path hands its function the same context, and a service stage's
 * failure reaches the outcome with its attempts while any other rejection counts one attempt.
 */
import { describe, expect, it } from 'vitest';
import { createExecutor, io, service, SluiceTaskError, type Outcome, type TaskContext } from '../src/index.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('stats() before any run', () => {
  it('is the zeros of a run, in the shape a run reports, with capacities read now', async () => {
    const svc = service('shape-svc', { limit: 3, retry: false });
    const ex = createExecutor({
      stages: [
        io('a', async (x: number) => x, { concurrency: 2 }),
        io('b', async (x: number) => x, { service: svc }),
        io('c', async (x: number) => x, { concurrency: 1, timeoutMs: 1000 }),
      ],
      buffer: 4,
      outputBuffer: 5,
    });
    const before = ex.stats();
    expect(before).toEqual({
      stages: [
        {
          name: 'a',
          kind: 'io',
          capacity: 2,
          active: 0,
          peakActive: 0,
          peakCapacity: 0,
          running: 0,
          peakRunning: 0,
          completed: 0,
          failed: 0,
        },
        {
          name: 'b',
          kind: 'io',
          capacity: 3,
          active: 0,
          peakActive: 0,
          peakCapacity: 0,
          running: 0,
          peakRunning: 0,
          completed: 0,
          failed: 0,
        },
        {
          name: 'c',
          kind: 'io',
          capacity: 1,
          active: 0,
          peakActive: 0,
          peakCapacity: 0,
          running: 0,
          peakRunning: 0,
          completed: 0,
          failed: 0,
        },
      ],
      buffers: [
        { name: 'a→b', size: 0, peak: 0, bound: 4, peakBound: 0 },
        { name: 'b→c', size: 0, peak: 0, bound: 4, peakBound: 0 },
        { name: 'output', size: 0, peak: 0, bound: 5, peakBound: 0 },
      ],
      buffered: { size: 0, peak: 0 },
      tasks: { pulled: 0, open: 0, peakOpen: 0, completed: 0, failed: 0 },
      mainThread: { utilization: 0, recentUtilization: 0 },
    });
    // Asking changes nothing, and a run over an empty input reports exactly the same.
    expect(ex.stats()).toEqual(before);
    expect(await collect(ex.run([]))).toEqual([]);
    expect(ex.stats()).toEqual(before);
    // The same keys, in the same order, as a run that moved work.
    expect(await collect(ex.run([1, 2, 3]))).toHaveLength(3);
    const after = ex.stats();
    expect(after.tasks).toEqual({ pulled: 3, open: 0, peakOpen: after.tasks.peakOpen, completed: 3, failed: 0 });
    const keys = (s: object): unknown => JSON.parse(JSON.stringify(s, (_, v: unknown) => (typeof v === 'number' ? 0 : v)));
    expect(JSON.stringify(keys(after))).toBe(JSON.stringify(keys(before)));
    await ex.close();
  });
});

describe('the context of an io function', () => {
  const seen: Array<{ keys: string[]; ctx: TaskContext }> = [];
  const record = (x: number, ctx: TaskContext): number => {
    seen.push({ keys: Object.keys(ctx), ctx });
    return x;
  };

  it('has the same fields on the plain, timed and service paths, and a call that works detached', async () => {
    seen.length = 0;
    const other = service('ctx-other', { limit: 1, retry: false });
    const svc = service('ctx-svc', { limit: 1, retry: false });
    const viaCall = async (x: number, ctx: TaskContext): Promise<number> => {
      const { call } = ctx;
      return call(other, () => record(x, ctx) + 1);
    };
    const ex = createExecutor<number, number>({
      stages: [
        io('plain', viaCall, { concurrency: 1 }),
        io('timed', viaCall, { concurrency: 1, timeoutMs: 5000 }),
        io('svc', viaCall, { service: svc }),
      ],
    });
    const outcomes = await collect(ex.run([10, 20]));
    expect(outcomes.map((o) => (o.ok ? o.value : o.error))).toEqual([13, 23]);
    await ex.close();
    expect(seen).toHaveLength(6);
    for (const { keys, ctx } of seen) {
      expect(keys).toEqual(['task', 'index', 'stage', 'signal', 'attempt', 'call']);
      expect(ctx.attempt).toBe(1);
      expect(ctx.signal).toBeInstanceOf(AbortSignal);
      expect(typeof ctx.call).toBe('function');
    }
    expect(seen.map(({ ctx }) => [ctx.stage, ctx.index, ctx.task])).toEqual(
      expect.arrayContaining([
        ['plain', 0, 10],
        ['plain', 1, 20],
        ['timed', 0, 10],
        ['timed', 1, 20],
        ['svc', 0, 10],
        ['svc', 1, 20],
      ]),
    );
    expect(other.stats()).toMatchObject({ calls: 6, successes: 6 });
  });
});

describe('a failed task reaches its outcome with its attempts', () => {
  const reset = (): Error => Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });

  it('a service stage counts the attempts its service made; any other stage counts one', async () => {
    const svc = service('attempts-svc', { limit: 1, retry: { attempts: 3, baseMs: 0, maxMs: 0 } });
    const thrown: Error[] = [];
    const ex = createExecutor<number, number>({
      stages: [
        io(
          'first',
          (x: number) => {
            if (x === 1) throw new RangeError('plain');
            return x;
          },
          { concurrency: 2 },
        ),
        io(
          'svc',
          (x: number) => {
            if (x === 2) {
              const e = reset();
              thrown.push(e);
              throw e;
            }
            return x;
          },
          { service: svc },
        ),
      ],
      ordered: true,
    });
    const outcomes: Outcome<number, number>[] = await collect(ex.run([0, 1, 2]));
    await ex.close();
    expect(outcomes[0]).toEqual({ ok: true, task: 0, index: 0, value: 0 });
    expect(outcomes[1]).toMatchObject({ ok: false, index: 1, stage: 'first', attempts: 1 });
    expect(outcomes[1]!.ok === false && outcomes[1]!.error).toBeInstanceOf(RangeError);
    expect(thrown).toHaveLength(3);
    expect(outcomes[2]).toEqual({ ok: false, task: 2, index: 2, stage: 'svc', error: thrown[2], attempts: 3 });
    expect(svc.stats()).toMatchObject({ calls: 2, attempts: 4, successes: 1, dropped: 3, retries: 2, failed: 1 });
  });

  it('stopOnError ends the run with a SluiceTaskError whose outcome carries the attempts', async () => {
    const svc = service('stop-svc', { limit: 1, retry: { attempts: 2, baseMs: 0, maxMs: 0 } });
    const ex = createExecutor<number, number>({
      stages: [
        io(
          'svc',
          () => {
            throw reset();
          },
          { service: svc },
        ),
      ],
      stopOnError: true,
    });
    const error = await collect(ex.run([7])).then(
      () => undefined,
      (e: unknown) => e,
    );
    await ex.close();
    expect(error).toBeInstanceOf(SluiceTaskError);
    expect((error as SluiceTaskError).outcome).toMatchObject({ ok: false, index: 0, task: 7, stage: 'svc', attempts: 2 });
    expect((error as SluiceTaskError).outcome.error).toMatchObject({ code: 'ECONNRESET' });
  });
});
