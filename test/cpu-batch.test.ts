/**
 * Batching in cpu stages (`cpu(name, file, { batch })`): a free thread receives up to B tasks in one
 * message. Counted from both sides: the engine's stats (capacity = (threads + 1) x B when B > 1,
 * one batch more than the threads run, waiting in the stage for the first thread that frees; at
 * most threads x B tasks in messages to threads; batch peak and count, buffer bounds) and the
 * threads themselves (a worker module, written to a temporary folder, counts in shared memory the
 * tasks it ran between two of its answers, i.e. the tasks of one message). Outcomes stay per task:
 * a throw, a crash, a value that cannot be cloned, ordered output, stopOnError, abort, drain,
 * transfer and the bridge. Real Piscina pools; no clocks in the assertions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createExecutor,
  cpu,
  ErrorCodes,
  io,
  SluiceAbortError,
  SluiceDataCloneError,
  SluiceOptionError,
  SluiceTaskError,
  SluiceWorkerError,
  type CpuOptions,
  type Executor,
  type ExecutorOptions,
  type ExecutorStats,
  type Failed,
  type HostCallContext,
  type Outcome,
  type StageStats,
} from '../src/index.js';
import { createGate } from './fixtures/atomics-gate.js';

/** Cells of a task's `shared` counters (an Int32Array); cell FIRST + n counts the starts of task n. */
const PENDING = 0; // tasks started on some thread and not yet answered, over all threads
const PENDING_PEAK = 1;
const RUN_PEAK = 2; // the most tasks one thread ran between two of its answers: one message's tasks
const GATE_RUN = 3; // the place of the gated task in its message (1: first)
const FIRST = 8;

/**
 * Piscina's worker answers each message with `port.postMessage({ taskId, result, ... })`; the
 * module wraps that post (after sluice's own guard) to count the tasks between two answers.
 * Input: `spin` (a busy loop of so many steps), `ms` (busy for so long), `gate` (blocks until the
 * test releases it, see ./fixtures/atomics-gate.ts), `throwCode`, `exit` (kills the thread),
 * `makeFunction` (a result that cannot be cloned), `bytes` (answered with their sum and a fresh
 * buffer `back` of half their size, filled with n + 1). The export `bridged` calls home.
 */
const WORKER = `
import { MessagePort, threadId } from 'node:worker_threads';

let run = 0;
let cells;
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function postMessage(...args) {
  const m = args[0];
  if (m !== null && typeof m === 'object' && 'taskId' in m && 'result' in m) {
    if (cells !== undefined) Atomics.sub(cells, ${PENDING}, run);
    run = 0;
  }
  return Reflect.apply(post, this, args);
};

function raise(cell, value) {
  for (let seen = Atomics.load(cells, cell); value > seen; seen = Atomics.load(cells, cell)) {
    if (Atomics.compareExchange(cells, cell, seen, value) === seen) break;
  }
}

function enter(input) {
  run += 1;
  cells = input.shared === undefined ? undefined : new Int32Array(input.shared);
  if (cells !== undefined) {
    raise(${PENDING_PEAK}, Atomics.add(cells, ${PENDING}, 1) + 1);
    raise(${RUN_PEAK}, run);
    if (${FIRST} + input.n < cells.length) Atomics.add(cells, ${FIRST} + input.n, 1);
  }
  return run;
}

export default function work(input) {
  const place = enter(input);
  let x = 0;
  for (let i = 0; i < (input.spin ?? 0); i++) x = (x * 31 + i) | 0;
  if (input.ms !== undefined) {
    const end = performance.now() + input.ms;
    while (performance.now() < end) x += 1;
  }
  if (input.gate !== undefined) {
    Atomics.store(cells, ${GATE_RUN}, place);
    const gate = new Int32Array(input.gate);
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    Atomics.wait(gate, 0, 0);
  }
  if (input.throwCode !== undefined) {
    const error = new Error('bad input ' + input.n);
    error.code = input.throwCode;
    throw error;
  }
  if (input.exit) process.exit(1);
  if (input.makeFunction) return { n: input.n, f: () => input.n };
  const out = { n: input.n * 2, thread: threadId, run: place, x };
  if (input.bytes !== undefined) {
    let sum = 0;
    for (const b of input.bytes) sum += b;
    out.sum = sum;
    out.back = new Uint8Array(input.bytes.byteLength / 2).fill(input.n + 1);
  }
  return out;
}

export async function bridged(input, ctx) {
  const place = enter(input);
  ctx.progress({ step: 1 });
  const v = await ctx.host().lookup(input.n);
  ctx.progress({ step: 2 });
  return { n: input.n * 2, thread: threadId, run: place, v };
}
`;

