/**
 * The queue library against a real redis-server: enqueue (deterministic ids, nothing added twice,
 * bad tasks reported), a worker that drains the queue (held jobs within its window, every outcome
 * stored once), the job check, results, status and clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanQueue,
  createExecutor,
  defineJob,
  enqueue,
  io,
  queueResults,
  queueStatus,
  runWorker,
  SluiceQueueError,
  startQueueWorker,
  type QueueResult,
} from '../src/index.js';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from './helpers/redis.js';

let redis: RedisServer;
let n = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const target = () => ({ connection: redis.url, queue: `lib-${++n}` });

const doubler = defineJob({
  name: 'doubler',
  key: (task: { id: string; n: number }) => task.id,
  options: { window: 4 },
  stages: [
    io(
      'double',
      async (task: { id: string; n: number }) => {
        if (task.n === 13) throw new Error('unlucky');
        return task.n * 2;
      },
      { concurrency: 3 },
    ),
  ],
});

const tasks = (count: number) => Array.from({ length: count }, (_, i) => ({ id: `t${i}`, n: i }));

async function collect(options: Parameters<typeof queueResults>[0]): Promise<QueueResult[]> {
  const out: QueueResult[] = [];
  for await (const r of queueResults(options)) out.push(r);
  return out;
}

describe('queue library', () => {
  it('enqueues with deterministic ids: a second enqueue adds nothing; a worker drains it; each result once', async () => {
    const t = target();
    const first = await enqueue(doubler, tasks(300), { ...t, chunkSize: 64 });
    expect(first).toMatchObject({ added: 300, existing: 0, rejected: 0, complete: true });
    const again = await enqueue(doubler, tasks(310), t);
    expect(again).toMatchObject({ added: 10, existing: 300, rejected: 0 });
    const result = await runWorker(doubler, { ...t, exitWhenDrained: true });
    expect(result.reason).toBe('drained');
    expect(result.stats).toMatchObject({ completed: 309, failed: 1, held: 0, dropped: 0 });
    expect(result.stats.peakHeld).toBeLessThanOrEqual(4 + 16);
    const results = await collect(t);
    expect(results).toHaveLength(310);
    expect(new Set(results.map((r) => r.key)).size).toBe(310);
    const bad = results.find((r) => !r.ok);
    expect(bad).toMatchObject({ key: 't13', ok: false, stage: 'double', attempts: 1, error: { message: 'unlucky' } });
    expect(results.find((r) => r.key === 't7')).toMatchObject({ ok: true, value: 14, index: 7, task: { id: 't7', n: 7 } });
    const status = await queueStatus(t);
    expect(status.counts).toMatchObject({ waiting: 0, active: 0, completed: 309, failed: 1 });
    expect(status.job).toMatchObject({ name: 'doubler', resultsRead: true });
    expect(await cleanQueue(t)).toEqual({ removed: 310 });
  });

  it('a worker of another job refuses to start; nothing enqueued is refused too', async () => {
    const t = target();
    const executor = createExecutor({ stages: [io('x', async (v: unknown) => v, { concurrency: 1 })] });
    try {
      await expect(startQueueWorker({ ...t, executor, job: { name: 'doubler' } })).rejects.toThrow(/nothing was enqueued/);
      await enqueue(doubler, tasks(3), t);
      const error = await startQueueWorker({ ...t, executor, job: { name: 'other' } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SluiceQueueError);
      expect((error as SluiceQueueError).changes).toEqual([{ field: 'job.name', was: 'doubler', now: 'other' }]);
    } finally {
      await executor.close();
    }
  });

  it('a signal hands held jobs back to waiting; drain lets them finish; nothing stays active', async () => {
    const t = target();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: string[] = [];
    const hanging = defineJob({
      name: 'hanging',
      key: (task: { id: string }) => task.id,
      stages: [
        io(
          'wait',
          async (task: { id: string }, ctx) => {
            started.push(task.id);
            await Promise.race([gate, new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))]);
            return task.id;
          },
          { concurrency: 3 },
        ),
      ],
    });
    await enqueue(hanging, tasks(10), t);
    const executor = createExecutor({ stages: hanging.stages as never });
    const abort = new AbortController();
    try {
      const worker = await startQueueWorker({ ...t, executor, job: { name: 'hanging' }, signal: abort.signal });
      await until(() => started.length === 3);
      expect(worker.stats().held).toBeGreaterThanOrEqual(3);
      abort.abort(new Error('stop'));
      const result = await worker.done;
      expect(result.reason).toBe('abort');
      expect(result.stats).toMatchObject({ completed: 0, failed: 0, held: 0 });
      expect(result.stats.handedBack).toBe(result.stats.claimed);
    } finally {
      await executor.close();
    }
    const status = await queueStatus(t);
    expect(status.counts).toMatchObject({ waiting: 10, active: 0, completed: 0 });

    // Drain: the held ones finish and are stored, the rest stays waiting.
    const executor2 = createExecutor({ stages: hanging.stages as never });
    const drain = new AbortController();
    started.length = 0;
    try {
      const worker = await startQueueWorker({ ...t, executor: executor2, job: { name: 'hanging' }, drain: drain.signal });
      await until(() => started.length === 3);
      drain.abort();
      release();
      const result = await worker.done;
      expect(result.reason).toBe('drain');
      expect(result.stats.completed).toBe(result.stats.claimed);
      expect(result.stats.handedBack).toBe(0);
    } finally {
      await executor2.close();
    }
    const after = await queueStatus(t);
    expect(after.counts.active).toBe(0);
    expect(after.counts.waiting + after.counts.completed).toBe(10);
  });

  it('a lost lock: the job comes back for another worker, and the late outcome is dropped, not stored twice', async () => {
    const t = target();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let runs = 0;
    const slow = defineJob({
      name: 'slow',
      key: (task: { id: string }) => task.id,
      stages: [
        io(
          'slow',
          async (task: { id: string }) => {
            runs += 1;
            if (runs === 1) await gate;
            return task.id;
          },
          { concurrency: 1 },
        ),
      ],
    });
    await enqueue(slow, [{ id: 'only' }], t);
    const raw = new Redis(redis.url);
    raw.on('error', () => undefined);
    const events: string[] = [];
    const stopFirst = new AbortController();
    const a = createExecutor({ stages: slow.stages as never });
    const b = createExecutor({ stages: slow.stages as never });
    try {
      const first = await startQueueWorker({
        ...t,
        executor: a,
        job: { name: 'slow' },
        drain: stopFirst.signal,
        lockDurationMs: 1000,
        stalledIntervalMs: 200,
        onEvent: (e) => events.push(e.type),
      });
      await until(() => runs === 1);
      // Another node's view: the lock is gone (as after a long pause); the next renewal fails.
      const [id] = (await raw.keys(`sluice:${t.queue}:*:lock`)).map((k) => k);
      await raw.del(id!);
      await until(() => events.includes('lock-lost'));
      const second = await startQueueWorker({
        ...t,
        executor: b,
        job: { name: 'slow' },
        lockDurationMs: 1000,
        stalledIntervalMs: 200,
        exitWhenDrained: true,
      });
      const done2 = await second.done;
      expect(done2.stats.completed).toBe(1);
      release();
      await until(() => events.includes('late-outcome'));
      stopFirst.abort();
      expect((await first.done).stats).toMatchObject({ completed: 0, dropped: 1 });
    } finally {
      raw.disconnect();
      await a.close();
      await b.close();
    }
    const results = await collect(t);
    expect(results).toHaveLength(1);
    expect(runs).toBe(2);
  });

  it('a queue-wide rate limit: the worker sleeps while it is in force instead of spinning on empty pulls', async () => {
    const t = target();
    await enqueue(doubler, tasks(6), t);
    const raw = new Redis(redis.url);
    raw.on('error', () => undefined);
    try {
      await raw.config('RESETSTAT');
      const result = await runWorker(doubler, { ...t, exitWhenDrained: true, globalRate: { max: 2, durationMs: 400 } });
      expect(result.stats).toMatchObject({ completed: 6, failed: 0 });
      // 6 jobs at 2 per 400 ms: two waits of the limit. A spinning claim loop makes thousands of
      // script calls in that time; sleeping the limit's TTL makes a few per job.
      const stats = await raw.info('commandstats');
      const calls = [...stats.matchAll(/^cmdstat_(evalsha|eval|pttl|bzpopmin):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[2]), 0);
      expect(calls).toBeGreaterThan(6);
      expect(calls).toBeLessThan(200);
    } finally {
      raw.disconnect();
    }
  });

  it('Redis going away mid-run: the worker reports it, waits, and goes on; no task lost', async () => {
    const t = target();
    const events: string[] = [];
    let done = 0;
    const steady = defineJob({
      name: 'steady',
      key: (task: { id: string }) => task.id,
      stages: [
        io(
          'tick',
          async (task: { id: string }) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            done += 1;
            return task.id;
          },
          { concurrency: 4 },
        ),
      ],
    });
    await enqueue(steady, tasks(400), t);
    // Short locks: a claim whose reply died with the server (the job is active under a lock nobody
    // holds) comes back through the stalled check, after the lock and one interval, as on a node's death.
    const result = runWorker(steady, {
      ...t,
      exitWhenDrained: true,
      lockDurationMs: 2000,
      stalledIntervalMs: 500,
      onEvent: (e) => events.push(e.type),
    });
    await until(() => done >= 50);
    await redis.stop({ keep: true });
    await until(() => events.includes('redis-error'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.start();
    const ended = await result;
    expect(ended.reason).toBe('drained');
    expect(events).toContain('redis-back');
    const results = await collect(t);
    expect(new Set(results.map((r) => r.key)).size).toBe(400);
    expect(results).toHaveLength(400);
  });
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
