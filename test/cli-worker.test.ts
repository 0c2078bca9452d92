/**
 * `sluice worker` against a real redis-server: in-process (`workerCommand`) it drains a queue
 * (every job completed, `--log json` lines and the metrics endpoint carrying the queue's figures),
 * stores a task that fails in a stage as a failed job with its stage and cause, and refuses bad
 * usage, another job's queue and an empty queue (exit 2, no password echoed). In child processes
 * (the built CLI) a first SIGINT lets the held tasks finish and a second hands them back to
 * waiting; neither leaves a job active. Tasks wait on a gate file, so every wait is for a state
 * (a log line, a notice, a count), never for a time window.
 *
 * The tasks are enqueued with the library's `enqueueEntries`, under the identity the worker checks
 * (the job's name and its module's fingerprint).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { moduleFingerprint } from '../src/cli/queue/args.js';
import { workerCommand } from '../src/cli/queue/worker-command.js';
import { parseGlobalRate } from '../src/cli/queue/worker-options.js';
import { eventLine, formatWorkerSummary } from '../src/cli/queue/worker-report.js';
import { enqueueEntries, type QueueResult, queueResults, queueStatus } from '../src/index.js';
import { killLeftovers, lines, type Running, startBin, until } from './helpers/bin-child.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

const jobFile = fileURLToPath(new URL('./fixtures/jobs/queue-worker-job.mjs', import.meta.url));

let redis: RedisServer;
let dir: string;
let queues = 0;
beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-worker-'));
});
afterEach(() => {
  killLeftovers();
});
afterAll(async () => {
  await redis?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Task {
  readonly id: string;
  readonly n: number;
  readonly gate?: string;
  readonly log?: string;
  readonly fail?: boolean;
}

function newQueue(): { queue: string; gate: string; log: string } {
  const queue = `worker-${++queues}`;
  return { queue, gate: join(dir, `${queue}.gate`), log: join(dir, `${queue}.log`) };
}

function tasks(count: number, extra: Partial<Task> = {}): Task[] {
  return Array.from({ length: count }, (_, n) => ({ id: `t${n}`, n, ...extra }));
}

/** Enqueues `list` for the fixture job (or, with `name`/`module`, for another job). */
async function put(queue: string, list: readonly Task[], identity?: { name: string; module?: string }): Promise<void> {
  const job = identity ?? { name: 'queue-worker', module: await moduleFingerprint(jobFile) };
  const entries = list.map((task, i) => ({ key: task.id, position: i, index: i, task }));
  const result = await enqueueEntries(job, entries, { connection: redis.url, queue });
  expect(result.added).toBe(list.length);
}

interface InProcess {
  readonly code: Promise<number>;
  readonly out: string[];
  readonly err: string[];
}

/** `sluice worker ARGS` in this process; Redis from SLUICE_REDIS_URL unless `env` says otherwise. */
function worker(args: readonly string[], env: Record<string, string> = { SLUICE_REDIS_URL: redis.url }): InProcess {
  const out: string[] = [];
  const err: string[] = [];
  const code = workerCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd: dir });
  return { code, out, err };
}

