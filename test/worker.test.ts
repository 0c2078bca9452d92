/**
 * cpu stages and their worker threads: a thread that dies mid-task, a module that cannot load or
 * lacks the named export (a job error that ends the run), TypeScript worker files, and close()
 * leaving no handle behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createExecutor, cpu, ErrorCodes, io, SluiceWorkerError, type Executor, type Failed, type Outcome } from '../src/index.js';

const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);

interface Task {
  readonly n: number;
  readonly crash?: boolean;
}

async function collect<T, R>(run: AsyncIterable<Outcome<T, R>>): Promise<Outcome<T, R>[]> {
  const outcomes: Outcome<T, R>[] = [];
  for await (const o of run) outcomes.push(o);
  return outcomes.sort((a, b) => a.index - b.index);
}

function tasks(count: number, crashAt: readonly number[] = []): Task[] {
  return Array.from({ length: count }, (_, n) => (crashAt.includes(n) ? { n, crash: true } : { n }));
}

function expectDoubled(outcomes: readonly Outcome<Task, { n: number }>[], indexes: readonly number[]): void {
  for (const i of indexes) {
    expect(outcomes[i]).toEqual({ ok: true, task: outcomes[i]!.task, index: i, value: { n: 2 * i } });
  }
}

function expectWorkerError(outcome: Outcome | undefined, code: string, stage: string): SluiceWorkerError {
  expect(outcome).toMatchObject({ ok: false, stage });
  const error = (outcome as Failed).error;
  expect(error).toBeInstanceOf(SluiceWorkerError);
  expect((error as SluiceWorkerError).code).toBe(code);
  expect((error as SluiceWorkerError).stage).toBe(stage);
  return error as SluiceWorkerError;
}

function expectIdle(ex: Executor): void {
  for (const s of ex.stats().stages) {
    expect({ stage: s.name, active: s.active, running: s.running }).toEqual({ stage: s.name, active: 0, running: 0 });
  }
}

describe('a worker thread that dies during a task', () => {
  it.each([
    ['process.exit(1)', 'crash-exit.ts'],
    ['an uncaught exception thrown from a timer', 'crash-async.ts'],
  ])('%s: that task fails with ERR_SLUICE_WORKER_CRASHED, the others complete, the pool recovers', async (_label, file) => {
    // One thread: every task after a crash needs the replacement thread.
    const ex = createExecutor<Task, { n: number }>({
      stages: [io<Task, Task>('fetch', (t) => t, { concurrency: 2 }), cpu('compute', fixture(file), { threads: 1 })],
    });
    try {
      const outcomes = await collect(ex.run(tasks(8, [2, 5])));
      expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      for (const i of [2, 5]) {
        const error = expectWorkerError(outcomes[i], ErrorCodes.WORKER_CRASHED, 'compute');
        expect(error.cause).toBeInstanceOf(Error);
      }
      expectDoubled(outcomes, [0, 1, 3, 4, 6, 7]);
      expect(ex.stats().tasks).toMatchObject({ completed: 6, failed: 2, open: 0 });
      expectIdle(ex);

      const later = await collect(ex.run(tasks(4)));
      expectDoubled(later, [0, 1, 2, 3]);
    } finally {
      await ex.close();
    }
  });

  it('with several threads, only the crashed task fails', async () => {
    const ex = createExecutor<Task, { n: number }>({
      stages: [cpu('compute', fixture('crash-exit.ts'), { threads: 2 })],
    });
    try {
      const outcomes = await collect(ex.run(tasks(12, [4])));
      expectWorkerError(outcomes[4], ErrorCodes.WORKER_CRASHED, 'compute');
      expectDoubled(
        outcomes,
        outcomes.map((o) => o.index).filter((i) => i !== 4),
      );
      expect(outcomes).toHaveLength(12);
    } finally {
      await ex.close();
    }
  });
});

describe('a worker module that cannot serve: a job error, not N failed tasks', () => {
  /** Tasks 0, 1, 2, ... pulled one at a time, counting the pulls; never ends by itself. */
  function endless(): { readonly tasks: Iterable<Task>; pulled(): number } {
    let pulled = 0;
    return {
      tasks: (function* () {
        for (let n = 0; ; n++) {
          pulled += 1;
          yield { n };
        }
      })(),
      pulled: () => pulled,
    };
  }

  /** Everything the run may hold at once: every stage's capacity, every buffer and the output. */
  function pipelineWindow(ex: Executor): number {
    const { stages, buffers } = ex.stats();
    return stages.reduce((sum, s) => sum + s.capacity, 0) + buffers.reduce((sum, b) => sum + b.bound, 0);
  }

  /** Drains `run`: the outcomes it yielded, and the error it rejected with (once). */
  async function drain<T, R>(run: AsyncIterableIterator<Outcome<T, R>>): Promise<{ outcomes: Outcome<T, R>[]; error: unknown }> {
    const outcomes: Outcome<T, R>[] = [];
    let error: unknown;
    try {
      for await (const o of run) outcomes.push(o);
    } catch (e) {
      error = e;
    }
    // Rejected once: the iteration is over after that.
    expect(await run.next()).toEqual({ value: undefined, done: true });
    return { outcomes, error };
  }

  it('throws at load: the run stops admitting, yields what had finished and rejects with ERR_SLUICE_WORKER_LOAD', async () => {
    let fetched = 0;
    const ex = createExecutor<Task, unknown>({
      stages: [
        io<Task, Task>(
          'fetch',
          (t) => {
            fetched += 1;
            if (t.n === 0) throw Object.assign(new Error('task 0 fails before the cpu stage'), { code: 'E_FETCH' });
            return t;
          },
          { concurrency: 2 },
        ),
        cpu('compute', fixture('load-fail.ts'), { threads: 2 }),
      ],
    });
    try {
      const input = endless();
      const { outcomes, error } = await drain(ex.run(input.tasks));
      expect(error).toBeInstanceOf(SluiceWorkerError);
      expect(error).toMatchObject({ code: ErrorCodes.WORKER_LOAD, stage: 'compute', cause: { code: 'E_FIXTURE_LOAD' } });
      // The task that failed on its own (in fetch) had finished: it is yielded. The tasks that met
      // the broken stage never ran: they are no outcome at all, and no failure.
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]).toMatchObject({ ok: false, index: 0, stage: 'fetch', error: { code: 'E_FETCH' } });
      const stats = ex.stats();
      expect(stats.tasks).toMatchObject({ completed: 0, failed: 1, open: 0 });
      expect(stats.stages.map((s) => [s.name, s.failed])).toEqual([
        ['fetch', 1],
        ['compute', 0],
      ]);
      // Admission stopped: what was pulled is bounded by the pipeline's window, not by the input.
      expect(stats.tasks.pulled).toBe(input.pulled());
      expect(input.pulled()).toBeGreaterThanOrEqual(2);
      expect(input.pulled()).toBeLessThanOrEqual(pipelineWindow(ex));
      expect(fetched).toBe(input.pulled());
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('with stopOnError, still ends with the worker error (the job error), not with the first task failure', async () => {
    const ex = createExecutor<Task, unknown>({
      stages: [
        io<Task, Task>(
          'fetch',
          (t) => {
            if (t.n === 0) throw new Error('task 0 fails before the cpu stage');
            return t;
          },
          { concurrency: 2 },
        ),
        cpu('compute', fixture('load-fail.ts'), { threads: 2 }),
      ],
      stopOnError: true,
    });
    try {
      const { outcomes, error } = await drain(ex.run(endless().tasks));
      expect(error).toBeInstanceOf(SluiceWorkerError);
      expect((error as SluiceWorkerError).code).toBe(ErrorCodes.WORKER_LOAD);
      expect(outcomes.filter((o) => !o.ok && o.stage === 'compute')).toEqual([]);
      expect(ex.stats().tasks.open).toBe(0);
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('lacks the export named by exportName: the run rejects with ERR_SLUICE_WORKER_EXPORT and yields nothing (ordered too)', async () => {
    const ex = createExecutor<Task, unknown>({
      stages: [cpu('compute', fixture('double.ts'), { threads: 1, exportName: 'triple' })],
      ordered: true,
    });
    try {
      const input = endless();
      const { outcomes, error } = await drain(ex.run(input.tasks));
      expect(error).toBeInstanceOf(SluiceWorkerError);
      expect((error as SluiceWorkerError).code).toBe(ErrorCodes.WORKER_EXPORT);
      expect((error as SluiceWorkerError).stage).toBe('compute');
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect(outcomes).toEqual([]);
      expect(ex.stats().tasks).toMatchObject({ completed: 0, failed: 0, open: 0 });
      expect(input.pulled()).toBeLessThanOrEqual(pipelineWindow(ex));
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  describe('a .ts worker in a package Node treats as CommonJS', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('rejects the run with ERR_SLUICE_WORKER_LOAD and says how to fix it', async () => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-cjs-worker-'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user', type: 'commonjs' }));
      // ESM syntax that CommonJS cannot hold: a top-level await.
      writeFileSync(
        join(dir, 'worker.ts'),
        'const factor = await Promise.resolve(2);\nexport default (input: { n: number }): number => input.n * factor;\n',
      );
      const ex = createExecutor<Task, unknown>({ stages: [cpu('compute', join(dir, 'worker.ts'), { threads: 1 })] });
      try {
        const { outcomes, error } = await drain(ex.run(tasks(20)));
        expect(outcomes).toEqual([]);
        expect(error).toBeInstanceOf(SluiceWorkerError);
        expect((error as SluiceWorkerError).code).toBe(ErrorCodes.WORKER_LOAD);
        expect((error as Error).message).toContain('"type": "module"');
        expect((error as Error).cause).toBeInstanceOf(Error);
        expect(ex.stats().tasks.pulled).toBeLessThanOrEqual(pipelineWindow(ex));
      } finally {
        await ex.close();
      }
    });
  });
});

