/**
 * Bad input is refused up front with an error that names the option, what was expected and what
 * was received; misuse of an executor's state (two runs at once, a run after close) is refused too.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createExecutor,
  cpu,
  ErrorCodes,
  io,
  SluiceOptionError,
  SluiceStateError,
  type ExecutorOptions,
  type Outcome,
} from '../src/index.js';

const doubleWorker = new URL('./fixtures/double.ts', import.meta.url);
const ok = io('ok', (x: unknown) => x, { concurrency: 1 });

/** Calls `fn`, expects a SluiceOptionError, and returns it. */
function optionError(fn: () => unknown): SluiceOptionError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(SluiceOptionError);
  const e = thrown as SluiceOptionError;
  expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
  expect(e.message).toContain(e.option);
  expect(typeof e.expected).toBe('string');
  expect(e.expected.length).toBeGreaterThan(0);
  return e;
}

function bad(options: unknown): SluiceOptionError {
  return optionError(() => createExecutor(options as ExecutorOptions));
}

describe('createExecutor refuses invalid options with SluiceOptionError', () => {
  it.each([
    ['zero', 0],
    ['fractional', 1.5],
    ['string', '2'],
    ['negative', -1],
    ['NaN', Number.NaN],
    ['missing', undefined],
  ])('io concurrency: %s', (_label, concurrency) => {
    const e = bad({ stages: [io('fetch', (x: unknown) => x, { concurrency: concurrency as number })] });
    expect(e.option).toBe('stages[0].concurrency');
    expect(e.received).toBe(concurrency);
  });

  it('names the path of a later stage', () => {
    const e = bad({ stages: [ok, io('store', (x: unknown) => x, { concurrency: 0 })] });
    expect(e.option).toBe('stages[1].concurrency');
    expect(e.received).toBe(0);
  });

  it.each([
    ['zero', 0],
    ['fractional', 2.5],
    ['string', '4'],
  ])('cpu threads: %s', (_label, threads) => {
    const e = bad({ stages: [cpu('compute', doubleWorker, { threads: threads as number })] });
    expect(e.option).toBe('stages[0].threads');
    expect(e.received).toBe(threads);
  });

  it('a worker file that does not exist', () => {
    const missing = fileURLToPath(new URL('./fixtures/no-such-worker.ts', import.meta.url));
    const e = bad({ stages: [cpu('compute', missing)] });
    expect(e.option).toBe('stages[0].file');
    expect(e.received).toBe(missing);
  });

  it('a file: URL that does not exist', () => {
    const missing = new URL('./fixtures/no-such-worker.ts', import.meta.url);
    const e = bad({ stages: [cpu('compute', missing)] });
    expect(e.option).toBe('stages[0].file');
    expect(e.received).toBe(missing);
  });

  it('a directory instead of a worker file', () => {
    const dir = fileURLToPath(new URL('./fixtures/', import.meta.url));
    const e = bad({ stages: [cpu('compute', dir)] });
    expect(e.option).toBe('stages[0].file');
  });

  it('a relative worker path', () => {
    const e = bad({ stages: [cpu('compute', './test/fixtures/double.ts')] });
    expect(e.option).toBe('stages[0].file');
    expect(e.received).toBe('./test/fixtures/double.ts');
  });

  it.each([
    ['URL object', new URL('https://example.com/worker.js')],
    ['data: URL string', 'data:text/javascript,export default () => 1'],
    ['http URL string', 'http://127.0.0.1/worker.js'],
  ])('a worker location that is not a file: %s', (_label, file) => {
    const e = bad({ stages: [cpu('compute', file)] });
    expect(e.option).toBe('stages[0].file');
    expect(e.received).toBe(file);
  });

  it('a worker file that is not a string or URL', () => {
    const e = bad({ stages: [cpu('compute', 42 as unknown as string)] });
    expect(e.option).toBe('stages[0].file');
    expect(e.received).toBe(42);
  });

  it('an exportName that is not a non-empty string', () => {
    expect(bad({ stages: [cpu('compute', doubleWorker, { exportName: '' })] }).option).toBe('stages[0].exportName');
    expect(bad({ stages: [cpu('compute', doubleWorker, { exportName: 7 as unknown as string })] }).option).toBe('stages[0].exportName');
  });

  it('an unknown stage kind', () => {
    const e = bad({ stages: [ok, { kind: 'gpu', name: 'render' }] });
    expect(e.option).toBe('stages[1].kind');
    expect(e.received).toBe('gpu');
  });

  it('a stage that is not an object', () => {
    const e = bad({ stages: [ok, 'fetch'] });
    expect(e.option).toBe('stages[1]');
    expect(e.received).toBe('fetch');
  });

  it('an io stage without a function', () => {
    const e = bad({ stages: [{ kind: 'io', name: 'fetch', fn: 'nope', concurrency: 1 }] });
    expect(e.option).toBe('stages[0].fn');
    expect(e.received).toBe('nope');
  });

  it('a stage without a name', () => {
    const e = bad({ stages: [io('', (x: unknown) => x, { concurrency: 1 })] });
    expect(e.option).toBe('stages[0].name');
    expect(e.received).toBe('');
  });

  it('duplicate stage names', () => {
    const e = bad({ stages: [io('step', (x: unknown) => x, { concurrency: 1 }), cpu('step', doubleWorker, { threads: 1 })] });
    expect(e.option).toBe('stages[1].name');
    expect(e.received).toBe('step');
  });

  it.each([
    ['empty', []],
    ['missing', undefined],
    ['not an array', { 0: 'x' }],
  ])('stages: %s', (_label, stages) => {
    const e = bad({ stages });
    expect(e.option).toBe('stages');
    expect(e.received).toEqual(stages);
  });

  it('options that are not an object', () => {
    expect(bad(null).option).toBe('options');
    expect(bad('stages').option).toBe('options');
  });

  it('an unknown top-level option', () => {
    const e = bad({ stages: [ok], concurrency: 4 });
    expect(e.option).toBe('concurrency');
  });

  it.each([
    ['buffer', 0],
    ['buffer', '4'],
    ['buffer', 1.5],
    ['outputBuffer', 0],
    ['outputBuffer', null],
    ['window', 0],
    ['window', 2.5],
    ['window', '8'],
    ['ordered', 'yes'],
    ['ordered', 1],
    ['stopOnError', 'true'],
    ['stopOnError', 0],
  ])('%s: %j', (option, value) => {
    const e = bad({ stages: [ok, io('store', (x: unknown) => x, { concurrency: 1 })], [option]: value });
    expect(e.option).toBe(option);
    expect(e.received).toBe(value);
  });

  it('cpu transfer and resourceLimits of the wrong type', () => {
    expect(bad({ stages: [cpu('c', doubleWorker, { transfer: 'no' as unknown as boolean })] }).option).toBe('stages[0].transfer');
    expect(bad({ stages: [cpu('c', doubleWorker, { resourceLimits: 5 as unknown as object })] }).option).toBe('stages[0].resourceLimits');
  });
});