interface Task {
  readonly n: number;
  readonly shared?: SharedArrayBuffer;
  readonly spin?: number;
  readonly ms?: number;
  readonly gate?: SharedArrayBuffer;
  readonly throwCode?: string;
  readonly exit?: boolean;
  readonly makeFunction?: boolean;
  readonly bytes?: Uint8Array;
  readonly f?: () => number;
}
interface Result {
  readonly n: number;
  readonly thread: number;
  /** Its place in its message: 1 for the first task a thread ran after an answer. */
  readonly run: number;
  readonly sum?: number;
  readonly back?: Uint8Array;
  readonly v?: number;
}

const THREADS = 2;

let dir: string;
let worker: URL;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cpu-batch-'));
  const file = join(dir, 'batch.worker.mjs');
  writeFileSync(file, WORKER);
  worker = pathToFileURL(file);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open: Executor<Task, Result>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((ex) => ex.close()));
});

function start(stages: ExecutorOptions['stages'], options: Omit<ExecutorOptions, 'stages'> = {}): Executor<Task, Result> {
  const ex = createExecutor<Task, Result>({ ...options, stages });
  open.push(ex);
  return ex;
}

function compute(options: CpuOptions): ExecutorOptions['stages'][number] {
  return cpu('compute', worker, { threads: THREADS, ...options });
}

async function collect(run: AsyncIterable<Outcome<Task, Result>>): Promise<Outcome<Task, Result>[]> {
  const outcomes: Outcome<Task, Result>[] = [];
  for await (const o of run) outcomes.push(o);
  return outcomes.sort((a, b) => a.index - b.index);
}

function counters(tasks: number): { shared: SharedArrayBuffer; cells: Int32Array } {
  const shared = new SharedArrayBuffer(4 * (FIRST + tasks));
  return { shared, cells: new Int32Array(shared) };
}

/** How many times each task started on a thread. */
function starts(cells: Int32Array, tasks: number): number[] {
  return Array.from({ length: tasks }, (_, n) => cells[FIRST + n]!);
}

function cpuStage(ex: Executor<Task, Result>): StageStats {
  return ex.stats().stages.find((s) => s.name === 'compute')!;
}

function expectIdle(ex: Executor<Task, Result>): void {
  for (const s of ex.stats().stages)
    expect({ stage: s.name, active: s.active, running: s.running }).toEqual({ stage: s.name, active: 0, running: 0 });
}

/** Every task once, in index order, each doubled. */
function expectAllDoubled(outcomes: readonly Outcome<Task, Result>[], n: number): void {
  expect(outcomes.map((o) => o.index)).toEqual(Array.from({ length: n }, (_, i) => i));
  for (const o of outcomes) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
}

/** The most tasks the pipeline holds at once, by its stats now: stage capacities and every buffer's bound. */
function pipelineWindow(stats: ExecutorStats): number {
  return stats.stages.reduce((sum, s) => sum + s.capacity, 0) + stats.buffers.reduce((sum, b) => sum + b.bound, 0);
}

/** A cpu stage's capacity for a batch size B: its threads with B = 1, one batch more than they run with B > 1. */
function capacityFor(B: number, threads = THREADS): number {
  return B > 1 ? (threads + 1) * B : threads;
}

async function rerunsFine(ex: Executor<Task, Result>): Promise<void> {
  expectAllDoubled(await collect(ex.run(Array.from({ length: 12 }, (_, n) => ({ n })))), 12);
  expectIdle(ex);
}