describe('TypeScript worker files', () => {
  it.each([
    ['an absolute path string', fileURLToPath(fixture('double.ts'))],
    ['a file: URL', fixture('double.ts')],
    ['a file: URL string', fixture('double.ts').href],
  ])('load from %s', async (_label, file) => {
    const ex = createExecutor<Task, { n: number }>({ stages: [cpu('compute', file, { threads: 2 })] });
    try {
      expectDoubled(await collect(ex.run(tasks(6))), [0, 1, 2, 3, 4, 5]);
    } finally {
      await ex.close();
    }
  });

  it("calls a CommonJS worker's exports.default (TypeScript's CommonJS output)", async () => {
    const ex = createExecutor<Task, { n: number }>({
      stages: [cpu('compute', fixture('ts-cjs-default.cjs'), { threads: 1 })],
    });
    try {
      const outcomes = await collect(ex.run(tasks(3)));
      expect(outcomes.map((o) => (o.ok ? o.value : o.error))).toEqual([{ n: 0 }, { n: 3 }, { n: 6 }]);
    } finally {
      await ex.close();
    }
  });

  it('call the export named by exportName', async () => {
    const ex = createExecutor<Task, { n: number }>({
      stages: [cpu('compute', fixture('faulty.ts'), { threads: 1, exportName: 'triple' })],
    });
    try {
      const outcomes = await collect(ex.run(tasks(3)));
      expect(outcomes.map((o) => (o.ok ? o.value : o.error))).toEqual([{ n: 0 }, { n: 3 }, { n: 6 }]);
    } finally {
      await ex.close();
    }
  });
});

