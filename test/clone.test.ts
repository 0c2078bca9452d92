/**
 * Values that cannot cross between threads: a worker's result holding a function, a symbol, a
 * Promise or a stream, and an io stage handing such a value to a cpu stage. Each fails its own task
 * with ERR_SLUICE_DATA_CLONE naming the stage, the direction and the path of the culprit; the
 * thread survives and the pool keeps its capacity. Real Piscina pools; assertions on thread ids,
 * counters and error class/code/fields.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { findUncloneable, isCloneError } from '../src/wire/clone-path.js';
import { createExecutor, cpu, ErrorCodes, io, SluiceDataCloneError, type Executor, type Failed, type Outcome } from '../src/index.js';
import { createGate } from './fixtures/atomics-gate.js';
import type { UncloneableInput } from './fixtures/uncloneable.js';

const worker = new URL('./fixtures/uncloneable.ts', import.meta.url);

let executor: Executor<any, any> | undefined;
afterEach(async () => {
  await executor?.close();
  executor = undefined;
});

function start<T>(stages: Parameters<typeof createExecutor>[0]['stages']): Executor<T, { n: number; thread: number }> {
  const ex = createExecutor<T, { n: number; thread: number }>({ stages });
  executor = ex;
  return ex;
}

async function collect<T, R>(run: AsyncIterable<Outcome<T, R>>): Promise<Outcome<T, R>[]> {
  const outcomes: Outcome<T, R>[] = [];
  for await (const o of run) outcomes.push(o);
  return outcomes.sort((a, b) => a.index - b.index);
}

function cloneError(outcome: Outcome | undefined): SluiceDataCloneError {
  expect(outcome).toMatchObject({ ok: false, stage: 'compute' });
  const error = (outcome as Failed).error;
  expect(error).toBeInstanceOf(SluiceDataCloneError);
  expect(error).toMatchObject({ code: ErrorCodes.DATA_CLONE, stage: 'compute' });
  return error as SluiceDataCloneError;
}

/** The thread ids that answered the successful outcomes. */
function threads(outcomes: readonly Outcome<unknown, { thread: number }>[]): Set<number> {
  return new Set(outcomes.flatMap((o) => (o.ok ? [o.value.thread] : [])));
}

describe("a worker's result that cannot be cloned", () => {
  it('fails its task alone with ERR_SLUICE_DATA_CLONE (direction result, the path named); the same thread answers the next tasks', async () => {
    const inputs: UncloneableInput[] = [
      { n: 0 },
      { n: 1, make: 'function' },
      { n: 2 },
      { n: 3, make: 'stream' },
      { n: 4, make: 'promise' },
      { n: 5, make: 'nested-symbol' },
      { n: 6, make: 'with-buffer' }, // its buffer would be moved back: the post fails before any move
      { n: 7 },
    ];
    // One thread: a death would show as a second thread id (Piscina replaces the thread).
    const ex = start<UncloneableInput>([
      io('fetch', (t: UncloneableInput) => t, { concurrency: 2 }),
      cpu('compute', worker, { threads: 1 }),
    ]);
    const outcomes = await collect(ex.run(inputs));
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, false, false, false, false, true]);
    const expected: Array<[number, string, RegExp, string]> = [
      [1, 'result.f', /^a function \(f\)$/, 'DataCloneError'],
      [3, 'result.body.stream', /^a ReadableStream$/, 'TypeError'],
      [4, 'result.pending', /^a Promise$/, 'DataCloneError'],
      [5, 'result.items[1].deep', /^a symbol \(Symbol\(s\)\)$/, 'DataCloneError'],
      [6, 'result.f', /^a function \(named\)$/, 'DataCloneError'],
    ];
    for (const [index, path, received, causeName] of expected) {
      const error = cloneError(outcomes[index]);
      expect({ index, direction: error.direction, path: error.path }).toEqual({ index, direction: 'result', path });
      expect(error.received).toMatch(received);
      expect(error.cause).toBeInstanceOf(Error);
      expect((error.cause as Error).name).toBe(causeName);
      expect((outcomes[index] as Failed).attempts).toBe(1);
    }
    expect(outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value.n : undefined))).toEqual([0, 4, 14]);
    expect(threads(outcomes).size).toBe(1);
    expect(ex.stats().tasks).toMatchObject({ completed: 3, failed: 5, open: 0 });

    // And the thread is still the one that answers the next run: it never died.
    const [thread] = threads(outcomes);
    const later = await collect(ex.run([{ n: 10 }, { n: 11, make: 'function' }, { n: 12 }]));
    expect(threads(later)).toEqual(new Set([thread]));
    cloneError(later[1]);
  });

  it("leaves the worker's own posts alone: an uncloneable post on its own port throws to the worker as usual", async () => {
    const ex = start<UncloneableInput>([cpu('compute', worker, { threads: 1 })]);
    const outcomes = await collect(ex.run([{ n: 0 }, { n: 1, make: 'own-post' }, { n: 2 }]));
    expect(outcomes[1]).toMatchObject({ ok: true, value: { n: 1, caught: 'DataCloneError' } });
    expect(threads(outcomes).size).toBe(1);
  });

  it('an error thrown by the worker with uncloneable fields still arrives: message, code and the cloneable fields kept', async () => {
    const ex = start<UncloneableInput>([cpu('compute', worker, { threads: 1 })]);
    const outcomes = await collect(ex.run([{ n: 0 }, { n: 7, make: 'throw' }, { n: 1 }]));
    expect(outcomes[1]).toMatchObject({ ok: false, stage: 'compute' });
    const error = (outcomes[1] as Failed).error as Error & Record<string, unknown>;
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'FieldsError', message: 'failed with uncloneable fields 7', code: 'E_FIXTURE_FIELDS', n: 7 });
    expect(error.retry).toBeUndefined();
    expect(error.body).toBeUndefined();
    expect(threads(outcomes).size).toBe(1);
  });
});

