/**
 * Retry-After is read from every shape an HTTP client (or a job, by hand) gives it: the errors the
 * real clients throw against a loopback server answering 503 + Retry-After (global fetch, undici,
 * axios, got), and the plain-object, Headers and Map shapes. The parse is asserted on the real
 * errors (an exact pause in ms, no clock); each client then runs once end to end through a
 * service whose pause is capped small, asserted with its counters.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import got from 'got';
import { Agent, interceptors, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { service } from '../src/index.js';
import { parseRetryAfter, retryAfterHeader } from '../src/services/retry-after.js';

const NOW = Date.parse('Sat, 28 Nov 2026 10:00:00 GMT');
const CAP = 60_000;
/** The pause a source asks for, in ms, as the service computes it. */
const pauseOf = (source: unknown): number | undefined => parseRetryAfter(retryAfterHeader(source), NOW, CAP);

let server: Server;
let base = '';
/** Hits per path; `/once/…` answers 503 + Retry-After: 1 the first time, then 200. */
const hits = new Map<string, number>();
const undiciAgent = new Agent().compose(interceptors.responseError());

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    const nth = (hits.get(path) ?? 0) + 1;
    hits.set(path, nth);
    if (path.startsWith('/once/') && nth > 1) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    else res.writeHead(503, { 'Retry-After': '1', 'content-type': 'text/plain' }).end('busy');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await undiciAgent.close();
  await new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
});

/** What each real client throws (or returns) for a 503 + Retry-After: 1. */
const clients: ReadonlyArray<readonly [string, (url: string, signal?: AbortSignal) => Promise<unknown>]> = [
  [
    'fetch (a wrapper that throws with error.response)',
    async (url, signal) => {
      const response = await fetch(url, signal ? { signal } : {});
      if (!response.ok) {
        await response.body?.cancel();
        throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, response });
      }
      return response.text();
    },
  ],
  [
    'undici request + interceptors.responseError() (errors.ResponseError)',
    (url, signal) => request(url, { dispatcher: undiciAgent, ...(signal ? { signal } : {}) }).then((r) => r.body.text()),
  ],
  [
    'axios (AxiosError, response.headers an AxiosHeaders)',
    (url, signal) => axios.get(url, signal ? { signal } : {}).then((r) => r.data as unknown),
  ],
  [
    'got, retry limit 0 (HTTPError, response.headers a plain object)',
    (url, signal) => got(url, { retry: { limit: 0 }, ...(signal ? { signal } : {}) }).text(),
  ],
];

describe('the errors real clients throw', () => {
  it.each(clients)('%s: Retry-After: 1 is a 1000 ms pause', async (_name, get) => {
    const error = await get(`${base}/always`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(pauseOf(error)).toBe(1000);
  });

  it('a fetch Response returned as the value: 1000 ms', async () => {
    const response = await fetch(`${base}/always`);
    await response.body?.cancel();
    expect(pauseOf(response)).toBe(1000);
  });

  it.each(clients)('%s: end to end, a service pauses (capped) and retries', async (name, get) => {
    const path = `/once/${encodeURIComponent(name)}`;
    const svc = service(`ra-${name}`, { limit: 1, retry: 2, random: () => 0, maxRetryAfterMs: 10 });
    expect(await svc.call((signal) => get(`${base}${path}`, signal))).toBe('ok');
    expect(svc.stats()).toMatchObject({ attempts: 2, dropped: 1, retries: 1, pauses: 1, successes: 1, failed: 0 });
    expect(hits.get(path)).toBe(2);
  });
});

describe('the shapes a job throws by hand', () => {
  const headers = new Headers({ 'Retry-After': '2' });
  it.each([
    ['a plain object, capitalized key', { status: 503, headers: { 'Retry-After': '2' } }, 2000],
    ['a plain object, lowercase key', { status: 503, headers: { 'retry-after': '2' } }, 2000],
    ['a plain object, upper-case key', { status: 503, headers: { 'RETRY-AFTER': '2' } }, 2000],
    ['a plain object, an array value', { status: 503, headers: { 'retry-after': ['2', '9'] } }, 2000],
    ['a plain object, a number value', { status: 503, headers: { 'Retry-After': 2 } }, 2000],
    ['a Headers', { status: 503, headers }, 2000],
    ['a Map, any case', { status: 503, headers: new Map([['Retry-After', '2']]) }, 2000],
    ['a get() that matches one case only', { status: 503, headers: { get: (k: string) => (k === 'Retry-After' ? '2' : null) } }, 2000],
    ['retryAfter, seconds as a number', { status: 429, retryAfter: 2 }, 2000],
    ['retryAfter, a string', { status: 429, retryAfter: '2' }, 2000],
    ['retryAfter, an HTTP-date', { status: 429, retryAfter: 'Sat, 28 Nov 2026 10:00:05 GMT' }, 5000],
    ['error.response, a Response', { response: new Response(null, { status: 503, headers: { 'Retry-After': '2' } }) }, 2000],
    ['error.response.headers, a plain object', { response: { statusCode: 503, headers: { 'Retry-After': '2' } } }, 2000],
    ['undici style: statusCode and headers', { statusCode: 503, headers: { 'retry-after': '2' } }, 2000],
    ['headers without it, then response', { headers: { 'x-request': '1' }, response: { headers: { 'Retry-After': '2' } } }, 2000],
    ['an HTTP-date in the past', { headers: { 'Retry-After': 'Sat, 28 Nov 2026 09:00:00 GMT' } }, 0],
    ['an absurd value, capped', { headers: { 'Retry-After': '86400' } }, CAP],
    ['none', { status: 503, headers: { 'content-type': 'text/plain' } }, undefined],
    ['a malformed value', { headers: { 'Retry-After': 'soon' } }, undefined],
    ['a NaN', { retryAfter: Number.NaN }, undefined],
    [
      'a response that is itself',
      (() => {
        const e: Record<string, unknown> = { status: 503 };
        e.response = e;
        return e;
      })(),
      undefined,
    ],
    ['not an object', 'Retry-After: 2', undefined],
  ])('%s', (_name, source, expected) => {
    expect(pauseOf(source)).toBe(expected);
  });

  it('a capitalized plain-object header thrown by hand pauses the service', async () => {
    const svc = service('ra-by-hand', { limit: 1, retry: 2, random: () => 0, maxRetryAfterMs: 10 });
    let n = 0;
    const value = await svc.call(async () => {
      n += 1;
      if (n === 1) throw { status: 503, headers: { 'Retry-After': '1' } };
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(svc.stats()).toMatchObject({ attempts: 2, dropped: 1, retries: 1, pauses: 1 });
  });
});
