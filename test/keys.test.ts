/**
 * Task keys: a run's `key(task, index)` (default `String(index)`) is called once per task as it is
 * pulled; every stage sees it (`ctx.key` in io stages on every path, in workers of plain and bridged
 * cpu stages, `this.key` in exposed functions) and every outcome carries it (a run without a key
 * function leaves `outcome.key` undefined: the key is then `String(index)`). A key function that
 * throws or returns no non-empty string fails that task alone, without running it. `defineJob`
 * takes a `key(task)`. Real Piscina pools (worker modules written to a temporary folder); assertions
 * on traces, counters and error class/code/fields.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutor,
  cpu,
  defineJob,
  ErrorCodes,
  io,
  service,
  SluiceOptionError,
  SluiceTaskError,
  type Executor,
  type Failed,
  type HostCallContext,
  type Outcome,
  type TaskContext,
} from '../src/index.js';

/** What a worker saw: its index, key and context's fields; `viaHost` asks an exposed function for `this.key`. */
const WORKER = `
export default function seen(input, ctx) {
  return { input, index: ctx.index, key: ctx.key, ctxKeys: Object.keys(ctx).sort() };
}
export async function viaHost(input, ctx) {
  return { input, index: ctx.index, key: ctx.key, hostKey: await ctx.host().whoAmI(), ctxKeys: Object.keys(ctx).sort() };
}
`;

interface Seen {
  readonly input: unknown;
  readonly index: number;
  readonly key: string;
  readonly hostKey?: string;
  readonly ctxKeys: string[];
}

let dir: string;
let worker: URL;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
  const file = join(dir, 'keys.worker.mjs');
  writeFileSync(file, WORKER);
  worker = pathToFileURL(file);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let executor: Executor<any, any> | undefined;
afterEach(async () => {
  await executor?.close();
  executor = undefined;
});

async function collect<T, R>(run: AsyncIterable<Outcome<T, R>>): Promise<Outcome<T, R>[]> {
  const outcomes: Outcome<T, R>[] = [];
  for await (const o of run) outcomes.push(o);
  return outcomes.sort((a, b) => a.index - b.index);
}

/** An io stage that records `[stage, index, key]` of each call and passes its input on. */
function recorder(trace: Array<[string, number, string]>) {
  return <T>(input: T, ctx: TaskContext): T => {
    trace.push([ctx.stage, ctx.index, ctx.key]);
    return input;
  };
}

const whoAmI = function (this: HostCallContext): string {
  return this.key;
};

describe('the key every stage sees', () => {
  it('defaults to String(index): io stages (fixed, timed, service), plain and bridged cpu workers, exposed functions', async () => {
    const trace: Array<[string, number, string]> = [];
    const svc = service('keys-svc', { limit: 2, retry: false });
    const ex = createExecutor<string, Seen>({
      stages: [
        io('fixed', recorder(trace), { concurrency: 2 }),
        io('timed', recorder(trace), { concurrency: 2, timeoutMs: 60_000 }),
        io('svc', recorder(trace), { service: svc }),
        cpu('plain', worker, { threads: 1 }),
        io('unwrap', (s: Seen) => s.input, { concurrency: 1 }),
        cpu('bridged', worker, { threads: 1, exportName: 'viaHost', expose: { whoAmI } }),
      ],
    });
    executor = ex;
    const outcomes = await collect(ex.run(['a', 'b', 'c']));

    // Without a key function the outcome carries none: its key is String(index).
    expect(outcomes.map((o) => [o.index, o.key])).toEqual([
      [0, undefined],
      [1, undefined],
      [2, undefined],
    ]);
    expect(outcomes.map((o) => (o.ok ? o.value : o.error))).toEqual(
      ['a', 'b', 'c'].map((input, i) => ({
        input,
        index: i,
        key: String(i),
        hostKey: String(i),
        ctxKeys: ['host', 'index', 'key', 'progress'],
      })),
    );
    expect([...trace].sort()).toEqual(['fixed', 'svc', 'timed'].flatMap((stage) => [0, 1, 2].map((i) => [stage, i, String(i)])).sort());
  });

  it("is the run's key(task, index), called once per task, the same in every stage and on the outcome (failures too)", async () => {
    const trace: Array<[string, number, string]> = [];
    const calls: Array<[unknown, number]> = [];
    const ex = createExecutor<{ id: string; bad?: boolean }, Seen>({
      stages: [
        io('fetch', recorder(trace), { concurrency: 2 }),
        cpu('parse', worker, { threads: 2 }),
        io(
          'store',
          (s: Seen, ctx: TaskContext) => {
            trace.push([ctx.stage, ctx.index, ctx.key]);
            if ((s.input as { bad?: boolean }).bad) throw new Error('store refused');
            return s;
          },
          { concurrency: 1 },
        ),
      ],
    });
    executor = ex;
    const tasks = [{ id: 'doc-a' }, { id: 'doc-b', bad: true }, { id: 'doc-c' }, { id: 'doc-d' }];
    const outcomes = await collect(
      ex.run(tasks, {
        key: (task, index) => {
          calls.push([task, index]);
          return `${task.id}@${index}`;
        },
      }),
    );

    expect(calls).toEqual(tasks.map((t, i) => [t, i]));
    const keys = tasks.map((t, i) => `${t.id}@${i}`);
    expect(outcomes.map((o) => o.key)).toEqual(keys);
    expect(outcomes[1]).toMatchObject({ ok: false, stage: 'store', key: 'doc-b@1' });
    for (const i of [0, 2, 3]) expect(outcomes[i]).toMatchObject({ ok: true, value: { index: i, key: keys[i] } });
    for (const [, index, key] of trace) expect(key).toBe(keys[index]);
    expect(trace).toHaveLength(8);
  });
});

