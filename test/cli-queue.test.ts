/**
 * The queue commands in-process (`main(argv, io)`) against a real redis-server of the file's own:
 * `sluice enqueue` (counts, nothing added twice, bad records with their lines, --limit, the job's
 * own input, another job refused, a password on the command line refused, Redis unreachable),
 * `sluice results` (the lines `sluice run` writes, each task once, --failed, --output replaced only
 * after a whole read), `sluice status --queue` (counts, job, paused, a live worker, --json),
 * `sluice queue pause|resume|clean`, and passwords: an ACL user's shows in no output, `sluice
 * config` included. The queues are drained by the library's worker (runWorker/startQueueWorker),
 * so these tests do not depend on `sluice worker`.
 *
 * The job (fixtures/jobs/queue-job.mjs) imports the built package: `npm run build` first.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleFingerprint } from '../src/cli/queue/args.js';
import { main } from '../src/cli/main.js';
import { createExecutor, queueStatus, runWorker, startQueueWorker, type Job, type Stage } from '../src/index.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

const jobFile = fileURLToPath(new URL('./fixtures/jobs/queue-job.mjs', import.meta.url));
const otherJobFile = fileURLToPath(new URL('./fixtures/jobs/queue-other-job.mjs', import.meta.url));

let redis: RedisServer;
let dir: string;
let job: Job;
let fingerprint: string;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-queue-'));
  job = (await import(jobFile)).default as Job;
  fingerprint = await moduleFingerprint(jobFile);
});
afterAll(async () => {
  await redis?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const nextQueue = (): string => `cliq-${++n}`;

interface Ran {
  readonly code: number;
  /** Standard output, one entry per line. */
  readonly out: string[];
  readonly err: string[];
  /** Everything printed. */
  readonly all: string;
}

/** `sluice ARGS` in-process, with `env` as its whole environment (SLUICE_REDIS_URL: the test's Redis unless given). */
async function sluice(args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (lines) => out.push(...lines.split('\n')),
    err: (line) => err.push(line),
    env: { SLUICE_REDIS_URL: redis.url, ...env },
    cwd: dir,
  });
  return { code, out, err, all: [...out, ...err].join('\n') };
}

async function inputFile(name: string, lines: readonly (string | object)[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return path;
}

/** Runs the queue's tasks with the library's worker until the queue is drained. */
async function drain(queue: string): Promise<void> {
  const result = await runWorker(job, { connection: redis.url, queue, module: fingerprint, exitWhenDrained: true });
  expect(result.reason).toBe('drained');
}

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const tasks = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, n: i }));

