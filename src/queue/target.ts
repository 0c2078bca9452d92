/**
 * Opening a queue: a BullMQ `Queue` on the target's Redis, with an 'error' listener from the
 * start (an EventEmitter without one throws), and a check that Redis answers within
 * `connectTimeoutMs`, so a wrong host or password is a clear error rather than a silent wait
 * (sluice's connections otherwise wait for Redis to come back: connection.ts).
 */
import type { ConnectionOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { SluiceQueueError, messageOf } from '../errors.js';
import { connectionOptions, describeConnection, passwordOf, redact, type RedisConnection } from './connection.js';
import { loadBullmq, loadIoredis } from './load.js';
import { checkPrefix, checkQueueName, DEFAULT_PREFIX, metaKey } from './names.js';

/** Which queue, on which Redis. */
export interface QueueTarget {
  /** The queue's Redis: a redis:// or rediss:// URL, or ioredis options. */
  readonly connection: RedisConnection;
  /** The queue's name: letters, digits, _ . - */
  readonly queue: string;
  /** The key prefix: each prefix is a namespace of its own. @default 'sluice' */
  readonly prefix?: string;
  /** How long to wait for Redis to answer at the start, in ms. @default 10000 */
  readonly connectTimeoutMs?: number;
}

export interface OpenedQueue {
  readonly queue: Queue;
  readonly client: Redis;
  readonly name: string;
  readonly prefix: string;
  /** The Redis as shown to people: `redis://user@host:port/db`. */
  readonly shownAs: string;
  /** `text` with the connection's password hidden. */
  redact(text: string): string;
  close(): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The target checked, with its resolved parts (throws SluiceOptionError naming the field). */
export function resolveTarget(target: QueueTarget) {
  const name = checkQueueName(target.queue);
  const prefix = checkPrefix(target.prefix ?? DEFAULT_PREFIX);
  const connection = connectionOptions(target.connection);
  const secret = passwordOf(target.connection);
  return {
    name,
    prefix,
    connection,
    shownAs: describeConnection(target.connection),
    redact: (text: string) => redact(text, [secret]),
  };
}

/**
 * Opens the queue and waits until Redis answers and lets this connection read the queue's keys;
 * `onError` gets each connection error (redacted). Rejects SluiceQueueError at once for what
 * retrying cannot fix (a wrong user or password, a missing ACL permission, an untrusted
 * certificate, a refused connection), after `connectTimeoutMs` for a Redis that does not answer.
 */
export async function openQueue(target: QueueTarget, onError?: (message: string) => void): Promise<OpenedQueue> {
  const resolved = resolveTarget(target);
  const { name, prefix, shownAs } = resolved;
  // sluice's own commands (its records, EXISTS before adding, the reachability check) go on a client
  // of its own, which is checked first: BullMQ's connections open only once Redis has answered it, so
  // a refused target never leaves one of theirs in the middle of a (TLS) handshake.
  const [{ Queue: BullQueue }, { Redis: RedisClient }] = await Promise.all([loadBullmq(), loadIoredis()]);
  const client = new RedisClient({ ...resolved.connection, lazyConnect: true });
  let queue: Queue | undefined;
  /** The wait ended (a timeout, a refusal): the check goes no further. */
  let gaveUp = false;
  let lastError: string | undefined;
  let refuse: ((error: unknown) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    refuse = reject;
  });
  refused.catch(() => undefined);
  const failed = (error: Error): void => {
    lastError = resolved.redact(messageOf(error));
    onError?.(lastError);
    // ioredis would retry these forever: they are answers, not an absence.
    if (isRefusal(error)) refuse?.(error);
  };
  client.on('error', failed);
  const timeoutMs = target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const timedOut = new Error('no answer');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        // A user whose ACL key patterns leave out the queue's keys gets NOPERM here, not in the middle of a MULTI.
        await client.exists(metaKey(prefix, name));
        if (gaveUp) return;
        queue = new BullQueue(name, { connection: resolved.connection as ConnectionOptions, prefix });
        queue.on('error', failed);
        await queue.waitUntilReady();
      })(),
      refused,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timedOut), timeoutMs);
      }),
    ]);
    const opened = queue!;
    return {
      queue: opened,
      client,
      name,
      prefix,
      shownAs,
      redact: resolved.redact,
      close: async () => {
        await Promise.allSettled([opened.close(), client.quit().catch(() => client.disconnect())]);
      },
    };
  } catch (error) {
    gaveUp = true;
    refuse = undefined;
    // A socket torn down mid-handshake may report once more after ioredis let go of it.
    (client as unknown as { stream?: NodeJS.EventEmitter }).stream?.on('error', () => undefined);
    client.disconnect();
    await queue?.close().catch(() => undefined);
    const own = resolved.redact(messageOf(error));
    // "Connection is closed." and the like say less than the error that closed it.
    const why = error === timedOut || GENERIC.test(own) ? (lastError ?? own) : own;
    const hint = hintFor(why, { tls: resolved.connection.tls !== undefined, keys: `${prefix}:${name}:*` });
    throw new SluiceQueueError(name, `cannot reach Redis at ${shownAs} within ${timeoutMs / 1000} s: ${why}${hint}`, { cause: error });
  } finally {
    refuse = undefined;
    clearTimeout(timer);
  }
}

const GENERIC = /^(Connection is closed|Stream isn't writeable|no answer)/i;
const AUTH = /\b(WRONGPASS|NOAUTH)\b/;
const NOPERM = /\bNOPERM\b/;
const CERT = /certificate|CERT_|self[- ]signed|altnames/i;

/** An error that no reconnection can fix: credentials, permissions, the server's certificate. */
function isRefusal(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    AUTH.test(error.message) || NOPERM.test(error.message) || CERT.test(error.message) || (typeof code === 'string' && CERT.test(code))
  );
}

/** What to check, for the errors whose message alone does not say it. */
function hintFor(why: string, { tls, keys }: { tls: boolean; keys: string }): string {
  if (AUTH.test(why)) return " (check the connection's user and password)";
  if (NOPERM.test(why)) {
    return /\bkeys?\b/.test(why)
      ? ` (the ACL user's key patterns must cover ${keys})`
      : ' (the ACL user lacks a command sluice needs: see the README for the ACL rules)';
  }
  if (/altnames|does not match certificate/i.test(why)) {
    return " (the server's certificate does not name this host: connect by a name it lists, or set tls.servername)";
  }
  if (CERT.test(why)) {
    return " (the server's certificate is not trusted: give its CA as tls.ca in ioredis options, or NODE_EXTRA_CA_CERTS=ca.pem with a rediss:// URL)";
  }
  if (tls && /^no answer/.test(why))
    return ' (a rediss:// connection to a port without TLS gets none: if the port does not serve TLS, use redis://)';
  if (!tls && /ECONNRESET|Connection is closed|EPIPE/.test(why)) return ' (if the port serves TLS, use rediss://)';
  return '';
}
