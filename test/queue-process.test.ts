/**
 * The queue across processes: the built `sluice enqueue`, `worker` and `results` in child
 * processes against one real redis-server. Workers run the job fixtures/jobs/queue-proc-job.mjs
 * (window 8), which appends each task's id to a file of its process as a stage starts it, so a
 * test counts every run of every task and knows which node ran it. A test waits for states (a
 * file's lines, a line on stderr, an exit), never for a time window: tasks that must stay in
 * flight wait at a gate file the test creates when it is ready. Short lock settings (2 s locks,
 * stalled checks every 500 ms) make a dead node's jobs come back quickly.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type QueueResult, queueResults, queueStatus } from '../src/index.js';
import { lines, type Running, startBin } from './helpers/bin-child.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

const job = fileURLToPath(new URL('./fixtures/jobs/queue-proc-job.mjs', import.meta.url));
/** The job's pipeline window (its default), and the outcomes being stored a worker may hold beyond it. */
const WINDOW = 8;
const SETTLING = 16;
const LOCKS = ['--lock-duration', '2000', '--stalled-interval', '500'];

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

interface Task {
  readonly id: string;
  readonly n: number;
  readonly fail?: true;
  readonly poison?: true;
}

interface Summary {
  readonly type: 'summary';
  readonly reason: string;
  readonly claimed: number;
  readonly completed: number;
  readonly failed: number;
  readonly stalledFailed: number;
  readonly handedBack: number;
  readonly dropped: number;
  readonly peakHeld: number;
}

/** A line of `sluice results`. */
interface ResultLine {
  readonly ok: boolean;
  readonly index: number;
  readonly task: Task;
  readonly value?: number;
  readonly stage?: string;
  readonly attempts?: number;
  readonly error?: { readonly message?: string; readonly code?: string };
}

/** One test's queue, folder and child processes (killed and removed when the test ends). */
interface Lab {
  readonly queue: string;
  readonly dir: string;
  readonly target: { readonly connection: string; readonly queue: string };
  sluice(args: readonly string[], env?: Record<string, string>): Running;
  /** `sluice enqueue JOB --input DIR/input.jsonl --queue QUEUE`, waited for. */
  enqueue(): Promise<{ code: number | null; out: string; err: string }>;
  /** `sluice worker` with JSON logs (the summary on stderr), short locks, until the queue is drained. */
  worker(env?: Record<string, string>, args?: readonly string[]): Running;
  /** `sluice results --queue QUEUE` to stdout, waited for. */
  results(): Promise<{ code: number | null; lines: ResultLine[]; err: string }>;
  /** The ids of the tasks a worker process started, in order. */
  runsOf(run: Running): string[];
  /** How often each task was started, over every process of the test. */
  runCounts(): Map<string, number>;
}

let labs = 0;