describe('a key that is not a non-empty string', () => {
  const bad: ReadonlyArray<[string, (n: number) => string]> = [
    ['an empty string', () => ''],
    ['a number', (n) => n as unknown as string],
    ['undefined', () => undefined as unknown as string],
  ];

  it.each(bad)(
    '(%s) fails that task alone with SluiceOptionError naming key, without running it; the others complete',
    async (_label, keyOf) => {
      const ran: number[] = [];
      const ex = createExecutor<number, number>({
        stages: [
          io(
            'first',
            (n: number) => {
              ran.push(n);
              return n * 2;
            },
            { concurrency: 2 },
          ),
          io('second', (n: number) => n + 1, { concurrency: 1 }),
        ],
        ordered: true,
      });
      executor = ex;
      const outcomes: Outcome<number, number>[] = [];
      for await (const o of ex.run([0, 1, 2, 3, 4], { key: (n, i) => (n === 2 ? keyOf(n) : `k${i}`) })) outcomes.push(o);

      // ordered: in input order, the refused task in its place
      expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3, 4]);
      const refused = outcomes[2] as Failed<number>;
      expect(refused).toMatchObject({ ok: false, index: 2, task: 2, stage: 'first', attempts: 0, key: undefined });
      expect(refused.error).toBeInstanceOf(SluiceOptionError);
      expect(refused.error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'key', received: keyOf(2) });
      expect(ran.sort()).toEqual([0, 1, 3, 4]);
      for (const i of [0, 1, 3, 4]) expect(outcomes[i]).toMatchObject({ ok: true, key: `k${i}`, value: i * 2 + 1 });
      expect(ex.stats().tasks).toMatchObject({ pulled: 5, completed: 4, failed: 1, open: 0 });
      expect(ex.stats().stages.map((s) => [s.name, s.completed, s.failed, s.active, s.running])).toEqual([
        ['first', 4, 1, 0, 0],
        ['second', 4, 0, 0, 0],
      ]);
    },
  );

  it('a key function that throws fails that task with what it threw', async () => {
    const boom = new Error('no id');
    const ex = createExecutor<{ id?: string }, unknown>({ stages: [io('first', (t: unknown) => t, { concurrency: 2 })] });
    executor = ex;
    const outcomes = await collect(
      ex.run([{ id: 'a' }, {}, { id: 'c' }], {
        key: (t) => {
          if (t.id === undefined) throw boom;
          return t.id;
        },
      }),
    );
    expect(outcomes.map((o) => [o.ok, o.key])).toEqual([
      [true, 'a'],
      [false, undefined],
      [true, 'c'],
    ]);
    expect(outcomes[1]).toMatchObject({ stage: 'first', attempts: 0, error: boom });
  });

  it('with stopOnError, ends the run with SluiceTaskError carrying the refused outcome', async () => {
    const ex = createExecutor<number, number>({ stages: [io('first', (n: number) => n, { concurrency: 1 })], stopOnError: true });
    executor = ex;
    const seen: Outcome<number, number>[] = [];
    let caught: unknown;
    try {
      for await (const o of ex.run([0, 1, 2], { key: (n) => (n === 1 ? '' : String(n)) })) seen.push(o);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceTaskError);
    expect((caught as SluiceTaskError).outcome).toMatchObject({ index: 1, stage: 'first', attempts: 0, key: undefined });
    expect(((caught as SluiceTaskError).outcome.error as SluiceOptionError).option).toBe('key');
    expect(seen.every((o) => o.ok)).toBe(true);
  });
});

describe('validation', () => {
  it.each<unknown>(['id', 5, null, {}])('run(input, { key: %s }) is refused, naming key', (key) => {
    const ex = createExecutor({ stages: [io('s', (x: unknown) => x, { concurrency: 1 })] });
    executor = ex;
    let caught: unknown;
    try {
      ex.run([1], { key: key as never });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceOptionError);
    expect(caught).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'key', received: key });
  });

  it('defineJob takes key(task) and refuses a key that is not a function, naming job.key', () => {
    const key = (t: { id: string }): string => t.id;
    const job = defineJob<{ id: string }>({ stages: [io('s', (x: unknown) => x, { concurrency: 1 })], key });
    expect(job.key).toBe(key);
    let caught: unknown;
    try {
      defineJob({ stages: [io('s', (x: unknown) => x, { concurrency: 1 })], key: 'id' as never });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceOptionError);
    expect(caught).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'job.key', received: 'id' });
  });
});
