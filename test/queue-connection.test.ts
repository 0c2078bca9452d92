/**
 * Who gets in: a queue's Redis connection with credentials and TLS, against real redis-servers.
 * URLs (user, percent-encoded password, db, rediss://) and bad ones refused without their
 * password; `describeConnection` and `redact` never show one. An ACL user with the minimal rules
 * sluice needs runs enqueue, a worker, results and status with nothing denied; a wrong password,
 * no password, keys outside the user's patterns and a missing command are refused at once, naming
 * the target without the password; an unreachable port and a silent one fail with a clear message.
 * TLS: a server with a throwaway CA, trusted through ioredis options (`tls: { ca }`) and, for a
 * rediss:// URL, through NODE_EXTRA_CA_CERTS in a child process; plain redis:// to its port, and
 * rediss:// to a plain port, fail clearly.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defineJob,
  enqueue,
  io,
  queueResults,
  queueStatus,
  runWorker,
  SluiceOptionError,
  SluiceQueueError,
  type QueueResult,
  type QueueTarget,
} from '../src/index.js';
import { connectionOptions, describeConnection, passwordOf, redact } from '../src/queue/connection.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

/** The fewest ACL rules sluice's queues work with (keys under the default prefix `sluice`). */
const SLUICE_RULES = [
  '~sluice:*',
  'resetchannels',
  '-@all',
  '+@read',
  '+@write',
  '+@scripting',
  '+@transaction',
  '+@connection',
  '-@dangerous',
  '+info',
];
const ADMIN_PASSWORD = 'adm1n-Pw';
/** Every character a URL needs encoded: a test that decodes it wrong cannot log in. */
const ALICE_PASSWORD = 's3cr:t@/%é#?';
const alice = ['alice', 'on', `>${ALICE_PASSWORD}`, ...SLUICE_RULES];

let acl: RedisServer;
let tls: RedisServer;
let n = 0;
beforeAll(async () => {
  [acl, tls] = await Promise.all([
    startRedis({
      password: ADMIN_PASSWORD,
      users: [alice, ['mallory', 'on', '>pw', '~other:*', '+@all'], ['noinfo', 'on', '>pw', ...SLUICE_RULES, '-info']],
    }),
    startRedis({ tls: true, users: [alice] }),
  ]);
});
afterAll(async () => {
  await Promise.all([acl?.stop(), tls?.stop()]);
});

const aliceUrl = (server: RedisServer, scheme = 'redis') =>
  `${scheme}://alice:${encodeURIComponent(ALICE_PASSWORD)}@127.0.0.1:${server.port}`;
const queue = () => `conn-${++n}`;

const doubler = defineJob({
  name: 'doubler',
  key: (task: number) => String(task),
  stages: [
    io(
      'double',
      async (task: number) => {
        if (task === 3) throw new Error('three');
        return task * 2;
      },
      { concurrency: 2 },
    ),
  ],
});
const tasks = (count: number) => Array.from({ length: count }, (_, i) => i);

async function collect(target: QueueTarget): Promise<QueueResult[]> {
  const out: QueueResult[] = [];
  for await (const r of queueResults(target)) out.push(r);
  return out;
}

/** The whole life of a queue: enqueue, drain it with a worker, read every result and the status. */
async function roundTrip(target: QueueTarget, count: number) {
  const enqueued = await enqueue(doubler, tasks(count), target);
  const worked = await runWorker(doubler, { ...target, exitWhenDrained: true });
  const results = await collect(target);
  const status = await queueStatus(target);
  return { enqueued, worked, results, status };
}

async function refusal(work: Promise<unknown>): Promise<SluiceQueueError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceQueueError);
  expect((error as SluiceQueueError).code).toBe('ERR_SLUICE_QUEUE');
  return error as SluiceQueueError;
}

function optionError(work: () => unknown): SluiceOptionError {
  let error: unknown;
  try {
    work();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SluiceOptionError);
  return error as SluiceOptionError;
}

