/**
 * A real redis-server of the test's own (Debian's package, 7.x): on a free port on 127.0.0.1, with
 * a temporary folder as its --dir and no persistence. Start it in beforeAll, stop it in afterAll.
 * `stop({ keep: true })` then `start()` takes the same server away and brings it back on the same
 * port with its data (Redis going away mid-run). A machine without redis-server fails here, never
 * skips.
 *
 * `startRedis({ tls, password, users })` starts one that asks for more (the queue's connection
 * tests): TLS only, with a throwaway CA and a certificate for 127.0.0.1 made by `openssl` in its
 * folder; a password for the default user; ACL users.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** What a server of {@link startRedis} asks of its clients, beyond the defaults (none). */
export interface RedisServerOptions {
  /**
   * Serves TLS only (`--tls-port PORT --port 0`, clients need no certificate of their own), with
   * a CA and a server certificate (for IP 127.0.0.1 and localhost) made by `openssl` in its folder.
   */
  readonly tls?: boolean;
  /** The default user's password (`requirepass`). */
  readonly password?: string;
  /**
   * ACL users, each the arguments of one `ACL SETUSER` (set again at each start):
   * `['alice', 'on', '>secret', '~sluice:*', '+@all']`.
   */
  readonly users?: ReadonlyArray<readonly string[]>;
}

/** The CA that signed a TLS server's certificate: what its clients trust. */
export interface RedisServerTls {
  /** The CA certificate, PEM. */
  readonly ca: string;
  /** Its file (in the server's folder). */
  readonly caFile: string;
}

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:PORT` (`rediss://` with `tls`); never with a user or password. */
  readonly url: string;
  /** With `tls`: the CA its clients trust. */
  readonly tls?: RedisServerTls;
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

const OPENSSL_NOT_INSTALLED =
  'openssl is not installed (or not on PATH): a TLS redis-server of the tests gets its throwaway certificates from it. ' +
  'Install it: on Debian/Ubuntu `apt-get install -y openssl`, on macOS it is there, elsewhere your package manager’s openssl.';

const NOT_INSTALLED =
  'redis-server is not installed (or not on PATH): the tests that need Redis start their own. ' +
  'Install it: on Debian/Ubuntu `apt-get install -y redis-server` (as root; `.ci/run` does this), ' +
  'on macOS `brew install redis`, elsewhere your package manager’s redis package (7.x).';

/** Starts a redis-server of the caller's own; see {@link RedisServer} and {@link RedisServerOptions}. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  let setup: Setup = { ...options, admin: {} };
  let tls: RedisServerTls | undefined;
  try {
    if (options.tls === true) {
      tls = await makeCertificates(dir);
      setup = { ...setup, admin: { tls: { ca: tls.ca } } };
    }
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const started = await launch(port, dir, setup);
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
    url: `${tls === undefined ? 'redis' : 'rediss'}://${HOST}:${port}`,
    ...(tls === undefined ? {} : { tls }),
    dir,
    async stop({ keep = false } = {}) {
      if (child) {
        const stopping = child;
        child = undefined;
        try {
          if (keep) await shutdownSave(port, stopping, adminOptions(setup));
        } finally {
          await terminate(stopping);
        }
      }
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
    async start() {
      if (child) throw new Error(`redis-server on port ${port} is already running`);
      const started = await launch(port, dir, setup);
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

/** A server's options, with what the tests' own clients of it (PING, SHUTDOWN) need: `admin`. */
type Setup = RedisServerOptions & { readonly admin: RedisOptions };

function adminOptions(setup: Setup): RedisOptions {
  return setup.password === undefined ? setup.admin : { ...setup.admin, password: setup.password };
}

/** The redis-server arguments that choose its port: TLS only on it, or plain. */
function portArgs(port: number, dir: string, setup: Setup): string[] {
  if (setup.tls !== true) return ['--port', String(port)];
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    join(dir, 'server.pem'),
    '--tls-key-file',
    join(dir, 'server.key'),
    '--tls-ca-cert-file',
    join(dir, 'ca.pem'),
    '--tls-auth-clients',
    'no',
  ];
}

/**
 * Spawns redis-server on `port` and waits for its readiness line, then for a PING; or for its exit.
 * Then sets its ACL users and its password (after the PING: a password of any characters, no
 * command-line quoting).
 */
async function launch(port: number, dir: string, setup: Setup = { admin: {} }): Promise<Launch> {
  const child = spawn(
    'redis-server',
    [
      '--bind',
      HOST,
      ...portArgs(port, dir, setup),
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
    await ping(port, setup);
  } catch (error) {
    await terminate(child);
    return { ok: false, portInUse: false, message: `redis-server on ${HOST}:${port} did not answer PING: ${String(error)}` };
  }
  return { ok: true, child };
}

async function ping(port: number, setup: Setup = { admin: {} }): Promise<void> {
  const client = new Redis({ ...setup.admin, host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
    for (const user of setup.users ?? []) await client.call('ACL', 'SETUSER', ...user);
    if (setup.password !== undefined) await client.call('CONFIG', 'SET', 'requirepass', setup.password);
  } finally {
    client.disconnect();
  }
}

/**
 * A throwaway CA and a server certificate it signed, for IP 127.0.0.1 and localhost, valid for
 * two days (P-256 keys: fast to make), in `dir`: ca.pem, server.pem, server.key.
 */
async function makeCertificates(dir: string): Promise<RedisServerTls> {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(OPENSSL_NOT_INSTALLED, { cause: probe.error });
  const file = (name: string) => join(dir, name);
  await writeFile(
    file('server.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...key,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=sluice test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  openssl(['req', ...key, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    '1',
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.pem'),
  ]);
  return { ca: await readFile(file('ca.pem'), 'utf8'), caFile: file('ca.pem') };
}

function openssl(args: string[]): void {
  const made = spawnSync('openssl', args, { encoding: 'utf8' });
  if (made.error || made.status !== 0)
    throw new Error(`openssl ${args[0]} failed: ${made.stderr || String(made.error)}`, { cause: made.error });
}

/** SHUTDOWN SAVE (the dataset goes to --dir/dump.rdb, loaded at the next start); waits for the exit. */
async function shutdownSave(port: number, child: ChildProcess, admin: RedisOptions = {}): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = new Redis({ ...admin, host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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