describe('sluice enqueue', () => {
  it('enqueues the records of an input file and prints the counts; the same enqueue again adds nothing', async () => {
    const queue = nextQueue();
    const input = await inputFile('five.jsonl', tasks(5, 'a'));
    const first = await sluice(['enqueue', jobFile, '--input', input, '--queue', queue]);
    expect(first.err).toEqual([]);
    expect(first.out).toEqual([`enqueued 5 new task(s) on queue ${queue} at ${redis.url} (0 already there, 0 rejected)`]);
    expect(first.code).toBe(0);
    const again = await sluice(['enqueue', jobFile, '--input', input, '--queue', queue]);
    expect(again.out).toEqual([`enqueued 0 new task(s) on queue ${queue} at ${redis.url} (5 already there, 0 rejected)`]);
    expect(again.code).toBe(0);
    const json = await sluice(['enqueue', jobFile, '--input', input, '--queue', queue, '--log', 'json']);
    expect(json.out).toHaveLength(1);
    expect(JSON.parse(json.out[0]!)).toMatchObject({ queue, redis: redis.url, job: 'queue-cli', added: 0, existing: 5, rejected: 0 });
    const status = await queueStatus({ connection: redis.url, queue });
    expect(status.counts).toMatchObject({ waiting: 5, active: 0, completed: 0 });
    expect(status.job).toMatchObject({ name: 'queue-cli', module: fingerprint });
  });

  it('reports bad records with their line numbers (exit 1) and enqueues the good ones', async () => {
    const queue = nextQueue();
    const input = await inputFile('mixed.jsonl', [
      { id: 'b0', n: 0 },
      '{not json',
      { id: 'b2', n: 2 },
      { id: 'b3', n: 'three' },
      { id: 'b4', n: 4 },
      { n: 5 },
      { id: 'b6', n: 6 },
    ]);
    const ran = await sluice(['enqueue', jobFile, '--input', input, '--queue', queue]);
    expect(ran.out).toEqual([`enqueued 4 new task(s) on queue ${queue} at ${redis.url} (0 already there, 3 rejected)`]);
    expect(ran.code).toBe(1);
    expect(ran.err).toHaveLength(3);
    expect(ran.err[0]).toContain(`${input}:2:`);
    expect(ran.err[1]).toContain(`${input}:4:`);
    expect(ran.err[1]).toContain('n must be a number');
    expect(ran.err[2]).toContain(`${input}:6:`);
    expect(ran.err[2]).toContain('key(task) returned undefined');
    expect((await queueStatus({ connection: redis.url, queue })).counts.waiting).toBe(4);
  });

  it("takes the first N tasks with --limit, and the job's own input without --input", async () => {
    const limited = nextQueue();
    const input = await inputFile('ten.jsonl', tasks(10, 'c'));
    const ran = await sluice(['enqueue', jobFile, '--input', input, '--queue', limited, '--limit', '3']);
    expect(ran.out[0]).toMatch(/^enqueued 3 new task\(s\)/);
    expect(ran.code).toBe(0);
    const own = nextQueue();
    const ownRan = await sluice(['enqueue', jobFile, '--queue', own], { SLUICE_QUEUE: own });
    expect(ownRan.out[0]).toMatch(/^enqueued 6 new task\(s\)/);
    expect(ownRan.code).toBe(0);
  });

  it('refuses a job module of another job onto the queue (exit 2), saying what differs', async () => {
    const queue = nextQueue();
    expect((await sluice(['enqueue', jobFile, '--queue', queue])).code).toBe(0);
    const other = await sluice(['enqueue', otherJobFile, '--queue', queue]);
    expect(other.code).toBe(2);
    expect(other.out).toEqual([]);
    expect(other.err[0]).toContain('another job');
    expect(other.err[0]).toContain(`"queue-other", the queue's "queue-cli"`);
    expect(other.err[0]).toContain(`the queue's "${fingerprint}"`);
    expect((await queueStatus({ connection: redis.url, queue })).counts.waiting).toBe(6);
  });

  it('refuses a password in --redis without echoing it, no queue named, and an unreachable Redis (exit 2)', async () => {
    const withPassword = await sluice(['enqueue', jobFile, '--queue', 'q', '--redis', 'redis://u:hunter2-pw@127.0.0.1:6379']);
    expect(withPassword.code).toBe(2);
    expect(withPassword.all).not.toContain('hunter2-pw');
    expect(withPassword.err[0]).toContain('SLUICE_REDIS_URL');
    const unnamed = await sluice(['enqueue', jobFile]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.err[0]).toContain('no queue named');
    const port = await closedPort();
    const away = await sluice(['enqueue', jobFile, '--queue', 'q'], { SLUICE_REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(away.code).toBe(2);
    expect(away.out).toEqual([]);
    expect(away.err[0]).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(away.err[0]).toContain('ECONNREFUSED');
  });
});

describe('sluice results', () => {
  it('after a worker drained the queue: each task once, as the lines sluice run writes; --failed; --output', async () => {
    const queue = nextQueue();
    const input = await inputFile('results.jsonl', [
      { id: 'r0', n: 0 },
      { id: 'r1', n: 1 },
      'not json',
      { id: 'r3', n: 3, fail: true },
      { id: 'r4', n: 4 },
      { id: 'r5', n: 5 },
    ]);
    expect((await sluice(['enqueue', jobFile, '--input', input, '--queue', queue])).code).toBe(1);
    await drain(queue);

    const results = await sluice(['results', '--queue', queue]);
    expect(results.code).toBe(1);
    expect(results.out).toHaveLength(5);
    expect(results.err).toEqual([`sluice results: 5 result(s) of queue ${queue} at ${redis.url}: 4 completed, 1 failed`]);
    // The same lines as `sluice run` on the same input (its line for the bad record aside), index and line included.
    const run = await sluice(['run', jobFile, '--input', input, '--log', 'none']);
    expect(run.code).toBe(1);
    const runLines = run.out.filter((line) => !line.includes('"stage":"input"'));
    expect([...results.out].sort()).toEqual([...runLines].sort());
    expect(results.out.map((l) => JSON.parse(l)).find((r) => r.task.id === 'r4')).toEqual({
      ok: true,
      index: 3,
      line: 5,
      task: { id: 'r4', n: 4 },
      value: { id: 'r4', square: 16 },
    });

    const failed = await sluice(['results', '--queue', queue, '--failed']);
    expect(failed.code).toBe(1);
    expect(failed.out.map((l) => JSON.parse(l))).toEqual([
      {
        ok: false,
        index: 2,
        line: 4,
        task: { id: 'r3', n: 3, fail: true },
        stage: 'square',
        attempts: 1,
        error: { name: 'Error', code: 'E_QUEUE_TEST', message: 'task r3 fails on purpose' },
      },
    ]);

    const file = join(dir, 'results-out.jsonl');
    await writeFile(file, 'what was there\n');
    const toFile = await sluice(['results', '--queue', queue, '--output', file]);
    expect(toFile.code).toBe(1);
    expect(toFile.out).toEqual([]);
    expect((await readFile(file, 'utf8')).trimEnd().split('\n').sort()).toEqual([...results.out].sort());
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);

    // Every result was read with nothing waiting: clean removes them without --force.
    const clean = await sluice(['queue', 'clean', '--queue', queue]);
    expect(clean.out).toEqual([`removed 5 result(s) from queue ${queue}`]);
    expect(clean.code).toBe(0);
  });

  it('leaves an existing --output FILE byte-identical when the read fails (Redis unreachable)', async () => {
    const file = join(dir, 'kept.jsonl');
    const before = '{"ok":true,"index":0,"task":1,"value":1}\nsomething of the user\'s\n';
    await writeFile(file, before);
    const port = await closedPort();
    const ran = await sluice(['results', '--queue', 'q', '--output', file], { SLUICE_REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(ran.code).toBe(2);
    expect(ran.err[0]).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect((await readdir(dir)).filter((f) => f.startsWith('kept.jsonl.'))).toEqual([]);
  });

  it('exits 0 when every task completed; warns while jobs still wait; refuses a queue nothing was enqueued on', async () => {
    const queue = nextQueue();
    const input = await inputFile('ok.jsonl', tasks(3, 'k'));
    await sluice(['enqueue', jobFile, '--input', input, '--queue', queue]);
    const early = await sluice(['results', '--queue', queue]);
    expect(early.code).toBe(0);
    expect(early.out).toEqual([]);
    expect(early.err[0]).toContain(`queue ${queue} still has 3 waiting, 0 active and 0 delayed job(s)`);
    await drain(queue);
    const late = await sluice(['results', '--queue', queue]);
    expect(late.code).toBe(0);
    expect(late.out).toHaveLength(3);
    expect(late.out.every((l) => JSON.parse(l).ok === true)).toBe(true);
    const none = await sluice(['results', '--queue', nextQueue()]);
    expect(none.code).toBe(2);
    expect(none.err[0]).toContain('nothing was enqueued');
  });
});

describe('sluice status --queue and sluice queue pause|resume', () => {
  it('shows counts, the job, the paused state and a live worker; --json parses', async () => {
    const queue = nextQueue();
    const input = await inputFile('status.jsonl', tasks(4, 's'));
    await sluice(['enqueue', jobFile, '--input', input, '--queue', queue]);
    const paused = await sluice(['queue', 'pause', '--queue', queue]);
    expect(paused.code).toBe(0);
    expect(paused.out[0]).toContain(`queue ${queue} paused`);

    const executor = createExecutor({ stages: job.stages as Stage[], ordered: false });
    try {
      const worker = await startQueueWorker({
        connection: redis.url,
        queue,
        executor,
        job: { name: 'queue-cli', module: fingerprint },
        name: 'node-a',
        exitWhenDrained: true,
      });
      // Its first figures are written as it starts; wait for them (a counter, not a time).
      let json: { workers: Array<{ id: string; live: boolean; claimed: number }> } | undefined;
      for (let i = 0; i < 100 && json?.workers.length !== 1; i++) {
        const ran = await sluice(['status', '--queue', queue, '--json']);
        expect(ran.code).toBe(0);
        json = JSON.parse(ran.out[0]!);
      }
      expect(json).toMatchObject({
        queue,
        redis: redis.url,
        prefix: 'sluice',
        paused: true,
        job: { name: 'queue-cli', module: fingerprint, resultsRead: false },
        counts: { waiting: 4, active: 0, delayed: 0, completed: 0, failed: 0 },
        workers: [{ id: 'node-a', live: true, claimed: 0, held: 0 }],
        etaMs: null,
      });
      const text = await sluice(['status', '--queue', queue]);
      expect(text.code).toBe(0);
      expect(text.out).toContain(`queue     ${queue} on ${redis.url} (prefix sluice)`);
      expect(text.out).toContain('tasks     4 waiting, 0 active, 0 delayed, 0 completed, 0 failed');
      expect(text.out).toContain('workers   1 live, 0 gone');
      expect(text.out.find((l) => l.startsWith('state'))).toContain('paused');
      expect(text.out.find((l) => l.startsWith('job'))).toContain('queue-cli');
      expect(text.out.find((l) => l.startsWith('  node-a'))).toContain('claimed 0');
      expect(worker.stats().claimed).toBe(0);

      expect((await sluice(['queue', 'resume', '--queue', queue])).code).toBe(0);
      expect((await worker.done).reason).toBe('drained');
    } finally {
      await executor.close();
    }
    const after = JSON.parse((await sluice(['status', '--queue', queue, '--json'])).out[0]!);
    expect(after).toMatchObject({ paused: false, counts: { waiting: 0, active: 0, completed: 4, failed: 0 }, workers: [] });
  });

  it('refuses an unknown action, flags of clean on pause, and a queue nothing was enqueued on', async () => {
    expect((await sluice(['queue', 'frob', '--queue', 'q'])).code).toBe(2);
    expect((await sluice(['queue', 'pause', '--all', '--queue', 'q'])).code).toBe(2);
    const unknown = await sluice(['queue', 'pause', '--queue', nextQueue()]);
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toContain('nothing was enqueued');
  });
});

describe('sluice queue clean', () => {
  it('refuses unread results without --force; --force removes them; --all removes the whole queue', async () => {
    const queue = nextQueue();
    const input = await inputFile('clean.jsonl', tasks(3, 'x'));
    await sluice(['enqueue', jobFile, '--input', input, '--queue', queue]);
    await drain(queue);
    const refused = await sluice(['queue', 'clean', '--queue', queue]);
    expect(refused.code).toBe(2);
    expect(refused.err[0]).toContain('3 result(s) not read');
    expect(refused.err[0]).toContain('--force');
    const forced = await sluice(['queue', 'clean', '--force', '--queue', queue]);
    expect(forced.out).toEqual([`removed 3 result(s) from queue ${queue}`]);
    expect(forced.code).toBe(0);
    // Removed jobs can be enqueued again: they wait now.
    expect((await sluice(['enqueue', jobFile, '--input', input, '--queue', queue])).out[0]).toMatch(/^enqueued 3 new/);
    const all = await sluice(['queue', 'clean', '--all', '--queue', queue]);
    expect(all.out).toEqual([`removed queue ${queue}: 3 job(s), its job record and its worker figures`]);
    expect(all.code).toBe(0);
    const status = JSON.parse((await sluice(['status', '--queue', queue, '--json'])).out[0]!);
    expect(status).toMatchObject({ job: null, counts: { waiting: 0, completed: 0, failed: 0 } });
  });
});

describe('passwords', () => {
  it("an ACL user's password shows in no output of enqueue, status, results and config", async () => {
    const admin = new Redis(redis.url);
    try {
      await admin.call('ACL', 'SETUSER', 'sluice-test', 'on', '>pw-Secret-42', '~*', '&*', '+@all');
    } finally {
      admin.disconnect();
    }
    const url = `redis://sluice-test:pw-Secret-42@127.0.0.1:${redis.port}`;
    const shown = `redis://sluice-test@127.0.0.1:${redis.port}`;
    const queue = nextQueue();
    const env = { SLUICE_REDIS_URL: url, SLUICE_QUEUE: queue };
    const runs = [
      await sluice(['enqueue', jobFile, '--limit', '2'], env),
      await sluice(['status', '--queue', queue], env),
      await sluice(['status', '--queue', queue, '--json'], env),
      await sluice(['results'], env),
      await sluice(['config'], env),
      await sluice(['status', '--queue', queue], { SLUICE_REDIS_URL: url.replace('pw-Secret-42', 'pw-Wrong-7') }),
    ];
    for (const ran of runs) {
      expect(ran.all).not.toContain('pw-Secret-42');
      expect(ran.all).not.toContain('pw-Wrong-7');
    }
    const [enqueued, status, json, results, config, wrong] = runs;
    expect(enqueued!.out).toEqual([`enqueued 2 new task(s) on queue ${queue} at ${shown} (0 already there, 0 rejected)`]);
    expect(status!.out[0]).toBe(`queue     ${queue} on ${shown} (prefix sluice)`);
    expect(JSON.parse(json!.out[0]!)).toMatchObject({ redis: shown, counts: { waiting: 2 } });
    expect(results!.code).toBe(0);
    expect(config!.code).toBe(0);
    expect(config!.out.find((l) => l.startsWith('redis '))).toContain(`redis://sluice-test:***@127.0.0.1:${redis.port}`);
    expect(wrong!.code).toBe(2);
    expect(wrong!.err[0]).toContain(`cannot reach Redis at ${shown}`);
    expect(wrong!.err[0]).toContain('WRONGPASS');
  });
});

describe('sluice --help', () => {
  it('lists the queue commands', async () => {
    const ran = await sluice(['--help']);
    for (const command of ['enqueue JOB', 'worker JOB', 'results', 'queue ACTION']) expect(ran.out.join('\n')).toContain(command);
  });
});