describe('batch size', () => {
  it('a fixed batch: no message holds more than N tasks, the stage holds (threads + 1) x N, at most threads x N are on threads at once, every task runs once', async () => {
    const N = 8;
    const n = 400;
    const { shared, cells } = counters(n);
    const ex = start([compute({ batch: N })]);
    const outcomes = await collect(ex.run(Array.from({ length: n }, (_, i) => ({ n: i, shared, spin: 2000 }))));
    expectAllDoubled(outcomes, n);

    const s = cpuStage(ex);
    expect(s.capacity).toBe((THREADS + 1) * N);
    expect(s.peakCapacity).toBe((THREADS + 1) * N);
    // The first 24 tasks arrive in one turn: two full batches go at once, a third waits for a thread.
    expect(s.batch).toMatchObject({ size: N, peak: N, threads: THREADS, busyThreads: 0, onThreads: 0 });
    expect(s.batch!.batches).toBeGreaterThanOrEqual(Math.ceil(n / N));
    expect(s.batch!.batches).toBeLessThanOrEqual(n);
    expect(s.peakRunning).toBe((THREADS + 1) * N);
    expect(s.peakActive).toBeLessThanOrEqual((THREADS + 1) * N);
    // In messages to threads: at most one batch per thread.
    expect(s.batch!.peakOnThreads).toBeLessThanOrEqual(THREADS * N);

    // Seen from the threads: a message ran at most N tasks, and batching did happen.
    expect(cells[RUN_PEAK]).toBe(N);
    for (const o of outcomes) expect(o.ok && o.value.run).toBeLessThanOrEqual(N);
    expect(cells[PENDING_PEAK]).toBeLessThanOrEqual(THREADS * N);
    expect(cells[PENDING]).toBe(0);
    expect(starts(cells, n).every((c) => c === 1)).toBe(true);
    expect(new Set(outcomes.map((o) => o.ok && o.value.thread)).size).toBeLessThanOrEqual(THREADS);
    expectIdle(ex);
  });

  it("'auto' (the default): tiny tasks get B > 1 (at most 256); tasks of 3 ms keep B = 1", async () => {
    const n = 2000;
    const { shared, cells } = counters(n);
    const tiny = start([compute({})]);
    expectAllDoubled(await collect(tiny.run(Array.from({ length: n }, (_, i) => ({ n: i, shared })))), n);
    const t = cpuStage(tiny);
    expect(t.batch!.size).toBeGreaterThan(1);
    expect(t.batch!.size).toBeLessThanOrEqual(256);
    expect(t.batch!.peak).toBeGreaterThan(1);
    expect(t.batch!.peak).toBeLessThanOrEqual(256);
    expect(t.batch!.batches).toBeLessThan(n);
    expect(t.capacity).toBe(capacityFor(t.batch!.size));
    expect(t.peakCapacity).toBeLessThanOrEqual((THREADS + 1) * 256);
    expect(t.peakRunning).toBeLessThanOrEqual((THREADS + 1) * 256);
    expect(t.batch!.peakOnThreads).toBeLessThanOrEqual(THREADS * t.batch!.peak);
    expect(cells[RUN_PEAK]).toBeGreaterThan(1);
    expect(cells[RUN_PEAK]).toBeLessThanOrEqual(256);
    expect(cells[PENDING_PEAK]).toBeLessThanOrEqual(THREADS * 256);

    const long = start([compute({ batch: 'auto' })]);
    expectAllDoubled(await collect(long.run(Array.from({ length: 8 }, (_, i) => ({ n: i, ms: 3 })))), 8);
    const l = cpuStage(long);
    expect(l.batch).toMatchObject({ size: 1, peak: 1, batches: 8 });
    expect(l.capacity).toBe(THREADS);
    expect(l.peakCapacity).toBe(THREADS);
    expect(l.peakRunning).toBeLessThanOrEqual(THREADS);
  });
});