describe('connection URLs, described and redacted', () => {
  it('parses user, percent-encoded password, port, db and rediss:// (TLS)', () => {
    expect(connectionOptions('redis://127.0.0.1:6380/2')).toMatchObject({
      host: '127.0.0.1',
      port: 6380,
      db: 2,
      maxRetriesPerRequest: null,
    });
    const plain = connectionOptions('redis://redis.example');
    expect(plain).toMatchObject({ host: 'redis.example', port: 6379 });
    expect(plain).not.toHaveProperty('tls');
    expect(plain).not.toHaveProperty('password');
    expect(connectionOptions('redis://alice:p%40ss%3Aw%2Frd%25%20x@h:7000')).toMatchObject({
      username: 'alice',
      password: 'p@ss:w/rd% x',
      port: 7000,
    });
    expect(connectionOptions('redis://:only-pw@h')).toMatchObject({ password: 'only-pw' });
    expect(connectionOptions('redis://:only-pw@h')).not.toHaveProperty('username');
    expect(connectionOptions('rediss://redis.example:6390').tls).toEqual({ servername: 'redis.example' });
    // An IP address is checked as itself: no servername (Node warns about one).
    expect(connectionOptions('rediss://127.0.0.1:6390').tls).toEqual({});
    expect(connectionOptions('redis://[::1]:6390/1')).toMatchObject({ host: '::1', port: 6390, db: 1 });
    expect(connectionOptions({ host: 'h', port: 1, tls: { ca: 'PEM' } })).toMatchObject({ host: 'h', tls: { ca: 'PEM' } });
  });

  it('refuses bad URLs and options with SluiceOptionError naming `connection`, the password hidden', () => {
    for (const bad of [
      'redis://alice:hunter2@host:notaport',
      'http://alice:hunter2@host',
      'redis://alice:hunter2@host/db0',
      'redis://alice:hunter2%zz@host',
      'redis://alice:hunter2@',
      'redis://alice:hun ter2/x@host:1:2',
      'alice:hunter2@host:6379',
    ]) {
      const error = optionError(() => connectionOptions(bad));
      expect(error.code).toBe('ERR_SLUICE_INVALID_OPTION');
      expect(error.option).toBe('connection');
      expect(error.message).toContain('alice');
      expect(error.message).not.toMatch(/hunter|ter2/);
      expect(String(error.received)).not.toMatch(/hunter|ter2/);
    }
    expect(optionError(() => connectionOptions({ host: 'h', port: 0 })).option).toBe('connection.port');
    const password = optionError(() => connectionOptions({ host: 'h', password: 12345 as unknown as string }));
    expect(password.option).toBe('connection.password');
    expect(password.message).not.toContain('12345');
  });

  it('describeConnection never shows a password; passwordOf finds it', () => {
    expect(describeConnection('redis://alice:hunter2@127.0.0.1:6380/2')).toBe('redis://alice@127.0.0.1:6380/2');
    expect(describeConnection('rediss://:hunter2@redis.example')).toBe('rediss://redis.example:6379');
    expect(describeConnection('redis://[::1]:7')).toBe('redis://[::1]:7');
    expect(describeConnection({ host: 'h', port: 1, username: 'alice', password: 'hunter2', tls: {} })).toBe('rediss://alice@h:1');
    expect(describeConnection({ port: 7, password: 'hunter2', db: 3 })).toBe('redis://127.0.0.1:7/3');
    expect(describeConnection('redis://alice:hunter2@host:x')).toBe('redis://alice:***@host:x');
    expect(describeConnection('alice:hunter2@host')).toBe('alice:***@host');
    expect(passwordOf('redis://alice:p%40ss@h')).toBe('p@ss');
    expect(passwordOf({ host: 'h', password: 'hunter2' })).toBe('hunter2');
    expect(passwordOf('redis://alice@h')).toBeUndefined();
  });

  it('redact hides a password anywhere in a text: as is, percent-encoded, JSON-escaped, in any URL', () => {
    const secret = 'p@ss w/rd"é';
    const text = [
      `AUTH ${secret} failed`,
      `url redis://alice:${encodeURIComponent(secret)}@h:1`,
      `json ${JSON.stringify({ password: secret })}`,
      `href ${new URL(`redis://alice:${encodeURIComponent(secret)}@h`).href}`,
    ].join('\n');
    const out = redact(text, [secret]);
    expect(out).not.toContain('ss w');
    expect(out).not.toContain('ss%20w');
    expect(out).toContain('AUTH *** failed');
    expect(out).toContain('json {"password":"***"}');
    // A URL's password goes without being told: unencoded @ included, every scheme.
    expect(redact('to redis://alice:hunter2@10.0.0.1:6379/0, then rediss://:hun@ter2@h:1 and https://u:hunter2@x')).toBe(
      'to redis://alice:***@10.0.0.1:6379/0, then rediss://:***@h:1 and https://u:***@x',
    );
    // Nothing else is touched.
    const json = '{"redis":"redis://127.0.0.1:6379","mail":"a@b","at":"user@host"}';
    expect(redact(json, [undefined, ''])).toBe(json);
  });
});

