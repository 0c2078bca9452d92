/**
 * Where a queue's Redis is, and how sluice talks to it: a `redis://` or `rediss://` (TLS) URL
 * (`redis://user:password@host:port/db`, ACL users included, user and password percent-encoded)
 * or ioredis options. Every connection sluice opens retries with a capped backoff while Redis is
 * away (`maxRetriesPerRequest: null`: a command waits for the reconnection instead of failing),
 * which is what BullMQ's workers need.
 *
 * TLS: a `rediss://` URL verifies the server's certificate against Node's trusted CAs (a private
 * CA: `NODE_EXTRA_CA_CERTS=ca.pem`); ioredis options take `tls: { ca }` (any `tls.connect` option).
 *
 * A password never leaves this module in clear: `describeConnection` gives the target as
 * `redis://user@host:port/db`, and `redact` replaces the password in any text (an error message,
 * a log line) with `***`.
 */
import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';
import { SluiceOptionError } from '../errors.js';

/** A queue's Redis: a `redis://` / `rediss://` URL, or ioredis options (host, port, username, password, tls, db). */
export type RedisConnection = string | RedisOptions;

/** The longest wait between two reconnection attempts, in ms. */
const MAX_RECONNECT_DELAY_MS = 2000;

const URL_SHAPE = 'a redis:// or rediss:// URL (redis://[user[:password]@]host[:port][/db])';

/** ioredis options for a connection, with sluice's reconnection policy; throws SluiceOptionError for a bad URL. */
export function connectionOptions(connection: RedisConnection, field = 'connection'): RedisOptions {
  const base = typeof connection === 'string' ? fromUrl(connection, field) : checkOptions(connection, field);
  return {
    ...base,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), MAX_RECONNECT_DELAY_MS),
  };
}

function fromUrl(text: string, field: string): RedisOptions {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SluiceOptionError(field, URL_SHAPE, hideUserinfo(text));
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new SluiceOptionError(field, URL_SHAPE, `${hideUserinfo(text)} (protocol ${url.protocol})`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new SluiceOptionError(field, `${URL_SHAPE} with a host`, hideUserinfo(text));
  const options: RedisOptions = { host, port: url.port === '' ? 6379 : Number(url.port) };
  const username = decoded(url.username);
  const password = decoded(url.password);
  if (username === undefined || password === undefined) {
    throw new SluiceOptionError(
      field,
      `${URL_SHAPE} whose user and password are percent-encoded (%40 for @, %3A for :, %2F for /, %25 for %)`,
      hideUserinfo(text),
    );
  }
  if (username !== '') options.username = username;
  if (password !== '') options.password = password;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '') {
    const db = Number(path);
    if (!/^\d+$/.test(path) || !Number.isSafeInteger(db)) {
      throw new SluiceOptionError(field, `${URL_SHAPE} with a database number after the host (/0, /1, ...)`, hideUserinfo(text));
    }
    options.db = db;
  }
  // The server's name for SNI and the certificate check; an IP address is checked as itself
  // (Node warns when an IP is given as servername).
  if (url.protocol === 'rediss:') options.tls = isIP(host) === 0 ? { servername: host } : {};
  return options;
}

function decoded(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function checkOptions(options: RedisOptions, field: string): RedisOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new SluiceOptionError(field, 'a redis:// URL or ioredis options ({ host, port, ... })', options);
  }
  const { host, port, db, username, password } = options;
  if (host !== undefined && (typeof host !== 'string' || host === ''))
    throw new SluiceOptionError(`${field}.host`, 'a host name or address', host);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new SluiceOptionError(`${field}.port`, 'a port number from 1 to 65535', port);
  }
  if (db !== undefined && (!Number.isInteger(db) || db < 0)) throw new SluiceOptionError(`${field}.db`, 'an integer >= 0', db);
  if (username !== undefined && typeof username !== 'string') throw new SluiceOptionError(`${field}.username`, 'a string', username);
  // Never echo a password back, even a malformed one.
  if (password !== undefined && typeof password !== 'string')
    throw new SluiceOptionError(`${field}.password`, 'a string', `(a ${typeof password})`);
  return { ...options };
}

/** The target as `redis://user@host:port/db` (`rediss://` with TLS): never the password. */
export function describeConnection(connection: RedisConnection): string {
  let options: RedisOptions;
  try {
    options = typeof connection === 'string' ? fromUrl(connection, 'connection') : connection;
  } catch {
    return typeof connection === 'string' ? hideUserinfo(connection) : 'redis://(invalid options)';
  }
  if (options === null || typeof options !== 'object') return 'redis://(invalid options)';
  const scheme = options.tls === undefined ? 'redis' : 'rediss';
  const user = typeof options.username === 'string' && options.username !== '' ? `${encodeURIComponent(options.username)}@` : '';
  const db = typeof options.db === 'number' && options.db !== 0 ? `/${options.db}` : '';
  if (typeof options.path === 'string') return `unix://${user}${options.path}${db}`;
  const host = typeof options.host === 'string' ? options.host : '127.0.0.1';
  return `${scheme}://${user}${isIP(host) === 6 ? `[${host}]` : host}:${options.port ?? 6379}${db}`;
}

/** The password of a connection, if it has one (what `redact` hides). */
export function passwordOf(connection: RedisConnection): string | undefined {
  if (typeof connection !== 'string') {
    const password = connection !== null && typeof connection === 'object' ? connection.password : undefined;
    return typeof password === 'string' && password !== '' ? password : undefined;
  }
  try {
    const password = new URL(connection).password;
    return password === '' ? undefined : (decoded(password) ?? password);
  } catch {
    return undefined;
  }
}

/**
 * The password of `scheme://user:password@` in any URL of a text: the user part ends at the first
 * `:`, the password at the last `@` before a space or quote (an unencoded `@` in a password is
 * taken as part of it).
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'<>]*:)[^\s"'<>/?#]*@/gi;

/**
 * `text` with every password hidden: the password part of any `redis://user:password@` (or other
 * scheme's) URL in it, and each of `secrets` (a connection's password) wherever it appears, as is,
 * percent-encoded or JSON-escaped, become `***`.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(URL_PASSWORD, '$1***@');
  for (const secret of secrets) {
    if (secret === undefined || secret.length === 0) continue;
    const forms = new Set([secret, encodeURIComponent(secret), userinfoEncoded(secret), JSON.stringify(secret).slice(1, -1)]);
    for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join('***');
  }
  return out;
}

/** `secret` as a URL's serializer writes a password (a few characters differ from encodeURIComponent). */
function userinfoEncoded(secret: string): string {
  const url = new URL('redis://host');
  url.password = secret;
  return url.password;
}

/**
 * A connection string that is no valid URL, shown without what may be its password: whatever
 * stands between the user's `:` and the last `@` (with or without a scheme).
 */
function hideUserinfo(text: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  const rest = text.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return redact(text);
  const colon = rest.slice(0, at).indexOf(':');
  if (colon < 0) return redact(text);
  return `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`;
}