describe('the buffer in front of a batching stage', () => {
  const K = 4;

  async function peaks(batch: CpuOptions['batch'], n: number): Promise<ExecutorStats> {
    const ex = start([io<Task, Task>('fetch', (t) => t, { concurrency: K }), compute({ batch })]);
    expectAllDoubled(await collect(ex.run(Array.from({ length: n }, (_, i) => ({ n: i, spin: 5000 })))), n);
    const s = ex.stats();
    // The buffer before the cpu stage follows the stage's capacity, (threads + 1) x B (threads with B = 1).
    expect(s.buffers[0]!.bound).toBe(s.stages[1]!.capacity);
    expect(s.stages[1]!.capacity).toBe(capacityFor(s.stages[1]!.batch!.size));
    for (const b of s.buffers) expect({ name: b.name, within: b.peak <= b.peakBound }).toEqual({ name: b.name, within: true });
    expect(s.stages[1]!.peakActive).toBeLessThanOrEqual(s.stages[1]!.peakCapacity);
    return s;
  }

  it('a fixed batch: bound (threads + 1) x N, the same for 200 and 2000 tasks, and buffered payloads within it', async () => {
    const N = 8;
    const bound = (THREADS + 1) * N;
    for (const n of [200, 2000]) {
      const s = await peaks(N, n);
      expect(s.buffers[0]!.bound).toBe(bound);
      expect(s.buffers[0]!.peakBound).toBe(bound);
      for (const b of s.buffers) expect({ name: b.name, within: b.peak <= b.bound }).toEqual({ name: b.name, within: true });
      // Past `threads`, the bound it had before batching: the buffer refills whole batches.
      expect(s.buffers[0]!.peak).toBeGreaterThan(THREADS);
      // Finished by the io stage and not yet in a thread: held in its K slots, or buffered.
      expect(s.buffered.peak).toBeLessThanOrEqual(K + bound);
      expect(s.stages[1]!.peakActive).toBeLessThanOrEqual(bound);
      expect(s.tasks.peakOpen).toBeLessThanOrEqual(pipelineWindow(s));
    }
  });

  it("'auto': B moves, and the bounds with it, but never past (threads + 1) x 256: the same for 200 and 2000 tasks", async () => {
    // A bound that shrinks with B leaves what it holds in place (it drains), so the peaks are
    // checked against the largest bound of the run (peakBound) and the largest B can give, not the one at the end.
    const most = (THREADS + 1) * 256;
    for (const n of [200, 2000]) {
      const s = await peaks('auto', n);
      for (const b of s.buffers) expect({ name: b.name, within: b.peakBound <= most }).toEqual({ name: b.name, within: true });
      expect(s.stages[1]!.peakCapacity).toBeLessThanOrEqual(most);
      expect(s.buffered.peak).toBeLessThanOrEqual(K + most);
      expect(s.stages[1]!.peakActive).toBeLessThanOrEqual(most);
      expect(s.tasks.peakOpen).toBeLessThanOrEqual(K + most + most + most);
    }
  });
});