describe('an input that cannot be cloned (an io stage hands it to a cpu stage)', () => {
  it('fails its task alone with ERR_SLUICE_DATA_CLONE (direction input, the path named), moves nothing, and leaves the pool whole', async () => {
    const sent = new Map<number, unknown>();
    const ex = start<UncloneableInput>([
      io(
        'fetch',
        (t: UncloneableInput): unknown => {
          let value: unknown = t;
          if (t.n % 3 === 1) value = { n: t.n, bytes: new Uint8Array(4096).fill(1), f: () => t.n };
          if (t.n % 3 === 2) value = { n: t.n, body: { stream: new ReadableStream() } };
          sent.set(t.n, value);
          return value;
        },
        { concurrency: 2 },
      ),
      // One task per message: the check below needs its two gated tasks on two threads at once,
      // which a batch would put on one thread, one after the other. (In a batch: test/cpu-batch.test.ts.)
      cpu('compute', worker, { threads: 2, batch: false }),
    ]);
    const outcomes = await collect(ex.run(Array.from({ length: 9 }, (_, n) => ({ n }))));
    for (const o of outcomes) {
      if (o.index % 3 === 0) {
        expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
        continue;
      }
      const error = cloneError(o);
      expect(error.direction).toBe('input');
      expect(error.path).toBe(o.index % 3 === 1 ? 'input.f' : 'input.body.stream');
      expect(error.message).toContain(error.path);
    }
    // The failed post moved nothing: the binary payload beside the function is still here.
    expect((sent.get(1) as { bytes: Uint8Array }).bytes.byteLength).toBe(4096);
    expect(ex.stats().tasks).toMatchObject({ completed: 3, failed: 6, open: 0 });
    for (const s of ex.stats().stages)
      expect({ name: s.name, active: s.active, running: s.running }).toEqual({ name: s.name, active: 0, running: 0 });

    // Both threads are still free: two tasks run at once, each held at its own gate.
    const gates = [createGate(), createGate()];
    const run = ex.run(gates.map((g, k) => ({ n: 3 * k, gate: g.buffer }))); // n % 3 === 0: passed on as it is
    const rest = collect(run);
    await Promise.all(gates.map((g) => g.entered()));
    for (const g of gates) g.release();
    const gated = await rest;
    expect(gated.map((o) => o.ok)).toEqual([true, true]);
    expect(threads(gated).size).toBe(2);
  });
});

describe('on a bridged stage (each task travels wrapped, with its index)', () => {
  it('names the same paths, from the input and the result as the job sees them', async () => {
    const progress: unknown[] = [];
    const ex = start<UncloneableInput>([
      io('fetch', (t: UncloneableInput): unknown => (t.n === 2 ? { n: 2, f: () => 2 } : t), { concurrency: 2 }),
      cpu('compute', worker, { threads: 1, onProgress: (e) => progress.push(e) }),
    ]);
    const outcomes = await collect(ex.run([{ n: 0 }, { n: 1, make: 'function' }, { n: 2 }, { n: 3 }]));
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    expect(cloneError(outcomes[1])).toMatchObject({ direction: 'result', path: 'result.f' });
    expect(cloneError(outcomes[2])).toMatchObject({ direction: 'input', path: 'input.f' });
    expect(threads(outcomes).size).toBe(1);
  });
});

