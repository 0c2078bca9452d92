/**
 * The BullMQ behaviours sluice's queue mode relies on (issue 12), pinned against a real
 * redis-server: manual processing (a Worker with no processor, getNextJob under our own tokens),
 * finishing exactly as claimed, duplicates in addBulk, locks and stalls, the queue-wide rate limit,
 * prefixes, closing and Redis going away. Each test fails if a BullMQ upgrade changes what it pins.
 */
import { type Job, Queue, type QueueOptions, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './helpers/redis.js';

let redis: RedisServer;
let raw: Redis;
let queues = 0;
const toClose: Array<() => Promise<unknown>> = [];
/** 'error' events of every queue and worker of the test; none is expected unless the test says so. */
const errors: Error[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis({ host: redis.host, port: redis.port });
  raw.on('error', () => {}); // the last test stops the server under it
});

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
  expect(errors.splice(0).map(String)).toEqual([]);
});

afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

const connection = () => ({ host: redis.host, port: redis.port });

function queueOf(options: Partial<QueueOptions> = {}): Queue {
  const queue = new Queue(`contract-${++queues}`, { ...options, connection: connection() });
  queue.on('error', (error) => errors.push(error));
  toClose.push(() => queue.close());
  return queue;
}

/** A Worker with no processor: nothing runs until the test calls getNextJob. */
function workerOf(queue: Queue, options: Partial<WorkerOptions> = {}): Worker {
  const worker = new Worker(queue.name, null, {
    drainDelay: 1,
    ...options,
    prefix: queue.opts.prefix,
    connection: connection(),
  });
  worker.on('error', (error) => errors.push(error));
  toClose.push(() => worker.close());
  return worker;
}

async function addIds(queue: Queue, ids: readonly string[], opts: { attempts?: number } = {}): Promise<Job[]> {
  return queue.addBulk(ids.map((id) => ({ name: 'task', data: { id }, opts: { ...opts, jobId: id } })));
}

async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Claims the next job, pulling again while a pull comes back empty (a spurious wake-up). */
async function claim(worker: Worker, token: string): Promise<Job> {
  for (let pull = 0; pull < 20; pull++) {
    const job = await worker.getNextJob(token, { block: true });
    if (job) return job;
  }
  throw new Error(`no job for ${token} after 20 pulls`);
}

async function info(section: string, field: string): Promise<number> {
  const text = await raw.info(section);
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** Calls of `command` since the last CONFIG RESETSTAT. */
async function calls(command: string): Promise<number> {
  const text = await raw.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

interface Pending<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
}

function track<T>(promise: Promise<T>): Pending<T> {
  const pending = { promise, settled: false };
  promise.then(
    () => {
      pending.settled = true;
    },
    () => {
      pending.settled = true;
    },
  );
  return pending;
}

/** Starts a pull on an empty queue and returns it once it is blocked in Redis (BZPOPMIN). */
async function blockedPull(worker: Worker, token: string): Promise<Pending<Job | undefined>> {
  for (let pull = 0; pull < 20; pull++) {
    const pending = track(worker.getNextJob(token, { block: true }));
    await waitFor('a pull to block or return', async () => pending.settled || (await info('clients', 'blocked_clients')) === 1);
    if (!pending.settled) return pending;
    expect(await pending.promise).toBeUndefined(); // the queue is empty: an empty pull, try again
  }
  throw new Error('no pull blocked after 20 tries');
}

async function lockOf(queue: Queue, id: string): Promise<string | null> {
  return raw.get(`${queue.toKey(id)}:lock`);
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: number };
  }
  throw new Error('expected a rejection');
}