describe('outcomes stay per task in a batch', () => {
  it('a task that throws fails alone with its error; its batch-mates complete', async () => {
    const { shared, cells } = counters(16);
    const ex = start([compute({ threads: 1, batch: 8 })]);
    const tasks: Task[] = Array.from({ length: 16 }, (_, n) => (n === 3 ? { n, shared, throwCode: 'E_BAD_ROW' } : { n, shared }));
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes.map((o) => o.index)).toEqual(tasks.map((_, i) => i));
    const failed = outcomes[3] as Failed;
    expect(failed).toMatchObject({ ok: false, index: 3, stage: 'compute', attempts: 1 });
    expect(failed.error).toBeInstanceOf(Error);
    expect(failed.error).toMatchObject({ code: 'E_BAD_ROW', message: 'bad input 3' });
    for (const o of outcomes) if (o.index !== 3) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
    // Tasks 0-7 were one message: the ones after the throw ran in it, at their places.
    for (const i of [0, 1, 2, 4, 5, 6, 7]) expect({ i, run: outcomes[i]!.ok && outcomes[i]!.value.run }).toEqual({ i, run: i + 1 });
    expect(starts(cells, 16).every((c) => c === 1)).toBe(true);
    expect(ex.stats().tasks).toMatchObject({ completed: 15, failed: 1, open: 0 });
    expect(cpuStage(ex)).toMatchObject({ completed: 15, failed: 1, batch: { peak: 8 } });
    expectIdle(ex);
  });

  it('a task that kills its thread fails alone with WORKER_CRASHED; every other task completes exactly once', async () => {
    const n = 40;
    const culprit = 10;
    const { shared, cells } = counters(n);
    const ex = start([compute({ batch: 8 })]);
    const tasks: Task[] = Array.from({ length: n }, (_, i) => (i === culprit ? { n: i, shared, exit: true } : { n: i, shared }));
    const outcomes = await collect(ex.run(tasks));

    // One outcome per task, none lost, none twice.
    expect(outcomes.map((o) => o.index)).toEqual(tasks.map((_, i) => i));
    const failed = outcomes[culprit] as Failed;
    expect(failed).toMatchObject({ ok: false, stage: 'compute', attempts: 1 });
    expect(failed.error).toBeInstanceOf(SluiceWorkerError);
    expect(failed.error).toMatchObject({ code: ErrorCodes.WORKER_CRASHED, stage: 'compute' });
    expect((failed.error as Error).message).toContain(`task #${culprit}`);
    for (const o of outcomes) if (o.index !== culprit) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
    expect(outcomes.filter((o) => !o.ok)).toHaveLength(1);
    expect(ex.stats().tasks).toMatchObject({ pulled: n, completed: n - 1, failed: 1, open: 0 });
    expect(cpuStage(ex)).toMatchObject({ completed: n - 1, failed: 1 });

    // Seen from the threads: every task started; the culprit twice (in its batch, then alone);
    // the batch-mates that had run before it at most twice (work is at least once).
    const started = starts(cells, n);
    expect(started.every((c) => c >= 1)).toBe(true);
    expect(started[culprit]).toBe(2);
    expect(started.filter((c, i) => i !== culprit && c > 1).length).toBeLessThan(8);
    expect(started.every((c) => c <= 2)).toBe(true);
    expectIdle(ex);
    await rerunsFine(ex);
  });

  it('a task that kills its thread, in a batch whose inputs carry binary payloads: it alone fails, none is lost', async () => {
    const n = 16;
    const culprit = 10;
    const { shared, cells } = counters(n);
    const ex = start([compute({ batch: 8 })]);
    const tasks: Task[] = Array.from({ length: n }, (_, i) => ({
      n: i,
      shared,
      bytes: new Uint8Array(1024).fill(i),
      ...(i === culprit ? { exit: true } : {}),
    }));
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes.map((o) => o.index)).toEqual(tasks.map((_, i) => i));
    const failures = outcomes.filter((o) => !o.ok).map((o) => [o.index, ((o as Failed).error as { code?: string }).code]);
    expect(failures).toEqual([[culprit, ErrorCodes.WORKER_CRASHED]]);
    expect(starts(cells, n).every((c) => c >= 1)).toBe(true);
    for (const o of outcomes)
      if (o.index !== culprit) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index, sum: 1024 * o.index } });
  });

  it('ordered: outcomes in input order, every one present, within the window', async () => {
    const n = 300;
    const ex = start(
      [
        io<Task, Task>(
          'jitter',
          async (t) => {
            // 0 to 4 turns of the event loop, so later tasks often reach the cpu stage first.
            for (let i = 0; i < (t.n * 7) % 5; i++) await new Promise((r) => setImmediate(r));
            return t;
          },
          { concurrency: 4 },
        ),
        compute({ batch: 8 }),
      ],
      { ordered: true },
    );
    const seen: number[] = [];
    for await (const o of ex.run(Array.from({ length: n }, (_, i) => ({ n: i, spin: ((i * 13) % 7) * 3000 })))) {
      expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
      seen.push(o.index);
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
    const s = ex.stats();
    expect(s.stages[1]!.batch!.peak).toBeGreaterThan(1);
    expect(s.tasks.peakOpen).toBeLessThanOrEqual(pipelineWindow(s));
    expectIdle(ex);
  });

  it('stopOnError: the run stops and rejects with ERR_SLUICE_TASK_FAILED; what finished is yielded; the executor runs again', async () => {
    const gen = { pulled: 0, closed: false };
    function* endless(): Generator<Task> {
      try {
        for (let n = 0; ; n++) {
          gen.pulled += 1;
          yield n === 20 ? { n, throwCode: 'E_STOP' } : { n, spin: 2000 };
        }
      } finally {
        gen.closed = true;
      }
    }
    const ex = start([compute({ batch: 8 })], { stopOnError: true });
    const outcomes: Outcome<Task, Result>[] = [];
    let caught: unknown;
    try {
      for await (const o of ex.run(endless())) outcomes.push(o);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceTaskError);
    const taskError = caught as SluiceTaskError;
    expect(taskError.code).toBe(ErrorCodes.TASK_FAILED);
    expect(taskError.outcome).toMatchObject({ ok: false, index: 20, stage: 'compute' });
    expect(taskError.outcome.error).toMatchObject({ code: 'E_STOP', message: 'bad input 20' });

    // Everything that completed was yielded, once; the failure was not; then nothing more.
    const stats = ex.stats();
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(new Set(outcomes.map((o) => o.index)).size).toBe(outcomes.length);
    expect(outcomes.map((o) => o.index)).not.toContain(20);
    for (const o of outcomes) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index } });
    expect(stats.tasks).toMatchObject({ completed: outcomes.length, failed: 1, open: 0 });
    expect(stats.tasks.pulled).toBe(gen.pulled);
    // Pulled and never yielded (the failure, and what was dropped after it): within the window.
    expect(gen.pulled - outcomes.length).toBeLessThanOrEqual(pipelineWindow(stats));
    expect(stats.tasks.peakOpen).toBeLessThanOrEqual(pipelineWindow(stats));
    expect(gen.closed).toBe(true);
    expectIdle(ex);
    await rerunsFine(ex);
  });
});