describe('findUncloneable', () => {
  const fn = function lookup(): void {};
  class Holder {
    readonly label = 'x';
    readonly callback = fn;
  }
  const deep: Record<string, unknown> = {};
  let cursor = deep;
  for (let i = 0; i < 100; i++) cursor = cursor.next = {} as Record<string, unknown>;
  cursor.f = fn;
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cyclicBad: Record<string, unknown> = { a: 1 };
  cyclicBad.self = cyclicBad;
  cyclicBad.z = Symbol('z');

  it.each<[string, unknown, string, RegExp]>([
    ['a function', { f: fn }, 'v.f', /^a function \(lookup\)$/],
    ['an anonymous function', [() => 1], 'v[0]', /^a function \(anonymous\)$/],
    ['a symbol', { s: Symbol('k') }, 'v.s', /^a symbol \(Symbol\(k\)\)$/],
    ['a Promise', { p: Promise.resolve() }, 'v.p', /^a Promise$/],
    ['a WeakMap', { w: new WeakMap() }, 'v.w', /^a WeakMap$/],
    ['a WeakSet', { w: new WeakSet() }, 'v.w', /^a WeakSet$/],
    ['a WeakRef', { w: new WeakRef({}) }, 'v.w', /^a WeakRef$/],
    ['a Proxy', { p: new Proxy({}, {}) }, 'v.p', /^a Proxy$/],
    ['a ReadableStream', { body: { stream: new ReadableStream() } }, 'v.body.stream', /^a ReadableStream$/],
    ['a nested array member', { items: [1, [2, fn]] }, 'v.items[1][1]', /function/],
    ['a key that is not an identifier', { 'a b': fn }, 'v["a b"]', /function/],
    ['a Map value', { m: new Map([['k', fn]]) }, 'v.m.get("k")', /function/],
    ['a Map key', { m: new Map([[fn, 1]]) }, 'v.m.keys()[0]', /function/],
    ['a Set member', { s: new Set([1, fn]) }, 'v.s.values()[1]', /function/],
    ["an Error's cause", { e: new Error('x', { cause: { f: fn } }) }, 'v.e.cause.f', /function/],
    [
      'a getter that returns a function',
      {
        get g() {
          return fn;
        },
      },
      'v.g',
      /function/,
    ],
    ['a member of a class instance', { h: new Holder() }, 'v.h.callback', /^a function \(lookup\), inside a Holder at v\.h$/],
    ['the first of two, in clone order', { ok: 1, first: Symbol('1'), second: fn }, 'v.first', /symbol/],
    ['a member of a cyclic value', cyclicBad, 'v.z', /symbol/],
  ])('%s', (_label, value, path, received) => {
    expect(() => structuredClone(value)).toThrow();
    const found = findUncloneable(value, 'v');
    expect(found?.path).toBe(path);
    expect(found?.received).toMatch(received);
  });

  it('stops at a depth: names the deepest member it reached', () => {
    expect(() => structuredClone(deep)).toThrow();
    const found = findUncloneable(deep, 'v');
    expect(found?.path).toBe(`v${'.next'.repeat(64)}`);
    expect(found?.received).toBe('an Object (not searched deeper)');
  });

  it.each<[string, unknown]>([
    ['primitives', { s: 'x', n: 1, b: true, z: null, u: undefined, big: 1n }],
    [
      'binary data and dates',
      { buf: new ArrayBuffer(8), view: new Uint8Array(4), shared: new SharedArrayBuffer(4), d: new Date(0), r: /x/ },
    ],
    ['collections', { m: new Map([['k', { a: 1 }]]), s: new Set([1, 'x']), list: [1, [2, [3]]] }],
    ['an Error with a plain cause and a dropped function property', Object.assign(new Error('x', { cause: { a: 1 } }), { f: fn })],
    ['a cyclic value', cyclic],
    [
      'a class instance with plain members',
      new (class Point {
        x = 1;
        y = 2;
      })(),
    ],
    ['a symbol-keyed function (clone skips it)', { [Symbol('k')]: fn }],
  ])('finds nothing in a value that clones: %s', (_label, value) => {
    expect(() => structuredClone(value)).not.toThrow();
    expect(findUncloneable(value, 'v')).toBeUndefined();
  });

  it('isCloneError knows the errors a post raises for such values', () => {
    const raised = (value: unknown): unknown => {
      try {
        structuredClone(value);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(isCloneError(raised(fn))).toBe(true);
    expect(isCloneError(raised(new ReadableStream()))).toBe(true);
    expect(isCloneError(new Error('other'))).toBe(false);
    expect(isCloneError({ name: 'DataCloneError' })).toBe(false);
  });
});
