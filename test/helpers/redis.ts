/**
 * A real redis-server of the test's own (Debian's package, 7.x): on a free port on 127.0.0.1, with
 * a temporary folder as its --dir and no persistence. Start it in beforeAll, stop it in afterAll.
 * `stop({ keep: true })` then `start()` takes the same server away and brings it back on the same
 * port with its data (Redis going away mid-run). A machine without redis-server fails here, never
 * skips.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** The server's --dir (removed by `stop()`). */
  readonly dir: string;
  /**
   * Shuts the server down. By default without saving, and its folder is removed; with `keep` it
   * saves its data to its folder first (SHUTDOWN SAVE), which `start()` loads again.
   */
  stop(options?: { keep?: boolean }): Promise<void>;
  /** Starts the stopped server again on the same port and folder. */
  start(): Promise<void>;
  /** `stop({ keep: true })`, then `start()`. */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY = /Ready to accept connections/;
const PORT_IN_USE = /Address already in use/;
const PORT_ATTEMPTS = 5;
const STOP_GRACE_MS = 10_000;

const NOT_INSTALLED =
  'redis-server is not installed (or not on PATH): the tests that need Redis start their own. ' +
  'Install it: on Debian/Ubuntu `apt-get install -y redis-server` (as root; `.ci/run` does this), ' +
  'on macOS `brew install redis`, elsewhere your package manager’s redis package (7.x).';

/** Starts a redis-server of the caller's own; see {@link RedisServer}. */
export async function startRedis(): Promise<RedisServer> {
  assertInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const started = await launch(port, dir);
      if (started.ok) {
        child = started.child;
        break;
      }
      if (!started.portInUse || attempt === PORT_ATTEMPTS) throw new Error(started.message);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const server: RedisServer = {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    async stop({ keep = false } = {}) {
      if (child) {
        const stopping = child;
        child = undefined;
        try {
          if (keep) await shutdownSave(port, stopping);
        } finally {
          await terminate(stopping);
        }
      }
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
    async start() {
      if (child) throw new Error(`redis-server on port ${port} is already running`);
      const started = await launch(port, dir);
      if (!started.ok) throw new Error(started.message);
      child = started.child;
    },
    async restart() {
      await server.stop({ keep: true });
      await server.start();
    },
  };
  return server;
}

function assertInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(NOT_INSTALLED, { cause: probe.error });
}

/** A port the kernel just handed out on 127.0.0.1 and took back (the caller retries on a clash). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error(`no port from ${String(address)}`));
      });
    });
  });
}

type Launch = { ok: true; child: ChildProcess } | { ok: false; portInUse: boolean; message: string };

/** Spawns redis-server on `port` and waits for its readiness line, then for a PING; or for its exit. */
async function launch(port: number, dir: string): Promise<Launch> {
  const child = spawn(
    'redis-server',
    [
      '--bind',
      HOST,
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--logfile',
      '',
      '--loglevel',
      'notice',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A test process that ends without afterAll (a crash, a timeout) takes its server with it.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));

  let log = '';
  const ready = await new Promise<boolean>((resolve) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (READY.test(log)) resolve(true);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      log += `\n${String(error)}`;
      resolve(false);
    });
    child.once('exit', () => resolve(false));
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  if (!ready) {
    await terminate(child);
    const tail = log.trim().split('\n').slice(-5).join('\n');
    return {
      ok: false,
      portInUse: PORT_IN_USE.test(log),
      message: `redis-server did not start on ${HOST}:${port}:\n${tail}`,
    };
  }
  try {
    await ping(port);
  } catch (error) {
    await terminate(child);
    return { ok: false, portInUse: false, message: `redis-server on ${HOST}:${port} did not answer PING: ${String(error)}` };
  }
  return { ok: true, child };
}

async function ping(port: number): Promise<void> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
  } finally {
    client.disconnect();
  }
}

/** SHUTDOWN SAVE (the dataset goes to --dir/dump.rdb, loaded at the next start); waits for the exit. */
async function shutdownSave(port: number, child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    // The server closes the connection as it exits: no reply is the expected outcome; an error
    // reply means it refused (a failed save) and is still running.
    await client.call('SHUTDOWN', 'SAVE').catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ReplyError') throw error;
    });
  } finally {
    client.disconnect();
  }
  if (child.exitCode === null && child.signalCode === null) await exited;
  if (child.exitCode !== 0) {
    throw new Error(`redis-server on ${HOST}:${port} did not save and exit cleanly (exit ${String(child.exitCode)})`);
  }
}

/** SIGTERM (redis-server shuts down without saving: --save ''), SIGKILL if it lingers. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