describe('stopping a run while a batch runs', () => {
  it('abort: the iteration rejects with ERR_SLUICE_ABORTED, nothing stays active, and the executor runs again', async () => {
    const gate = createGate();
    const { shared, cells } = counters(64);
    let pulled = 0;
    // Tasks 0 and 1 arrive together and go in one message; 1 blocks at the gate after 0 ran.
    // Later tasks arrive a turn apart and wait for the busy thread.
    async function* input(): AsyncGenerator<Task> {
      pulled += 1;
      yield { n: 0, shared };
      pulled += 1;
      yield { n: 1, shared, gate: gate.buffer };
      for (let n = 2; ; n++) {
        await new Promise((r) => setImmediate(r));
        pulled += 1;
        yield { n, shared };
      }
    }
    const ex = start([compute({ threads: 1, batch: 4 })]);
    const controller = new AbortController();
    const reason = new Error('stop the job');
    try {
      const run = ex.run(input(), { signal: controller.signal });
      const first = run.next();
      await gate.entered();
      // The stage is full ((threads + 1) x B = 8): one message of 2 runs on the thread, the other
      // 6 tasks wait in the stage for it.
      await vi.waitFor(() => expect(cpuStage(ex).running).toBe(8), { timeout: 10_000 });
      const during = cpuStage(ex);
      expect(during.capacity).toBe(8);
      expect(during.batch).toMatchObject({ batches: 1, peak: 2, threads: 1, busyThreads: 1, onThreads: 2, peakOnThreads: 2 });
      expect(cells[GATE_RUN]).toBe(2); // the gated task is the second of its message
      expect(pulled).toBe(8);

      controller.abort(reason);
      const error = await first.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SluiceAbortError);
      expect(error).toMatchObject({ code: ErrorCodes.ABORTED, reason });
      expect(await run.next()).toEqual({ done: true, value: undefined });
      expect(pulled).toBe(8);
      expect(ex.stats().tasks).toMatchObject({ pulled: 8, open: 0 });
      expectIdle(ex);
      await rerunsFine(ex);
    } finally {
      gate.release();
    }
  });

  it('drain: what was pulled finishes and is yielded, nothing more is pulled, the iteration ends normally', async () => {
    const gen = { pulled: 0, closed: false };
    function* endless(): Generator<Task> {
      try {
        for (let n = 0; ; n++) {
          gen.pulled += 1;
          yield { n, spin: 2000 };
        }
      } finally {
        gen.closed = true;
      }
    }
    const ex = start([compute({ batch: 8 })]);
    const drain = new AbortController();
    const outcomes: Outcome<Task, Result>[] = [];
    let pulledAtDrain = 0;
    for await (const o of ex.run(endless(), { drain: drain.signal })) {
      outcomes.push(o);
      if (outcomes.length === 10) {
        drain.abort();
        pulledAtDrain = ex.stats().tasks.pulled;
        expect(gen.closed).toBe(true);
      }
    }
    // Work was in flight at the drain (the stage holds up to (2 + 1) x 8 = 24), and all of it finished.
    expect(pulledAtDrain).toBeGreaterThan(10);
    expect(gen.pulled).toBe(pulledAtDrain);
    expectAllDoubled(
      outcomes.sort((a, b) => a.index - b.index),
      pulledAtDrain,
    );
    expect(ex.stats().tasks).toMatchObject({ pulled: pulledAtDrain, completed: pulledAtDrain, failed: 0, open: 0 });
    expectIdle(ex);
  });
});