describe('test/helpers/redis.ts', () => {
  it('fails, saying how to install it, where redis-server is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const error = await rejection(startRedis());
      expect(error.message).toMatch(/^redis-server is not installed/);
      expect(error.message).toContain('apt-get install -y redis-server');
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('BullMQ contract: manual processing on a real Redis', () => {
  it('a Worker with no processor claims one job per getNextJob, active and locked under the caller’s token', async () => {
    const queue = queueOf();
    await addIds(queue, ['a', 'b', 'c']);
    const worker = workerOf(queue);

    const first = await claim(worker, 'token-1');
    expect([first.id, first.token, first.attemptsStarted]).toEqual(['a', 'token-1', 1]);
    expect(await queue.getJobState('a')).toBe('active');
    expect(await lockOf(queue, 'a')).toBe('token-1');
    expect(await queue.getJobCounts('waiting', 'active')).toEqual({ waiting: 2, active: 1 });

    const second = await claim(worker, 'token-2');
    expect([second.id, second.token]).toEqual(['b', 'token-2']);
    expect(await lockOf(queue, 'b')).toBe('token-2');
    expect(await queue.getJobCounts('waiting', 'active')).toEqual({ waiting: 1, active: 2 });
    expect(worker.isRunning()).toBe(false); // no main loop: nothing is claimed behind our back
  });

  it('a pull on an empty queue first returns at once, then blocks until a job comes; a held job completes meanwhile', async () => {
    const queue = queueOf();
    await addIds(queue, ['a']);
    const worker = workerOf(queue, { drainDelay: 10 });
    const held = await claim(worker, 'token-a');

    await raw.config('RESETSTAT');
    expect(await worker.getNextJob('token-x', { block: true })).toBeUndefined();
    expect(await calls('bzpopmin')).toBe(0); // the first empty pull does not block

    const pull = await blockedPull(worker, 'token-b');
    // The blocking pop holds the worker's own blocking connection, not the one outcomes go through.
    await held.moveToCompleted({ done: 'a' }, 'token-a', false);
    expect(await queue.getJobState('a')).toBe('completed');
    expect(pull.settled).toBe(false);
    expect(await info('clients', 'blocked_clients')).toBe(1);

    await addIds(queue, ['b']);
    const job = await pull.promise;
    expect([job?.id, job?.token]).toEqual(['b', 'token-b']);
    expect(await lockOf(queue, 'b')).toBe('token-b');
  });

  it('moveToCompleted(value, token, false) claims nothing more; the default fetchNext claims the next job under the same token', async () => {
    const queue = queueOf();
    await addIds(queue, ['a', 'b', 'c']);
    const worker = workerOf(queue);

    const a = await claim(worker, 'token-a');
    await a.moveToCompleted({ done: 'a' }, 'token-a', false);
    expect(await queue.getJobCounts('waiting', 'active', 'completed')).toEqual({ waiting: 2, active: 0, completed: 1 });

    // The pitfall: fetchNext defaults to true and claims 'c' for a token nobody will finish it with.
    const b = await claim(worker, 'token-b');
    const next = await b.moveToCompleted({ done: 'b' }, 'token-b');
    expect(Array.isArray(next) && next[1]).toBe('c');
    expect(await queue.getJobCounts('waiting', 'active', 'completed')).toEqual({ waiting: 0, active: 1, completed: 2 });
    expect(await queue.getJobState('c')).toBe('active');
    expect(await lockOf(queue, 'c')).toBe('token-b');
  });

  it('moveToFailed(error, token, false) fails the job for good with its message; outcomes read back as stored', async () => {
    const queue = queueOf();
    await addIds(queue, ['a', 'b']);
    const worker = workerOf(queue);

    const value = { key: 'a', stage: 'store', n: 3, nested: { list: [1, 'two', null] } };
    await (await claim(worker, 'token-a')).moveToCompleted(value, 'token-a', false);
    const completed = await queue.getJob('a');
    expect(completed?.returnvalue).toEqual(value);
    expect([completed?.attemptsMade, typeof completed?.finishedOn]).toEqual([1, 'number']);

    // Only the message is stored as the reason (no cause, no own properties): structure goes in it.
    const reason = JSON.stringify({ stage: 'fetch', attempts: 3, cause: 'ECONNRESET' });
    const error = Object.assign(new Error(reason, { cause: new Error('socket hang up') }), { stage: 'fetch' });
    await (await claim(worker, 'token-b')).moveToFailed(error, 'token-b', false);
    const failed = await queue.getJob('b');
    expect(await queue.getJobState('b')).toBe('failed');
    expect(JSON.parse(failed?.failedReason ?? '')).toEqual({ stage: 'fetch', attempts: 3, cause: 'ECONNRESET' });
    expect([failed?.attemptsMade, failed?.stacktrace?.length, failed?.returnvalue]).toEqual([1, 1, null]);
    expect(await queue.getJobCounts('waiting', 'active', 'failed', 'completed')).toEqual({
      waiting: 0,
      active: 0,
      failed: 1,
      completed: 1,
    });
  });

  it('addBulk with deterministic ids adds each id once; a duplicate looks like an added job, EXISTS counts what was there', async () => {
    const queue = queueOf();
    const firstChunk = ['t-1', 't-2', 't-3', 't-4', 't-5'];
    const secondChunk = [...firstChunk, 't-6', 't-7'];
    await queue.addBulk(firstChunk.map((id) => ({ name: 'task', data: { v: 1 }, opts: { jobId: id } })));

    // What `sluice enqueue` can print as "already there": EXISTS on the chunk's job keys, before adding.
    expect(await raw.exists(...secondChunk.map((id) => queue.toKey(id)))).toBe(5);
    const added = await queue.addBulk(secondChunk.map((id) => ({ name: 'task', data: { v: 2 }, opts: { jobId: id } })));
    expect(added.map((job) => job.id)).toEqual(secondChunk); // no sign of which were duplicates
    expect(added[0]?.data).toEqual({ v: 2 }); // the returned Job is the input, not the stored job
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 7 });
    expect((await queue.getJob('t-1'))?.data).toEqual({ v: 1 }); // the stored job is untouched
    const events = await raw.xrange(queue.toKey('events'), '-', '+');
    expect(events.filter(([, fields]) => fields[1] === 'duplicated')).toHaveLength(5);

    // A finished job still holds its id: a re-enqueue adds nothing until the job is removed.
    const worker = workerOf(queue);
    await (await claim(worker, 'token')).moveToCompleted({ ok: true }, 'token', false);
    await addIds(queue, ['t-1']);
    expect(await queue.getJobState('t-1')).toBe('completed');
    expect(await queue.getJobCounts('waiting', 'completed')).toEqual({ waiting: 6, completed: 1 });
    await (await queue.getJob('t-1'))?.remove();
    await addIds(queue, ['t-1']);
    expect(await queue.getJobState('t-1')).toBe('waiting');

    // Ids sluice must not generate: an integer, or a ':' (unless exactly two); one bad id adds no job of its chunk.
    expect((await rejection(addIds(queue, ['42']))).message).toBe('Custom Id cannot be integers');
    expect((await rejection(addIds(queue, ['run:key']))).message).toBe('Custom Id cannot contain :');
    expect((await rejection(addIds(queue, ['t-8', 'run:key']))).message).toBe('Custom Id cannot contain :');
    expect(await queue.getJobState('t-8')).toBe('unknown');
    expect((await addIds(queue, ['run:task:1']))[0]?.id).toBe('run:task:1');
  });

  it('locks: extendJobLocks keeps a held job; an unrenewed one stays active until a stalled checker (not started in manual mode) returns it; its late outcome is refused', async () => {
    const queue = queueOf();
    await addIds(queue, ['a', 'b']);
    const worker = workerOf(queue, { lockDuration: 1000, stalledInterval: 300, maxStalledCount: 1 });
    const stalled: string[] = [];
    worker.on('stalled', (id) => stalled.push(id));
    const a = await claim(worker, 'token-a');
    const b = await claim(worker, 'token-b');

    // One timer renews what this node holds ('a'); each renewal sets the duration it asks for.
    const renewals: string[][] = [];
    const renew = setInterval(() => {
      worker.extendJobLocks(['a'], ['token-a'], 5000).then(
        (failed) => renewals.push(failed),
        (error: Error) => errors.push(error),
      );
    }, 150);
    try {
      await waitFor("b's lock to expire", async () => (await lockOf(queue, 'b')) === null);
      await sleep(3 * 300); // three stalled intervals: a checker, if one ran, would have marked both
      expect(await raw.scard(queue.toKey('stalled'))).toBe(0);
      expect(await raw.exists(queue.toKey('stalled-check'))).toBe(0);
      expect([await queue.getJobState('a'), await queue.getJobState('b')]).toEqual(['active', 'active']);
      expect(await worker.extendJobLocks(['a', 'b'], ['token-a', 'token-b'], 5000)).toEqual(['b']);

      await worker.startStalledCheckTimer();
      await waitFor("'b' back to waiting", async () => (await queue.getJobState('b')) === 'waiting');
      // The worker emits 'stalled' once its check's script has returned: after the state can be read.
      await waitFor("the 'stalled' event", async () => stalled.length > 0);
      expect(stalled).toEqual(['b']);
      expect(await raw.hget(queue.toKey('b'), 'stc')).toBe('1');
      expect(await queue.getJobState('a')).toBe('active');
      expect(await lockOf(queue, 'a')).toBe('token-a');
      expect(renewals.length).toBeGreaterThan(0);
      expect(renewals.flat()).toEqual([]);

      // The late outcome of a lost lock is refused: -2 with no lock, -6 once another token holds it.
      expect((await rejection(b.moveToCompleted('late', 'token-b', false))).code).toBe(-2);
      const again = await claim(workerOf(queue), 'token-b2');
      expect([again.id, again.stalledCounter, again.attemptsStarted]).toEqual(['b', 1, 2]);
      expect((await rejection(b.moveToCompleted('late', 'token-b', false))).code).toBe(-6);
      expect((await rejection(b.moveToFailed(new Error('late'), 'token-b', false))).code).toBe(-6);
      expect(await lockOf(queue, 'b')).toBe('token-b2');
      await again.moveToCompleted('redone', 'token-b2', false);
      expect((await queue.getJob('b'))?.returnvalue).toBe('redone');
    } finally {
      clearInterval(renew);
    }
    await a.moveToCompleted('kept', 'token-a', false);
    expect(await queue.getJobCounts('active', 'completed')).toEqual({ active: 0, completed: 2 });
  });

  it('a job stalled more than maxStalledCount times comes back to waiting with deferredFailure set; UnrecoverableError fails it despite attempts', async () => {
    const queue = queueOf();
    await addIds(queue, ['poison'], { attempts: 3 });
    const worker = workerOf(queue, { lockDuration: 500, stalledInterval: 250, maxStalledCount: 1 });
    await worker.startStalledCheckTimer();
    const stallCount = async () => Number((await raw.hget(queue.toKey('poison'), 'stc')) ?? 0);

    const first = await claim(worker, 'token-1'); // then its node dies: the lock is never renewed
    expect(first.deferredFailure).toBeUndefined();
    await waitFor('the first stall', async () => (await stallCount()) === 1 && (await queue.getJobState('poison')) === 'waiting');
    const second = await claim(worker, 'token-2');
    expect([second.deferredFailure, second.stalledCounter]).toEqual([undefined, 1]);
    await waitFor('the second stall', async () => (await stallCount()) === 2 && (await queue.getJobState('poison')) === 'waiting');

    // Not failed by BullMQ: back in waiting, marked; getNextJob hands it out like any job.
    expect(await raw.hget(queue.toKey('poison'), 'defa')).toBe('job stalled more than allowable limit');
    const third = await claim(worker, 'token-3');
    expect([third.id, third.deferredFailure, third.attemptsStarted]).toEqual(['poison', 'job stalled more than allowable limit', 3]);
    expect(await queue.getJobState('poison')).toBe('active');

    await third.moveToFailed(new UnrecoverableError(third.deferredFailure), 'token-3', false);
    const failed = await queue.getJob('poison');
    expect([await queue.getJobState('poison'), failed?.failedReason, failed?.attemptsMade]).toEqual([
      'failed',
      'job stalled more than allowable limit',
      1,
    ]);
  });

  it('a queue-wide rate limit: getNextJob returns at once without a job (no blocking pop) while jobs wait; getRateLimitTtl says how long', async () => {
    const queue = queueOf();
    await queue.setGlobalRateLimit(1, 1000);
    await addIds(queue, ['a', 'b', 'c']);
    const worker = workerOf(queue, { drainDelay: 10 });

    await raw.config('RESETSTAT');
    expect((await claim(worker, 'token-a')).id).toBe('a');
    expect(await worker.getNextJob('token-x', { block: true })).toBeUndefined();
    expect(await worker.getNextJob('token-y', { block: true })).toBeUndefined();
    expect(await calls('bzpopmin')).toBe(0);
    expect(await queue.getJobCounts('waiting', 'active')).toEqual({ waiting: 2, active: 1 });
    const ttl = await queue.getRateLimitTtl();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);

    // Sleep the TTL, then pull: the next job comes. The worker also keeps its own limit (its pull's
    // time + the TTL, a little later than Redis's), in force without a Redis call: sleep a bit more.
    let job: Job | undefined;
    for (let pull = 0; !job && pull < 20; pull++) {
      await sleep((await queue.getRateLimitTtl()) + 20);
      job = await worker.getNextJob('token-b', { block: true });
    }
    expect(job?.id).toBe('b');
  });

  it('moveToWait(token) hands a held job back at the head of waiting, unlocked; a wrong token is refused', async () => {
    const queue = queueOf();
    await addIds(queue, ['a', 'b', 'c']);
    const worker = workerOf(queue);

    const a = await claim(worker, 'token-1');
    expect(await a.moveToWait('token-1')).toBe(0); // 0: no rate limit in force
    expect([await queue.getJobState('a'), await lockOf(queue, 'a')]).toEqual(['waiting', null]);
    const again = await claim(worker, 'token-2');
    expect([again.id, again.attemptsStarted, again.stalledCounter]).toEqual(['a', 2, 0]);
    expect((await rejection(again.moveToWait('token-wrong'))).code).toBe(-6);
    expect(await queue.getJobCounts('waiting', 'active')).toEqual({ waiting: 2, active: 1 });
  });

  it('close() with a pull blocked: the pull rejects once its block ends; close(true) ends it at once with no job', async () => {
    const queue = queueOf();
    const gentle = workerOf(queue, { drainDelay: 1 });
    const gentlePull = await blockedPull(gentle, 'token-1');
    await gentle.close();
    expect((await rejection(gentlePull.promise)).message).toBe('Connection is closed.');

    const forced = workerOf(queue, { drainDelay: 10 });
    const forcedPull = await blockedPull(forced, 'token-2');
    await forced.close(true);
    expect(await forcedPull.promise).toBeUndefined();

    await addIds(queue, ['a']);
    expect(await queue.getJobCounts('waiting', 'active')).toEqual({ waiting: 1, active: 0 });
  });

  it('two prefixes on one Redis: queues of the same name see neither each other’s jobs nor their ids', async () => {
    const left = queueOf({ prefix: 'sluice-left' });
    const right = new Queue(left.name, { connection: connection(), prefix: 'sluice-right' });
    right.on('error', (error) => errors.push(error));
    toClose.push(() => right.close());
    await addIds(left, ['x', 'y']);

    expect(await right.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(await workerOf(right).getNextJob('token-r', { block: true })).toBeUndefined();
    expect(await raw.keys('sluice-right:*:x')).toEqual([]);
    await addIds(right, ['x']); // not a duplicate: the id is free under this prefix
    expect(await right.getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect(await left.getJobCounts('waiting')).toEqual({ waiting: 2 });
    expect((await claim(workerOf(left), 'token-l')).id).toBe('x');
    expect(await right.getJobState('x')).toBe('waiting');
  });

  it('Redis going away (stopped with its data, started again): a held job’s outcome and a pull made meanwhile go through once it is back', async () => {
    const queue = queueOf();
    await addIds(queue, ['a', 'b']);
    const worker = workerOf(queue);
    const held = await claim(worker, 'token-a');

    await redis.stop({ keep: true });
    const completing = track(held.moveToCompleted({ done: 'a' }, 'token-a', false));
    const pulling = track(worker.getNextJob('token-b', { block: true }));
    await waitFor('the worker to notice', () => errors.length > 0);
    expect([completing.settled, pulling.settled]).toEqual([false, false]);
    await redis.start();

    await completing.promise;
    expect((await pulling.promise)?.id).toBe('b');
    expect(await queue.getJobCounts('waiting', 'active', 'completed')).toEqual({ waiting: 0, active: 1, completed: 1 });
    expect(errors.splice(0).every((error) => /ECONNREFUSED/.test(error.message))).toBe(true);
  });
});
