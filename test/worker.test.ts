/**
 * cpu stages and their worker threads: a thread that dies mid-task, a module that cannot load or
 * lacks the named export, TypeScript worker files, and close() leaving no handle behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createExecutor,
  cpu,
  ErrorCodes,
  io,
  SluiceWorkerError,
  type Executor,
  type Failed,
  type Outcome,
} from '../src/index.js';

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

describe('a worker module that cannot serve', () => {
  it('throws at load: every task fails with ERR_SLUICE_WORKER_LOAD and the run still ends', async () => {
    const ex = createExecutor<Task, unknown>({
      stages: [io<Task, Task>('fetch', (t) => t, { concurrency: 2 }), cpu('compute', fixture('load-fail.ts'), { threads: 2 })],
    });
    try {
      const outcomes = await collect(ex.run(tasks(5)));
      expect(outcomes).toHaveLength(5);
      for (const o of outcomes) {
        const error = expectWorkerError(o, ErrorCodes.WORKER_LOAD, 'compute');
        expect(error.cause).toMatchObject({ code: 'E_FIXTURE_LOAD' });
      }
      expectIdle(ex);
    } finally {
      await ex.close();
    }
  });

  it('lacks the export named by exportName: ERR_SLUICE_WORKER_EXPORT', async () => {
    const ex = createExecutor<Task, unknown>({
      stages: [cpu('compute', fixture('double.ts'), { threads: 1, exportName: 'triple' })],
    });
    try {
      const outcomes = await collect(ex.run(tasks(3)));
      expect(outcomes).toHaveLength(3);
      for (const o of outcomes) expectWorkerError(o, ErrorCodes.WORKER_EXPORT, 'compute');
    } finally {
      await ex.close();
    }
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

  /** Runs the close fixture in its own process; resolves with how it ended and what it printed. */
  function runScript(mode: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(fixture('close-script.ts')), mode], {
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
});