describe('binary payloads and values that cannot be cloned, in a batch', () => {
  const bytesOf = (n: number): Uint8Array => new Uint8Array(1024).fill(n);

  function expectEchoed(o: Outcome<Task, Result> | undefined, n: number): void {
    expect(o).toMatchObject({ ok: true, value: { n: 2 * n, sum: 1024 * n } });
    const back = (o as { value: Result }).value.back!;
    expect(back).toBeInstanceOf(Uint8Array);
    expect(back.byteLength).toBe(512);
    expect(back.every((b) => b === n + 1)).toBe(true);
  }

  it('inputs in a batch are copied (kept here, so a batch whose thread dies can run again), lone ones moved; each result comes back intact', async () => {
    const n = 24;
    const tasks: Task[] = Array.from({ length: n }, (_, i) => ({ n: i, bytes: bytesOf(i) }));
    const ex = start([compute({ threads: 1, batch: 8 })]);
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes).toHaveLength(n);
    for (const o of outcomes) expectEchoed(o, o.index);
    // Every message held 8 tasks (24 = 3 x 8, all queued before the first went): none moved.
    expect(outcomes.map((o) => (o.ok ? o.value.run : 0)).filter((r) => r === 8)).toHaveLength(3);
    for (const t of tasks) expect(t.bytes!.byteLength).toBe(1024);
    expect(cpuStage(ex).batch!.peak).toBe(8);
    expect(Math.max(...outcomes.map((o) => (o.ok ? o.value.run : 0)))).toBe(8);
    // One task per message: its input moves (detached here).
    const lone: Task[] = [{ n: 0, bytes: bytesOf(0) }];
    const single = await collect(ex.run(lone));
    expectEchoed(single[0]!, 0);
    expect(cpuStage(ex).batch!.peak).toBe(1);
    expect(lone[0]!.bytes!.byteLength).toBe(0);
  });

  it('an input that cannot be cloned fails alone (direction input, nothing of it moved); its batch-mates complete', async () => {
    const tasks: Task[] = Array.from({ length: 8 }, (_, i) =>
      i === 3 ? { n: i, bytes: bytesOf(i), f: () => 3 } : { n: i, bytes: bytesOf(i) },
    );
    const ex = start([compute({ threads: 1, batch: 8 })]);
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const failed = outcomes[3] as Failed;
    expect(failed).toMatchObject({ ok: false, stage: 'compute', attempts: 1 });
    expect(failed.error).toBeInstanceOf(SluiceDataCloneError);
    expect(failed.error).toMatchObject({ code: ErrorCodes.DATA_CLONE, stage: 'compute', direction: 'input', path: 'input.f' });
    for (const o of outcomes) if (o.index !== 3) expectEchoed(o, o.index);
    expect(tasks[3]!.bytes!.byteLength).toBe(1024);
    for (const t of tasks) if (t.n !== 3) expect(t.bytes!.byteLength).toBe(0);
    expect(ex.stats().tasks).toMatchObject({ completed: 7, failed: 1, open: 0 });
    expectIdle(ex);
    await rerunsFine(ex);
  });

  it('a result that cannot be cloned fails alone (direction result); its batch-mates complete on the same thread', async () => {
    const tasks: Task[] = Array.from({ length: 8 }, (_, i) => (i === 5 ? { n: i, makeFunction: true } : { n: i, bytes: bytesOf(i) }));
    const ex = start([compute({ threads: 1, batch: 8 })]);
    const outcomes = await collect(ex.run(tasks));
    expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const failed = outcomes[5] as Failed;
    expect(failed).toMatchObject({ ok: false, stage: 'compute', attempts: 1 });
    expect(failed.error).toBeInstanceOf(SluiceDataCloneError);
    expect(failed.error).toMatchObject({ code: ErrorCodes.DATA_CLONE, direction: 'result', path: 'result.f' });
    for (const o of outcomes) if (o.index !== 5) expectEchoed(o, o.index);
    // One message, answered once: the tasks after the culprit ran in it, and the thread lived on.
    expect(outcomes.map((o) => (o.ok ? o.value.run : 0))).toEqual([1, 2, 3, 4, 5, 0, 7, 8]);
    const threads = new Set(outcomes.flatMap((o) => (o.ok ? [o.value.thread] : [])));
    expect(threads.size).toBe(1);
    expect(ex.stats().tasks).toMatchObject({ completed: 7, failed: 1, open: 0 });
    const later = await collect(ex.run([{ n: 1 }, { n: 2 }]));
    expect(new Set(later.map((o) => (o.ok ? o.value.thread : 0)))).toEqual(threads);
  });
});