describe('ACL users and credentials, against a redis-server with users and a password', () => {
  it('an ACL user with the minimal rules runs enqueue, a worker, results and status; nothing is denied', async () => {
    const admin = new Redis({ host: '127.0.0.1', port: acl.port, password: ADMIN_PASSWORD, lazyConnect: true });
    try {
      await admin.connect();
      await admin.call('ACL', 'LOG', 'RESET');
      const target = { connection: aliceUrl(acl), queue: queue() };
      const { enqueued, worked, results, status } = await roundTrip(target, 20);
      expect(enqueued).toMatchObject({ added: 20, existing: 0, rejected: 0 });
      expect(worked).toMatchObject({ reason: 'drained', stats: { completed: 19, failed: 1, held: 0 } });
      expect(results).toHaveLength(20);
      expect(results.find((r) => r.key === '3')).toMatchObject({ ok: false, stage: 'double', error: { message: 'three' } });
      expect(status).toMatchObject({ redis: `redis://alice@127.0.0.1:${acl.port}`, counts: { completed: 19, failed: 1, waiting: 0 } });
      // The same user as ioredis options.
      const asOptions = await queueStatus({
        queue: target.queue,
        connection: { host: '127.0.0.1', port: acl.port, username: 'alice', password: ALICE_PASSWORD },
      });
      expect(asOptions.counts).toEqual(status.counts);
      expect(await admin.call('ACL', 'LOG')).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });

  it('a wrong password, no password, keys outside the patterns, a missing command: refused at once, no password shown', async () => {
    // A long connect timeout: a refusal that waited for it would outlast this test's own timeout.
    const slow = { connectTimeoutMs: 120_000 };
    const wrong = `redis://alice:Wr0ng-pw@127.0.0.1:${acl.port}`;
    for (const work of [
      () => enqueue(doubler, tasks(2), { ...slow, connection: wrong, queue: queue() }),
      () => runWorker(doubler, { ...slow, connection: wrong, queue: queue() }),
      () =>
        queueStatus({
          ...slow,
          connection: { host: '127.0.0.1', port: acl.port, username: 'alice', password: 'Wr0ng-pw' },
          queue: queue(),
        }),
    ]) {
      const error = await refusal(work());
      expect(error.message).toContain(`redis://alice@127.0.0.1:${acl.port}`);
      expect(error.message).toMatch(/WRONGPASS/);
      expect(error.message).not.toContain('Wr0ng');
    }
    const noPassword = await refusal(queueStatus({ ...slow, connection: acl.url, queue: queue() }));
    expect(noPassword.message).toMatch(/NOAUTH/);
    const name = queue();
    const keys = await refusal(
      enqueue(doubler, tasks(2), { ...slow, connection: `redis://mallory:pw@127.0.0.1:${acl.port}`, queue: name }),
    );
    expect(keys.message).toMatch(/NOPERM/);
    expect(keys.message).toContain(`sluice:${name}:*`);
    const command = await refusal(queueStatus({ ...slow, connection: `redis://noinfo:pw@127.0.0.1:${acl.port}`, queue: queue() }));
    expect(command.message).toMatch(/NOPERM.*'info'/);
  }, 30_000);

  it('a port nobody listens on is refused with a clear message; a silent one fails after connectTimeoutMs', async () => {
    const closed = await freePort();
    const refused = await refusal(queueStatus({ connection: `redis://127.0.0.1:${closed}`, queue: queue(), connectTimeoutMs: 120_000 }));
    expect(refused.message).toMatch(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${closed} within 120 s: .*ECONNREFUSED`));

    const sockets = new Set<Socket>();
    const silent = await listen(createServer((socket) => sockets.add(socket)));
    try {
      const port = (silent.address() as { port: number }).port;
      const error = await refusal(queueStatus({ connection: `redis://127.0.0.1:${port}`, queue: queue(), connectTimeoutMs: 300 }));
      expect(error.message).toBe(`cannot reach Redis at redis://127.0.0.1:${port} within 0.3 s: no answer`);
      expect(sockets.size).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('TLS, against a redis-server that serves TLS only', () => {
  it('rediss with the CA in ioredis options: an ACL user enqueues, works and reads back over TLS', async () => {
    const target = {
      connection: { host: '127.0.0.1', port: tls.port, username: 'alice', password: ALICE_PASSWORD, tls: { ca: tls.tls?.ca } },
      queue: queue(),
    };
    const { enqueued, worked, results, status } = await roundTrip(target, 6);
    expect(enqueued).toMatchObject({ added: 6, rejected: 0 });
    expect(worked).toMatchObject({ reason: 'drained', stats: { completed: 5, failed: 1 } });
    expect(results.flatMap((r) => (r.ok ? [r.value as number] : [])).sort((a, b) => a - b)).toEqual([0, 2, 4, 8, 10]);
    expect(status).toMatchObject({ redis: `rediss://alice@127.0.0.1:${tls.port}`, counts: { completed: 5, failed: 1 } });
  });

  it('a rediss:// URL: refused while its CA is not trusted; trusted through NODE_EXTRA_CA_CERTS (a child), it enqueues and reads back', async () => {
    const url = aliceUrl(tls, 'rediss');
    const untrusted = await refusal(queueStatus({ connection: url, queue: queue() }));
    expect(untrusted.message).toContain(`rediss://alice@127.0.0.1:${tls.port}`);
    expect(untrusted.message).toMatch(/certificate.*NODE_EXTRA_CA_CERTS/);
    expect(untrusted.message).not.toContain(encodeURIComponent(ALICE_PASSWORD));

    const dir = await mkdtemp(join(tmpdir(), 'sluice-tls-child-'));
    try {
      // The built package (npm test builds first): a plain node child starts in a fraction of tsx's time.
      const script = join(dir, 'child.mjs');
      const index = new URL('../dist/src/index.js', import.meta.url).href;
      await writeFile(
        script,
        [
          `import { defineJob, enqueue, io, queueResults, runWorker } from ${JSON.stringify(index)};`,
          "const job = defineJob({ name: 'tls', key: (n) => String(n), stages: [io('x', async (n) => n + 1, { concurrency: 2 })] });",
          "const target = { connection: process.env.CHILD_REDIS_URL ?? '', queue: process.env.CHILD_QUEUE ?? '' };",
          'const enqueued = await enqueue(job, [1, 2, 3], target);',
          'const worked = await runWorker(job, { ...target, exitWhenDrained: true });',
          'const values = [];',
          'for await (const r of queueResults(target)) values.push(r.ok ? r.value : null);',
          'console.log(JSON.stringify({ added: enqueued.added, reason: worked.reason, values: values.sort() }));',
        ].join('\n'),
      );
      const child = await run(process.execPath, [script], {
        ...process.env,
        NODE_EXTRA_CA_CERTS: tls.tls?.caFile ?? '',
        CHILD_REDIS_URL: url,
        CHILD_QUEUE: queue(),
      });
      expect(child.stderr).toBe('');
      expect(child.code).toBe(0);
      expect(JSON.parse(child.stdout)).toEqual({ added: 3, reason: 'drained', values: [2, 3, 4] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('plain redis:// to the TLS port, and rediss:// to a plain port, fail with a clear error', async () => {
    const plainToTls = await refusal(queueStatus({ connection: tls.url.replace('rediss:', 'redis:'), queue: queue() }));
    expect(plainToTls.message).toMatch(
      /^cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ within 10 s: .*\(if the port serves TLS, use rediss:\/\/\)$/,
    );
    const tlsToPlain = await refusal(queueStatus({ connection: `rediss://127.0.0.1:${acl.port}`, queue: queue(), connectTimeoutMs: 300 }));
    expect(tlsToPlain.message).toMatch(/^cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+ within 0\.3 s: no answer .*use redis:\/\/\)$/);
  });
});

function freePort(): Promise<number> {
  return listen(createServer()).then(
    (server) =>
      new Promise((resolve) => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      }),
  );
}

function listen(server: Server): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Runs a child to its end (killed after 30 s), with what it wrote. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