describe('run() refuses bad input with SluiceOptionError', () => {
  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a plain object', { 0: 'a', length: 1 }],
  ])('input that is not iterable: %s', async (_label, input) => {
    const ex = createExecutor({ stages: [ok] });
    try {
      const e = optionError(() => ex.run(input as unknown as Iterable<unknown>));
      expect(e.option).toBe('input');
      expect(e.received).toBe(input);
    } finally {
      await ex.close();
    }
  });

  it('a signal that is not an AbortSignal', async () => {
    const ex = createExecutor({ stages: [ok] });
    try {
      const fake = { aborted: false, addEventListener() {} };
      const e = optionError(() => ex.run([1], { signal: fake as unknown as AbortSignal }));
      expect(e.option).toBe('signal');
      expect(e.received).toBe(fake);
      expect(optionError(() => ex.run([1], 'now' as unknown as { signal: AbortSignal })).received).toBe('now');
      // Nothing was started: a good run works.
      const outcomes: Outcome[] = [];
      for await (const o of ex.run([1])) outcomes.push(o);
      expect(outcomes).toEqual([{ ok: true, task: 1, index: 0, value: 1 }]);
    } finally {
      await ex.close();
    }
  });
});

describe('executor state', () => {
  function* endless(): Generator<number> {
    for (let n = 0; ; n++) yield n;
  }

  it('a second run while one is active throws SluiceStateError ERR_SLUICE_RUN_ACTIVE', async () => {
    const ex = createExecutor({ stages: [io('fetch', (x: unknown) => x, { concurrency: 2 })] });
    try {
      const first = ex.run(endless());
      expect(await first.next()).toMatchObject({ done: false, value: { ok: true, index: 0 } });
      let thrown: unknown;
      try {
        ex.run([1]);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SluiceStateError);
      expect((thrown as SluiceStateError).code).toBe(ErrorCodes.RUN_ACTIVE);
      await first.return!();
      // Once the first run is over, a new one starts.
      const outcomes: Outcome[] = [];
      for await (const o of ex.run([7])) outcomes.push(o);
      expect(outcomes).toEqual([{ ok: true, task: 7, index: 0, value: 7 }]);
    } finally {
      await ex.close();
    }
  });

  it('two runs created before either starts: the second to start rejects with ERR_SLUICE_RUN_ACTIVE', async () => {
    const ex = createExecutor({ stages: [io('fetch', (x: unknown) => x, { concurrency: 2 })] });
    try {
      const a = ex.run(endless());
      const b = ex.run([1, 2]);
      expect(await a.next()).toMatchObject({ done: false });
      const error = await b.next().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SluiceStateError);
      expect((error as SluiceStateError).code).toBe(ErrorCodes.RUN_ACTIVE);
      // The refused run did not disturb the active one.
      expect(await a.next()).toMatchObject({ done: false, value: { ok: true } });
      await a.return!();
    } finally {
      await ex.close();
    }
  });

  it('run after close throws SluiceStateError ERR_SLUICE_CLOSED; close is idempotent', async () => {
    const ex = createExecutor({
      stages: [io('fetch', (x: unknown) => x, { concurrency: 1 }), cpu('compute', doubleWorker, { threads: 1 })],
    });
    const created = ex.run([{ n: 1 }]);
    await ex.close();
    await ex.close();
    let thrown: unknown;
    try {
      ex.run([{ n: 1 }]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SluiceStateError);
    expect((thrown as SluiceStateError).code).toBe(ErrorCodes.CLOSED);
    // A run created before close cannot start after it.
    await expect(created.next()).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
  });
});