describe('the bridge in a batch', () => {
  it("each task's progress arrives before its outcome, and its host calls carry its own index", async () => {
    const n = 16;
    const log: string[] = [];
    const calls: Array<{ index: number; id: number }> = [];
    const ex = start([
      compute({
        threads: 1,
        batch: 8,
        exportName: 'bridged',
        expose: {
          lookup(this: HostCallContext, id: number) {
            calls.push({ index: this.index, id });
            return id * 10;
          },
        },
        onProgress: (e) => log.push(`progress ${e.index} ${(e.value as { step: number }).step} ${(e.task as Task).n}`),
      }),
    ]);
    const outcomes: Outcome<Task, Result>[] = [];
    for await (const o of ex.run(Array.from({ length: n }, (_, i) => ({ n: i })))) {
      log.push(`outcome ${o.index}`);
      outcomes.push(o);
    }
    expect(outcomes).toHaveLength(n);
    for (const o of outcomes) expect(o).toMatchObject({ ok: true, value: { n: 2 * o.index, v: 10 * o.index } });
    for (let i = 0; i < n; i++) {
      const mine = log.filter((line) => line.startsWith(`progress ${i} `) || line === `outcome ${i}`);
      expect(mine).toEqual([`progress ${i} 1 ${i}`, `progress ${i} 2 ${i}`, `outcome ${i}`]);
    }
    expect(calls.sort((a, b) => a.id - b.id)).toEqual(Array.from({ length: n }, (_, i) => ({ index: i, id: i })));
    expect(cpuStage(ex).batch!.peak).toBe(8);
    expect(Math.max(...outcomes.map((o) => (o.ok ? o.value.run : 0)))).toBe(8);
  });
});

describe('the batch option', () => {
  it.each<[unknown]>([[0], [-1], [1.5], ['big'], [true], [65537], [Number.NaN]])('refuses %s, naming stages[0].batch', (batch) => {
    let caught: unknown;
    try {
      createExecutor({ stages: [cpu('compute', worker, { batch: batch as number })] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceOptionError);
    const e = caught as SluiceOptionError;
    expect(e).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'stages[0].batch' });
    expect(Object.is(e.received, batch)).toBe(true);
    expect(e.expected).toContain("'auto'");
    expect(e.message).toContain('stages[0].batch');
  });

  it('refuses a batch above 1 on a stage with timeoutMs, and takes 1, false and 65536', () => {
    let caught: unknown;
    try {
      createExecutor({ stages: [cpu('compute', worker, { batch: 8, timeoutMs: 1000 })] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceOptionError);
    expect(caught).toMatchObject({ option: 'stages[0].batch', received: 8 });
    expect((caught as SluiceOptionError).expected).toContain('timeoutMs');
    for (const batch of [1, false, 65536] as const) {
      expect(() => start([compute({ batch, timeoutMs: batch === 65536 ? 0 : 1000 })])).not.toThrow();
    }
  });

  it("'auto' with timeoutMs, and false: one task per message, however tiny the tasks", async () => {
    for (const options of [{ batch: 'auto', timeoutMs: 60_000 }, { batch: false }] as const) {
      const ex = start([compute(options)]);
      expectAllDoubled(await collect(ex.run(Array.from({ length: 300 }, (_, i) => ({ n: i })))), 300);
      const s = cpuStage(ex);
      expect({ options, batch: s.batch, capacity: s.capacity }).toMatchObject({
        options,
        batch: { size: 1, peak: 1, batches: 300 },
        capacity: THREADS,
      });
      expect(s.peakRunning).toBeLessThanOrEqual(THREADS);
      expect(ex.stats().buffers.at(-1)!.bound).toBe(THREADS);
    }
  });
});
