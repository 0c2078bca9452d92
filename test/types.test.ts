/**
 * Type tests of the main generics. `expectTypeOf` checks types only: these fail in `npm test`'s
 * type-check (`tsc -p tsconfig.json`, which includes test/), where a wrong type is a compile
 * error. Each case also runs its pipeline, so the types are checked against real outcomes.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  cpu,
  createExecutor,
  io,
  type Completed,
  type CpuStage,
  type Executor,
  type IoStage,
  type Outcome,
  type Stage,
} from '../src/index.js';

const doubleWorker = new URL('./fixtures/double.ts', import.meta.url);

async function collect<T, R>(executor: Executor<T, R>, input: readonly T[]): Promise<Array<Outcome<T, R>>> {
  const out: Array<Outcome<T, R>> = [];
  try {
    for await (const outcome of executor.run(input)) out.push(outcome);
  } finally {
    await executor.close();
  }
  return out.sort((a, b) => a.index - b.index);
}

describe("a pipeline's types", () => {
  it('types stages by their functions: io(name, fn) is an IoStage of its input and result', () => {
    const parse = io('parse', async (line: string) => line.length, { concurrency: 1 });
    expectTypeOf(parse).toEqualTypeOf<IoStage<string, number>>();
    const hash = cpu<{ n: number }, { n: number }>('hash', doubleWorker, { threads: 1 });
    expectTypeOf(hash).toEqualTypeOf<CpuStage<{ n: number }, { n: number }>>();
    // Both are still plain stages.
    expectTypeOf(parse).toMatchTypeOf<Stage>();
    expectTypeOf(hash).toMatchTypeOf<Stage>();
  });

  it('types the outcomes by the last stage and the input by the first (io → io)', async () => {
    const executor = createExecutor({
      stages: [io('length', async (s: string) => s.length, { concurrency: 2 }), io('even', (n: number) => n % 2 === 0, { concurrency: 2 })],
    });
    expectTypeOf(executor).toEqualTypeOf<Executor<string, boolean>>();
    const outcomes = await collect(executor, ['a', 'bb', 'ccc']);
    const values = outcomes.map((o) => (o.ok ? o.value : undefined));
    expectTypeOf(values).toEqualTypeOf<Array<boolean | undefined>>();
    expect(values).toEqual([false, true, false]);
  });

  it('types the outcomes by a last cpu stage, as cpu<I, O> says', async () => {
    const executor = createExecutor({
      stages: [
        io('wrap', (n: number) => ({ n }), { concurrency: 2 }),
        cpu<{ n: number }, { n: number }>('double', doubleWorker, { threads: 1 }),
      ],
    });
    expectTypeOf(executor).toEqualTypeOf<Executor<number, { n: number }>>();
    const outcomes = await collect(executor, [1, 2, 3]);
    const completed = outcomes.filter((o): o is Completed<number, { n: number }> => o.ok);
    expectTypeOf(completed[0]!.value).toEqualTypeOf<{ n: number }>();
    expect(completed.map((o) => o.value.n)).toEqual([2, 4, 6]);
  });

  it('leaves an unsaid cpu result as any, so a typed variable still takes the executor', async () => {
    const executor: Executor<{ n: number }, { n: number }> = createExecutor({ stages: [cpu('double', doubleWorker, { threads: 1 })] });
    expectTypeOf(createExecutor({ stages: [cpu('double', doubleWorker, { threads: 1 })] })).toEqualTypeOf<Executor<any, any>>();
    const outcomes = await collect(executor, [{ n: 4 }]);
    expect(outcomes[0]).toMatchObject({ ok: true, value: { n: 8 } });
  });

  it('keeps explicit type arguments, and a stage list typed as Stage[] gives unknown outcomes', async () => {
    const stages: Stage[] = [io('echo', (x: unknown) => x, { concurrency: 1 })];
    const loose = createExecutor({ stages });
    expectTypeOf(loose).toEqualTypeOf<Executor<unknown, unknown>>();
    await loose.close();
    const explicit = createExecutor<number, string>({ stages: [io('show', (n: number) => String(n), { concurrency: 1 })] });
    expectTypeOf(explicit).toEqualTypeOf<Executor<number, string>>();
    const outcomes = await collect(explicit, [7]);
    expect(outcomes[0]).toMatchObject({ ok: true, value: '7' });
  });
});
