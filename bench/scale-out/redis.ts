/**
 * The scale-out bench's own redis-server (Debian's package, 7.x), started the way the tests start
 * theirs (test/helpers/redis.ts, whose launch logic this copies: the bench imports nothing of
 * test/): on a free port on 127.0.0.1, a temporary folder as its --dir, no persistence, through the
 * bench's one child harness. Ready once it answers PING. `stop()` ends it (SIGTERM, SIGKILL after
 * 10 s) and removes its folder; a bench process that dies first takes the server with it.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startChild, type Child } from '../harness/child.js';

export interface BenchRedis {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** A client of the bench's own (INFO, FLUSHALL). */
  readonly client: Redis;
  /** `INFO memory`'s used_memory, in bytes. */
  usedMemory(): Promise<number>;
  /** Empties the server between runs (every queue of the previous run gone). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;

const NOT_INSTALLED =
  'redis-server is not installed (or not on PATH): the scale-out bench starts its own. ' +
  'Install it: on Debian/Ubuntu `apt-get install -y redis-server` (as root; `.ci/run` does this), ' +
  'on macOS `brew install redis`, elsewhere your package manager’s redis package (7.x).';

/** The redis-server executable on PATH (the harness would crash on a spawn error, so look first). */
function redisServerPath(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, 'redis-server');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  throw new Error(NOT_INSTALLED);
}

/** A port the kernel just handed out on 127.0.0.1 and took back (the caller retries on a clash). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error(`no port from ${String(address)}`));
      });
    });
  });
}

/** Signals `pid` if it is still there. */
function kill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** PING until it answers (ready), the child exits (a clash or a failure), or the time is up. */
async function ready(port: number, child: Child): Promise<boolean> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (!exited && performance.now() < deadline) {
    const probe = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return true;
    } catch {
      // not yet
    } finally {
      probe.disconnect();
    }
    await sleep(50);
  }
  return false;
}

export async function startRedis(): Promise<BenchRedis> {
  const command = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-redis-'));
  let child: Child | undefined;
  let port = 0;
  try {
    for (let attempt = 1; child === undefined; attempt++) {
      port = await freePort();
      const started = startChild({
        command,
        args: ['--bind', HOST, '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      });
      // Whatever happens to the bench, the server goes with it.
      const reap = (): void => kill(started.pid, 'SIGKILL');
      process.once('exit', reap);
      void started.exited.then(() => process.removeListener('exit', reap));
      if (await ready(port, started)) child = started;
      else {
        // Its log goes to stdout, which the harness parses as lines: the exit is what is known here.
        // A port taken meanwhile is the usual cause: try another, a few times.
        reap();
        const e = await started.exited;
        if (attempt === PORT_ATTEMPTS) {
          throw new Error(`redis-server did not start on ${HOST}:${port} (${PORT_ATTEMPTS} attempts; last exit ${e.code ?? e.signal})`);
        }
      }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const server = child;
  let gone = false;
  void server.exited.then(() => (gone = true));
  const client = new Redis({ host: HOST, port, maxRetriesPerRequest: 1 });
  return {
    url: `redis://${HOST}:${port}`,
    port,
    client,
    async usedMemory() {
      const info = await client.info('memory');
      const m = /^used_memory:(\d+)/m.exec(info);
      if (m === null) throw new Error(`INFO memory has no used_memory: ${info.slice(0, 200)}`);
      return Number(m[1]);
    },
    async flush() {
      await client.flushall();
    },
    async stop() {
      client.disconnect();
      if (!gone) {
        kill(server.pid, 'SIGTERM');
        const force = setTimeout(() => !gone && kill(server.pid, 'SIGKILL'), 10_000);
        await server.exited;
        clearTimeout(force);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