/** A lab with `count` tasks `{ id: "t<n>", n }` (changed by `shape`) in its input file. */
async function lab(count: number, shape: (task: Task) => Task = (t) => t): Promise<Lab> {
  const queue = `proc-${++labs}`;
  const dir = await mkdtemp(join(tmpdir(), `sluice-queue-process-${queue}-`));
  const runsDir = join(dir, 'runs');
  await mkdir(runsDir);
  const children: Running[] = [];
  onTestFinished(async () => {
    const left = children.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
    for (const c of left) c.child.kill('SIGKILL');
    await Promise.all(left.map((c) => c.exited));
    await rm(dir, { recursive: true, force: true });
  });
  const input = join(dir, 'input.jsonl');
  const tasks = Array.from({ length: count }, (_, n) => shape({ id: `t${n}`, n }));
  writeFileSync(input, tasks.map((t) => `${JSON.stringify(t)}\n`).join(''));

  const self: Lab = {
    queue,
    dir,
    target: { connection: redis.url, queue },
    sluice(args, env = {}) {
      const run = startBin(args, { cwd: dir, env: { SLUICE_REDIS_URL: redis.url, SLUICE_TEST_RUNS: runsDir, ...env } });
      children.push(run);
      return run;
    },
    async enqueue() {
      const run = self.sluice(['enqueue', job, '--input', input, '--queue', queue]);
      const code = await run.exited;
      return { code, out: run.stdout().trim(), err: run.stderr() };
    },
    worker(env = {}, args = []) {
      return self.sluice(
        ['worker', job, '--queue', queue, '--log', 'json', '--log-interval', '3600000', '--exit-when-drained', ...LOCKS, ...args],
        env,
      );
    },
    async results() {
      const run = self.sluice(['results', '--queue', queue]);
      const code = await run.exited;
      const parsed = nonEmpty(run.stdout()).map((l) => JSON.parse(l) as ResultLine);
      return { code, lines: parsed, err: run.stderr() };
    },
    runsOf(run) {
      return lines(join(runsDir, `runs-${run.child.pid}.log`));
    },
    runCounts() {
      const counts = new Map<string, number>();
      for (const file of readdirSync(runsDir)) {
        for (const id of lines(join(runsDir, file))) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
  };
  return self;
}

function nonEmpty(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** The worker's JSON summary line (stderr). */
function summaryOf(run: Running): Summary {
  const line = nonEmpty(run.stderr()).find((l) => l.startsWith('{') && l.includes('"type":"summary"'));
  if (line === undefined) throw new Error(`no summary line in the worker's stderr:\n${run.stderr()}`);
  return JSON.parse(line) as Summary;
}

/** Polls `condition` every 10 ms; fails when one of `children` exits first, or after 3000 polls (a hung test). */
async function waitFor(what: string, condition: () => boolean, children: readonly Running[]): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (condition()) return;
    const gone = children.find((c) => c.child.exitCode !== null || c.child.signalCode !== null);
    if (gone !== undefined) throw new Error(`a child exited before ${what}:\n${gone.stderr()}`);
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}:\n${children.map((c) => c.stderr()).join('\n---\n')}`);
}

/** The queue's results through the library (where the lines' format is not what a test is about). */
async function resultsOf(l: Lab): Promise<QueueResult[]> {
  const out: QueueResult[] = [];
  for await (const r of queueResults(l.target)) out.push(r);
  return out;
}

/** The ids of tasks `t0`..`t<count-1>`, sorted. */
function allIds(count: number): string[] {
  return Array.from({ length: count }, (_, n) => `t${n}`).sort();
}

const stderrs = (runs: readonly Running[]): string => runs.map((r) => r.stderr()).join('\n---\n');

describe('sluice worker processes on one queue', () => {
  it('three workers share 3,000 tasks: each outcome once in sluice results; no node held more than its window + 16', async () => {
    const l = await lab(3000);
    const enqueued = await l.enqueue();
    expect(enqueued.code, enqueued.err).toBe(0);
    expect(enqueued.out).toBe(
      `enqueued 3000 new task(s) on queue ${l.queue} at redis://127.0.0.1:${redis.port} (0 already there, 0 rejected)`,
    );
    const gate = join(l.dir, 'gate');
    const workers = [0, 1, 2].map(() => l.worker({ SLUICE_TEST_GATE: gate }));
    // Every node fills its window before any task finishes: all three take part.
    await waitFor('each worker to start a full window of tasks', () => workers.every((w) => l.runsOf(w).length >= WINDOW), workers);
    expect(workers.map((w) => l.runsOf(w).length)).toEqual([WINDOW, WINDOW, WINDOW]);
    writeFileSync(gate, '');
    expect(await Promise.all(workers.map((w) => w.exited)), stderrs(workers)).toEqual([0, 0, 0]);

    const summaries = workers.map(summaryOf);
    for (const s of summaries) {
      expect(s).toMatchObject({ reason: 'drained', failed: 0, handedBack: 0, dropped: 0, stalledFailed: 0 });
      expect(s.completed).toBe(s.claimed);
      expect(s.peakHeld).toBeGreaterThanOrEqual(WINDOW);
      expect(s.peakHeld).toBeLessThanOrEqual(WINDOW + SETTLING);
    }
    expect(summaries.reduce((sum, s) => sum + s.claimed, 0)).toBe(3000);
    // No task was started twice (no lock was lost), none was left out.
    const counts = l.runCounts();
    expect(counts.size).toBe(3000);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);

    const read = await l.results();
    expect(read.code, read.err).toBe(0);
    expect(read.lines.map((r) => r.task.id).sort()).toEqual(allIds(3000));
    expect(read.lines.every((r) => r.ok && r.value === r.task.n * 2 && r.index === r.task.n)).toBe(true);
    expect(read.err).not.toContain('warning');
  });

  it('kill -9 of a worker: its jobs come back after the stall interval and complete on the others; none completes twice', async () => {
    const l = await lab(200);
    expect((await l.enqueue()).code).toBe(0);
    // The victim completes 40 tasks, then holds a full window of tasks that make no progress.
    const victim = l.worker({ SLUICE_TEST_HANG_AFTER: '40' });
    await waitFor('the victim to hold a full window of stuck tasks', () => l.runsOf(victim).length >= 40 + WINDOW, [victim]);
    // Mid-run: both survivors hold a full window (at a gate) and the rest of the tasks wait.
    const gate = join(l.dir, 'gate');
    const survivors = [l.worker({ SLUICE_TEST_GATE: gate }), l.worker({ SLUICE_TEST_GATE: gate })];
    const full = () => survivors.every((s) => l.runsOf(s).length >= WINDOW);
    await waitFor('both survivors to hold a full window', full, [victim, ...survivors]);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(victim.child.signalCode).toBe('SIGKILL');
    writeFileSync(gate, '');

    // The survivors end only once the victim's jobs came back (stalled) and they completed them.
    expect(await Promise.all(survivors.map((s) => s.exited)), stderrs(survivors)).toEqual([0, 0]);
    const summaries = survivors.map(summaryOf);
    for (const s of summaries) expect(s).toMatchObject({ reason: 'drained', failed: 0, dropped: 0, stalledFailed: 0 });
    expect(summaries.reduce((sum, s) => sum + s.completed, 0)).toBe(200 - 40);

    // Nothing ran twice but the jobs the victim held when it died (at most its window + 16).
    const victimRuns = l.runsOf(victim);
    expect(victimRuns).toHaveLength(40 + WINDOW);
    const counts = l.runCounts();
    expect(counts.size).toBe(200);
    const twice = [...counts].filter(([, c]) => c > 1).map(([id]) => id);
    expect(twice.sort()).toEqual(victimRuns.slice(40).sort());
    expect(twice.length).toBeLessThanOrEqual(WINDOW + SETTLING);
    expect([...counts.values()].every((c) => c <= 2)).toBe(true);

    const read = await resultsOf(l);
    expect(read.map((r) => r.key).sort()).toEqual(allIds(200));
    expect(read.every((r) => r.ok)).toBe(true);
    expect((await queueStatus(l.target)).counts).toMatchObject({ waiting: 0, active: 0, completed: 200, failed: 0 });
  });

  it('a re-run enqueue adds nothing; a failing task is a failed job with its stage and cause; a poison task fails after the allowed stalls', async () => {
    const l = await lab(20, (t) => (t.n === 5 ? { ...t, fail: true } : t.n === 7 ? { ...t, poison: true } : t));
    const at = `redis://127.0.0.1:${redis.port}`;
    const first = await l.enqueue();
    expect(first.code, first.err).toBe(0);
    expect(first.out).toBe(`enqueued 20 new task(s) on queue ${l.queue} at ${at} (0 already there, 0 rejected)`);
    const again = await l.enqueue();
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe(`enqueued 0 new task(s) on queue ${l.queue} at ${at} (20 already there, 0 rejected)`);

    // One worker at a time (window 1: it dies holding the poison task alone); one that dies is replaced.
    const deaths: Running[] = [];
    let last: Running | undefined;
    for (let i = 0; i < 5 && last === undefined; i++) {
      const w = l.worker({ SLUICE_TEST_WINDOW: '1' }, ['--max-stalled', '1']);
      await w.exited;
      if (w.child.signalCode === 'SIGKILL') deaths.push(w);
      else last = w;
    }
    // --max-stalled 1: its job stalled twice (two workers died), and the third worker failed it.
    expect(deaths).toHaveLength(2);
    expect(last).toBeDefined();
    expect(await last!.exited, last!.stderr()).toBe(0);
    expect(summaryOf(last!)).toMatchObject({ reason: 'drained', stalledFailed: 1 });
    expect(last!.stderr()).toContain('sluice worker: task t7 failed for good: its job stalled more than allowed');
    const counts = l.runCounts();
    expect(counts.size).toBe(20);
    expect(counts.get('t7')).toBe(2);
    expect([...counts].filter(([id]) => id !== 't7').every(([, c]) => c === 1)).toBe(true);

    const read = await l.results();
    expect(read.code, read.err).toBe(1);
    expect(read.lines.map((r) => r.task.id).sort()).toEqual(allIds(20));
    const byId = new Map(read.lines.map((r) => [r.task.id, r]));
    expect(byId.get('t5')).toMatchObject({
      ok: false,
      index: 5,
      stage: 'work',
      attempts: 1,
      error: { message: 'task t5 fails on purpose', code: 'E_QUEUE_PROC_TEST' },
    });
    expect(byId.get('t7')).toMatchObject({ ok: false, index: 7, stage: 'worker', error: { code: 'ERR_SLUICE_QUEUE' } });
    expect(byId.get('t7')?.error?.message).toContain('stalled more than the allowed times');
    expect(read.lines.filter((r) => r.ok)).toHaveLength(18);
    expect(read.err).toContain('18 completed, 2 failed');
  });

  it('SIGINT: held jobs are finished (once) or handed back (twice), none stays active, exit 130', async () => {
    const l = await lab(40);
    expect((await l.enqueue()).code).toBe(0);

    // One SIGINT while a full window waits at the gate: no new claims, the held tasks finish.
    const gate = join(l.dir, 'gate');
    const first = l.worker({ SLUICE_TEST_GATE: gate });
    await waitFor('a full window in flight', () => l.runsOf(first).length >= WINDOW, [first]);
    first.child.kill('SIGINT');
    await waitFor('the drain notice', () => first.stderr().includes('SIGINT: no new tasks'), [first]);
    writeFileSync(gate, '');
    expect(await first.exited, first.stderr()).toBe(130);
    expect(summaryOf(first)).toMatchObject({ reason: 'drain', claimed: WINDOW, completed: WINDOW, handedBack: 0 });
    expect((await queueStatus(l.target)).counts).toMatchObject({ waiting: 40 - WINDOW, active: 0, completed: WINDOW });

    // Two SIGINTs while a full window waits at a gate that never opens: the held jobs go back to waiting.
    const second = l.worker({ SLUICE_TEST_GATE: join(l.dir, 'never') });
    await waitFor('a full window in flight', () => l.runsOf(second).length >= WINDOW, [second]);
    second.child.kill('SIGINT');
    await waitFor('the drain notice', () => second.stderr().includes('SIGINT: no new tasks'), [second]);
    second.child.kill('SIGINT');
    expect(await second.exited, second.stderr()).toBe(130);
    expect(summaryOf(second)).toMatchObject({ reason: 'abort', claimed: WINDOW, completed: 0, handedBack: WINDOW });
    expect((await queueStatus(l.target)).counts).toMatchObject({ waiting: 40 - WINDOW, active: 0, completed: WINDOW, failed: 0 });
  });

  it('Redis going away mid-run: the worker says so, retries, resumes when it is back; no task lost', async () => {
    const l = await lab(60);
    expect((await l.enqueue()).code).toBe(0);
    // Tasks from t20 on wait at the gate: Redis goes away while the worker holds a window of them.
    const gate = join(l.dir, 'gate');
    const w = l.worker({ SLUICE_TEST_GATE: gate, SLUICE_TEST_GATE_FROM: '20' });
    await waitFor('a full window at the gate', () => l.runsOf(w).length >= 20 + WINDOW, [w]);
    await redis.stop({ keep: true });
    try {
      await waitFor('the worker to report Redis lost', () => /lost Redis at redis:\/\/127\.0\.0\.1:\d+: .*; retrying/.test(w.stderr()), [
        w,
      ]);
      // The held tasks finish while Redis is away. It stays away a few seconds (a pause, not a
      // measured window), longer than the 2 s locks, so the held jobs' locks usually expire: their
      // outcomes are then dropped and the jobs come back and run again; if not, the outcomes are
      // stored late. Either way each task ends up completed once.
      writeFileSync(gate, '');
      await sleep(2500);
    } finally {
      await redis.start();
    }
    expect(await w.exited, w.stderr()).toBe(0);
    expect(w.stderr()).toContain(`sluice worker: Redis at redis://127.0.0.1:${redis.port} is back`);
    const summary = summaryOf(w);
    expect(summary).toMatchObject({ reason: 'drained', completed: 60, failed: 0 });
    // Only the held jobs can have run twice (their outcomes dropped); none was lost.
    const counts = l.runCounts();
    expect(counts.size).toBe(60);
    const twice = [...counts].filter(([, c]) => c > 1).map(([id]) => id);
    expect(twice.length).toBeLessThanOrEqual(WINDOW + SETTLING);
    expect(twice.length).toBeGreaterThanOrEqual(summary.dropped);

    const read = await resultsOf(l);
    expect(read.map((r) => r.key).sort()).toEqual(allIds(60));
    expect(read.every((r) => r.ok && r.value === (r.task as Task).n * 2)).toBe(true);
    expect((await queueStatus(l.target)).counts).toMatchObject({ waiting: 0, active: 0, completed: 60, failed: 0 });
  });
});