describe('close()', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    // Only if a child outlived its test (it hung): end that one process.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  /** Runs a fixture program in its own process; resolves with how it ended and what it printed. */
  function runScript(
    mode: string,
    script = 'close-script.ts',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(fixture(script)), mode], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      let stdout = '';
      let stderr = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      proc.on('error', reject);
      proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  it('releases every handle: a program that ran tasks through a cpu stage exits by itself', { timeout: 120_000 }, async () => {
    const result = await runScript('complete');
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(JSON.parse(result.stdout)).toEqual({ sum: 2 * ((19 * 20) / 2) });
  });

  it('stops an active run whose worker is blocked, and the program still exits by itself', { timeout: 120_000 }, async () => {
    const result = await runScript('busy');
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(JSON.parse(result.stdout)).toMatchObject({ first: true });
  });

  it('after a run that a broken worker module ended, closes cleanly and the program exits by itself', { timeout: 120_000 }, async () => {
    const result = await runScript('', 'broken-worker-script.ts');
    expect(result).toMatchObject({ code: 0, signal: null });
    const summary = JSON.parse(result.stdout) as { code: unknown; outcomes: number; pulled: number; open: number; failed: number };
    expect(summary).toMatchObject({ code: ErrorCodes.WORKER_LOAD, outcomes: 0, open: 0, failed: 0 });
    // io 2 + buffer 2 + cpu 2 + output 2: the endless input was not drained.
    expect(summary.pulled).toBeLessThanOrEqual(8);
  });
});