/** Polls `condition` every 10 ms; the limit only stops a hung test. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, stderr: () => string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (await condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}:\n${stderr()}`);
}

function jsonLines(err: readonly string[]): Array<Record<string, unknown>> {
  return err.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function logged(log: string, kind: 'start' | 'done'): string[] {
  return lines(log)
    .filter((l) => l.startsWith(`${kind} `))
    .map((l) => l.slice(kind.length + 1))
    .sort();
}

async function counts(queue: string) {
  return (await queueStatus({ connection: redis.url, queue })).counts;
}

async function results(queue: string): Promise<QueueResult[]> {
  const out: QueueResult[] = [];
  for await (const r of queueResults({ connection: redis.url, queue })) out.push(r);
  return out;
}

describe('sluice worker in-process', () => {
  it('drains a queue: every job completed, exit 0; --log json lines and the metrics carry the queue figures', async () => {
    const { queue, gate } = newQueue();
    await put(queue, tasks(12, { gate }));
    const run = worker([jobFile, '--queue', queue, '--exit-when-drained', '--log', 'json', '--log-interval', '100', '--metrics-port', '0']);
    const stderr = () => run.err.join('\n');
    let url = '';
    await waitFor(
      'the metrics endpoint',
      () => {
        url = /metrics on (\S+)/.exec(stderr())?.[1] ?? '';
        return url !== '';
      },
      stderr,
    );
    // The tasks wait at the gate: the worker holds jobs, and has looked at the queue.
    let text = '';
    await waitFor(
      'held jobs and the queue counts in the metrics',
      async () => {
        text = await (await fetch(url)).text();
        return /^sluice_queue_held [1-9]/m.test(text) && /^sluice_queue_jobs\{state="active"\} \d+$/m.test(text);
      },
      stderr,
    );
    for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed']) {
      expect(text).toMatch(new RegExp(`^sluice_queue_jobs\\{state="${state}"\\} \\d+$`, 'm'));
    }
    expect(text).toMatch(/^sluice_queue_claimed_total [1-9]/m);
    expect(text).toMatch(/^sluice_queue_peak_held [1-9]/m);
    await waitFor(
      'a progress line showing held jobs',
      () => jsonLines(run.err).some((l) => l.type === 'progress' && (l.held as number) > 0),
      stderr,
    );
    writeFileSync(gate, '');
    expect(await run.code, stderr()).toBe(0);

    expect(await counts(queue)).toMatchObject({ waiting: 0, active: 0, delayed: 0, completed: 12, failed: 0 });
    const logs = jsonLines(run.err);
    const progress = logs.filter((l) => l.type === 'progress');
    const final = progress.find((l) => l.final === true)!;
    expect(final).toMatchObject({ done: 12, completed: 12, failed: 0, held: 0, claimed: 12, handedBack: 0, dropped: 0 });
    expect(final.total).toBeUndefined();
    expect(Object.keys(final.queue as object).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'waiting']);
    const summary = logs.find((l) => l.type === 'summary');
    expect(summary).toMatchObject({
      type: 'summary',
      job: 'queue-worker',
      queue,
      redis: redis.url,
      reason: 'drained',
      claimed: 12,
      completed: 12,
      failed: 0,
      handedBack: 0,
      dropped: 0,
    });
    expect(summary!.peakHeld as number).toBeGreaterThan(0);
    expect(stderr()).not.toContain('"interruptedBy"');
  });

  it('stores a task that fails in a stage as a failed job with its stage and cause', async () => {
    const { queue } = newQueue();
    await put(
      queue,
      tasks(5).map((t) => (t.n === 2 ? { ...t, fail: true } : t)),
    );
    const run = worker([
      jobFile,
      '--queue',
      queue,
      '--exit-when-drained',
      '--log',
      'json',
      '--global-concurrency',
      '2',
      '--global-rate',
      '50/500ms',
    ]);
    expect(await run.code, run.err.join('\n')).toBe(0);
    // The queue-wide limits went to BullMQ as they were given.
    const bull = new Queue(queue, { connection: { host: redis.host, port: redis.port }, prefix: 'sluice' });
    try {
      expect(await bull.getGlobalConcurrency()).toBe(2);
      expect(await bull.getGlobalRateLimit()).toEqual({ max: 50, duration: 500 });
    } finally {
      await bull.close();
    }
    const stored = await results(queue);
    expect(stored).toHaveLength(5);
    expect(stored.find((r) => r.key === 't2')).toMatchObject({
      ok: false,
      index: 2,
      task: { id: 't2', n: 2, fail: true },
      stage: 'work',
      attempts: 1,
      error: { code: 'E_QUEUE_TEST', message: 'task t2 fails on purpose' },
    });
    expect(stored.find((r) => r.key === 't3')).toMatchObject({ ok: true, index: 3, value: { id: 't3', n2: 6 } });
    expect(jsonLines(run.err).find((l) => l.type === 'summary')).toMatchObject({ reason: 'drained', completed: 4, failed: 1 });
  });

  it('refuses bad usage with exit 2: no job, no queue, an unknown flag, a password in --redis, a bad --global-rate', async () => {
    const help = worker(['--help']);
    expect(await help.code).toBe(0);
    expect(help.out.join('\n')).toContain('--exit-when-drained');

    const noJob = worker(['--queue', 'q']);
    expect(await noJob.code).toBe(2);
    expect(noJob.err.join('\n')).toContain('expected one job module, got 0');

    const noQueue = worker([jobFile, '--exit-when-drained']);
    expect(await noQueue.code).toBe(2);
    expect(noQueue.err.join('\n')).toContain('no queue named: give --queue NAME');

    const unknown = worker([jobFile, '--queue', 'q', '--ordered']);
    expect(await unknown.code).toBe(2);
    expect(unknown.err.join('\n')).toContain('unknown flag --ordered');

    const password = worker([jobFile, '--queue', 'q', '--redis', 'redis://ops:s3cret-pw@127.0.0.1:6390']);
    expect(await password.code).toBe(2);
    expect(password.err.join('\n')).toContain('SLUICE_REDIS_URL');
    expect(password.err.join('\n')).not.toContain('s3cret-pw');

    const rate = worker([jobFile, '--queue', 'q', '--global-rate', '10/h']);
    expect(await rate.code).toBe(2);
    expect(rate.err.join('\n')).toMatch(/globalRate.*--global-rate.*N\/s, N\/m or N\/MSms/);
  });

  it("refuses a queue with nothing enqueued, a Redis away, another job's queue and another module's (exit 2), a password never shown", async () => {
    const { queue } = newQueue();
    // A password Redis does not need (it warns and goes on): the URL of every message is shown without it.
    const withPassword = { SLUICE_REDIS_URL: `redis://:pw-${queue}-secret@127.0.0.1:${redis.port}` };
    const empty = worker([jobFile, '--queue', queue], withPassword);
    expect(await empty.code).toBe(2);
    expect(empty.err.join('\n')).toContain(`queue ${queue} on redis://127.0.0.1:${redis.port} has no tasks of sluice's`);
    expect(empty.err.join('\n')).not.toContain('secret');

    const away = worker([jobFile, '--queue', queue], { SLUICE_REDIS_URL: 'redis://ops:away-secret@127.0.0.1:1' });
    expect(await away.code).toBe(2);
    expect(away.err.join('\n')).toContain('cannot reach Redis at redis://ops@127.0.0.1:1');
    expect(away.err.join('\n')).not.toContain('secret');

    await put(queue, tasks(2), { name: 'other-job' });
    const other = worker([jobFile, '--queue', queue, '--exit-when-drained']);
    expect(await other.code).toBe(2);
    expect(other.err.join('\n')).toMatch(/holds the tasks of another job \(the job's name is "queue-worker", the queue's "other-job"\)/);

    const changed = newQueue().queue;
    await put(changed, tasks(2), { name: 'queue-worker', module: 'f'.repeat(64) });
    const module = worker([jobFile, '--queue', changed, '--exit-when-drained']);
    expect(await module.code).toBe(2);
    expect(module.err.join('\n')).toContain("the job module's fingerprint is");
    // Nothing was claimed: the tasks still wait for their own job's workers.
    expect(await counts(queue)).toMatchObject({ waiting: 2, active: 0, completed: 0 });
    expect(await counts(changed)).toMatchObject({ waiting: 2, active: 0, completed: 0 });
  });
});

describe('what sluice worker says', () => {
  it('one notice per queue event, and a human summary', () => {
    const at = 'redis://127.0.0.1:6379';
    expect(eventLine({ type: 'redis-error', message: 'connect ECONNREFUSED' }, at)).toBe(
      `sluice worker: lost Redis at ${at}: connect ECONNREFUSED; retrying`,
    );
    expect(eventLine({ type: 'redis-back' }, at)).toBe(`sluice worker: Redis at ${at} is back`);
    expect(eventLine({ type: 'lock-lost', key: 'k1' }, at)).toContain('lost the lock of task k1');
    expect(eventLine({ type: 'late-outcome', key: 'k1' }, at)).toContain('dropped the late outcome of task k1');
    expect(eventLine({ type: 'stalled-failed', key: 'k2', attempts: 2 }, at)).toContain('task k2 failed for good');
    const stats = {
      id: 'w',
      held: 0,
      peakHeld: 6,
      claimed: 40,
      completed: 30,
      failed: 2,
      handedBack: 8,
      dropped: 1,
      stalledFailed: 1,
      queue: undefined,
    };
    const lines = formatWorkerSummary(
      { job: 'j', queue: 'q', redis: at, worker: 'w', reason: 'abort', elapsedMs: 4000, stats, interruptedBy: 'SIGTERM' },
      false,
    );
    expect(lines).toEqual([
      `sluice worker: j on queue q at ${at}: claimed 40, completed 30, failed 2 (1 after too many stalls), handed back 8, dropped late 1, peak held 6 in 4.0 s (8.0 tasks/s)`,
      'sluice worker: stopped by SIGTERM: 8 held jobs were handed back to waiting for other workers',
    ]);
    expect(parseGlobalRate('5/s')).toEqual({ max: 5, durationMs: 1000 });
    expect(parseGlobalRate('90/m')).toEqual({ max: 90, durationMs: 60_000 });
    expect(parseGlobalRate('3/250ms')).toEqual({ max: 3, durationMs: 250 });
  });
});

describe('sluice worker in a child process: signals', () => {
  function start(queue: string): Running {
    return startBin(['worker', jobFile, '--queue', queue, '--log', 'json', '--log-interval', '3600000'], {
      cwd: dir,
      env: { SLUICE_REDIS_URL: redis.url },
    });
  }

  function summaryOf(run: Running): Record<string, unknown> {
    const line = run
      .stderr()
      .split('\n')
      .find((l) => l.startsWith('{"type":"summary"'));
    expect(line, run.stderr()).toBeDefined();
    return JSON.parse(line!) as Record<string, unknown>;
  }

  it('a first SIGINT stops claiming and lets the held tasks finish and be stored: none left active, exit 130', async () => {
    const { queue, gate, log } = newQueue();
    await put(queue, tasks(20, { gate, log }));
    const run = start(queue);
    await until('4 tasks held at the gate', () => logged(log, 'start').length >= 4, run);
    run.child.kill('SIGINT');
    await until('the drain notice', () => run.stderr().includes('SIGINT: no new tasks'), run);
    writeFileSync(gate, '');
    expect(await run.exited, run.stderr()).toBe(130);

    const started = logged(log, 'start');
    expect(started.length).toBeGreaterThanOrEqual(4);
    expect(logged(log, 'done')).toEqual(started);
    expect(await counts(queue)).toMatchObject({ active: 0, completed: started.length, waiting: 20 - started.length, failed: 0 });
    expect(summaryOf(run)).toMatchObject({
      reason: 'drain',
      interruptedBy: 'SIGINT',
      claimed: started.length,
      completed: started.length,
      handedBack: 0,
    });
  });

  it('a second SIGINT aborts the hanging tasks and hands their jobs back to waiting: none left active, exit 130', async () => {
    const { queue, gate, log } = newQueue();
    await put(queue, tasks(20, { gate, log }));
    const run = start(queue);
    await until('4 tasks held at the gate', () => logged(log, 'start').length >= 4, run);
    run.child.kill('SIGINT');
    await until('the drain notice', () => run.stderr().includes('SIGINT: no new tasks'), run);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).toBe(130);

    expect(existsSync(gate)).toBe(false);
    expect(logged(log, 'done')).toEqual([]);
    expect(await counts(queue)).toMatchObject({ active: 0, completed: 0, failed: 0, waiting: 20 });
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ reason: 'abort', interruptedBy: 'SIGINT', completed: 0, failed: 0 });
    expect(summary.handedBack).toBe(summary.claimed);
    expect(summary.claimed as number).toBeGreaterThanOrEqual(4);
    expect(readFileSync(log, 'utf8')).not.toContain('done');
  });
});
