/**
 * A service call whose last attempt returns a failure (a value classified dropped once the retries
 * run out, or a response with status >= 400 the classifier does not call a success) rejects with a
 * SluiceResponseError, in the pipeline (a failed outcome with its attempts) and through
 * svc.call/ctx.call; bodies nobody will read are cancelled. Real HTTP on 127.0.0.1:0.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { outcomeLine } from '../src/cli/io/outcome-line.js';
import {
  cpu,
  createExecutor,
  ErrorCodes,
  io,
  service,
  SluiceResponseError,
  type IoFunction,
  type Outcome,
  type Service,
} from '../src/index.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

interface Counting {
  readonly url: string;
  /** Responses started by the server. */
  hits: number;
  /** Responses whose connection closed before the server ended them. */
  closedEarly: number;
}

/** A server whose every answer is decided by `handle`; counts hits and responses closed unfinished. */
async function serve(handle: (nth: number, res: ServerResponse) => void): Promise<Counting> {
  const state = { hits: 0, closedEarly: 0 };
  const server: Server = createServer((_req, res) => {
    state.hits += 1;
    res.on('close', () => {
      if (!res.writableEnded) state.closedEarly += 1;
    });
    handle(state.hits, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function runAll<T>(fn: IoFunction, svc: Service, tasks: T[]): Promise<Outcome<T>[]> {
  const ex = createExecutor<T>({ stages: [io('fetch', fn, { service: svc })] });
  try {
    const outcomes: Outcome<T>[] = [];
    for await (const o of ex.run(tasks)) outcomes.push(o);
    return outcomes;
  } finally {
    await ex.close();
  }
}

const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('a failure response is a failed outcome', () => {
  it('a 503 Response on every attempt: ok false, its attempts, a SluiceResponseError, and stats agree', async () => {
    const svc = service('busy-svc', { limit: 2, retry: { attempts: 3, baseMs: 1, maxMs: 1 } });
    const outcomes = await runAll(async () => new Response('busy', { status: 503 }), svc, [1, 2]);
    expect(outcomes).toHaveLength(2);
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (o.ok) continue;
      expect(o.stage).toBe('fetch');
      expect(o.attempts).toBe(3);
      expect(o.error).toBeInstanceOf(SluiceResponseError);
      const e = o.error as SluiceResponseError;
      expect(e).toMatchObject({ code: ErrorCodes.RESPONSE, service: 'busy-svc', status: 503, attempts: 3 });
      // new Response(...) has no status text of its own; the message still names the status.
      expect(e.statusText).toBeUndefined();
      expect(e.message).toContain('busy-svc');
      expect(e.message).toContain('HTTP 503 Service Unavailable');
      expect(e.response).toBeInstanceOf(Response);
      expect((e.response as Response).status).toBe(503);
      expect(Object.keys(e)).not.toContain('response');
    }
    expect(svc.stats()).toMatchObject({ calls: 2, attempts: 6, dropped: 6, retries: 4, failed: 2, successes: 0 });
  });

  it('a 404 Response is not retried and fails at once; a non-response value classified ignore is a success', async () => {
    const svc = service('nf-svc', {
      limit: 1,
      classify: (r) => ('value' in r && r.value === 'cached' ? 'ignore' : undefined),
    });
    const outcomes = await runAll(async (n: number) => (n === 1 ? new Response(null, { status: 404 }) : 'cached'), svc, [1, 2]);
    const byTask = new Map(outcomes.map((o) => [o.task, o]));
    const missing = byTask.get(1)!;
    expect(missing).toMatchObject({ ok: false, attempts: 1, error: { code: ErrorCodes.RESPONSE, status: 404, attempts: 1 } });
    expect(!missing.ok && (missing.error as Error).message).toContain('HTTP 404 Not Found');
    expect(byTask.get(2)).toMatchObject({ ok: true, value: 'cached' });
    expect(svc.stats()).toMatchObject({ calls: 2, attempts: 2, ignored: 2, retries: 0, failed: 1, successes: 0 });
  });

  it('a value a custom classifier calls dropped fails with status undefined once the retries run out', async () => {
    const svc = service('custom-svc', {
      limit: 1,
      retry: { attempts: 2, baseMs: 0, maxMs: 0 },
      classify: (r) => ('value' in r && (r.value as { busy?: boolean }).busy === true ? 'dropped' : undefined),
    });
    const outcomes = await runAll(async () => ({ busy: true }), svc, [1]);
    expect(outcomes[0]).toMatchObject({ ok: false, attempts: 2 });
    const e = (outcomes[0] as { error: SluiceResponseError }).error;
    expect(e).toBeInstanceOf(SluiceResponseError);
    expect(e).toMatchObject({ code: ErrorCodes.RESPONSE, status: undefined, attempts: 2, response: { busy: true } });
    expect(svc.stats()).toMatchObject({ dropped: 2, failed: 1 });
  });

  it('a failure response the classifier calls a success stays a success', async () => {
    const svc = service('ok404-svc', { limit: 1, classify: () => 'success' });
    const outcomes = await runAll(async () => new Response('gone', { status: 410 }), svc, [1]);
    expect(outcomes[0]).toMatchObject({ ok: true });
    expect((outcomes[0] as { value: Response }).value.status).toBe(410);
    expect(svc.stats()).toMatchObject({ successes: 1, failed: 0 });
  });

  it('the CLI line is ok:false with the code, status and attempts, and leaves the response out', async () => {
    const svc = service('line-svc', { limit: 1, retry: { attempts: 2, baseMs: 0, maxMs: 0 } });
    const [outcome] = await runAll(async () => new Response('busy', { status: 503, statusText: 'Busy Now' }), svc, [7]);
    const line = JSON.parse(outcomeLine(outcome!)) as Record<string, unknown>;
    expect(line).toMatchObject({
      ok: false,
      stage: 'fetch',
      attempts: 2,
      error: {
        name: 'SluiceResponseError',
        code: ErrorCodes.RESPONSE,
        service: 'line-svc',
        status: 503,
        statusText: 'Busy Now',
        attempts: 2,
      },
    });
    expect(line.error).not.toHaveProperty('response');
    expect(line).not.toHaveProperty('value');
  });
});

describe('svc.call and ctx.call reject the same way', () => {
  it('svc.call rejects with SluiceResponseError for a real 503 (fetch) and a real 404 (undici request)', async () => {
    const srv = await serve((_, res) => res.writeHead(res.req.url === '/missing' ? 404 : 503).end('no'));
    const svc = service('direct-svc', { limit: 1, retry: { attempts: 2, baseMs: 0, maxMs: 0 } });
    await expect(svc.call((signal) => fetch(`${srv.url}/busy`, { signal }))).rejects.toMatchObject({
      constructor: SluiceResponseError,
      code: ErrorCodes.RESPONSE,
      status: 503,
      statusText: 'Service Unavailable',
      attempts: 2,
    });
    await expect(svc.call((signal) => request(`${srv.url}/missing`, { signal }))).rejects.toMatchObject({
      code: ErrorCodes.RESPONSE,
      status: 404,
      attempts: 1,
    });
    expect(svc.stats()).toMatchObject({ calls: 2, attempts: 3, dropped: 2, ignored: 1, failed: 2 });
  });

  it('ctx.call of another service inside a stage rejects with it too', async () => {
    const inner = service('inner-svc', { limit: 1, retry: false });
    const ex = createExecutor<number>({
      stages: [io('outer', (n: number, ctx) => ctx.call(inner, async () => new Response(String(n), { status: 429 })), { concurrency: 1 })],
    });
    try {
      const outcomes = [];
      for await (const o of ex.run([1])) outcomes.push(o);
      expect(outcomes[0]).toMatchObject({
        ok: false,
        stage: 'outer',
        error: { code: ErrorCodes.RESPONSE, service: 'inner-svc', status: 429, attempts: 1 },
      });
      expect(inner.stats()).toMatchObject({ dropped: 1, failed: 1 });
    } finally {
      await ex.close();
    }
  });
});

describe('through the bridge', () => {
  it("a worker's host call into svc.call rejects with the code, status and attempts", async () => {
    const svc = service('bridge-svc', { limit: 1, retry: { attempts: 2, baseMs: 0, maxMs: 0 } });
    const ex = createExecutor<{ catch: boolean }>({
      stages: [
        cpu('call-home', new URL('./fixtures/bridge/worker.ts', import.meta.url), {
          threads: 1,
          exportName: 'failing',
          expose: { fail: () => svc.call(async () => new Response('busy', { status: 503 })) },
        }),
      ],
    });
    try {
      const outcomes = [];
      for await (const o of ex.run([{ catch: false }])) outcomes.push(o);
      expect(outcomes[0]).toMatchObject({
        ok: false,
        stage: 'call-home',
        error: { name: 'SluiceResponseError', code: ErrorCodes.RESPONSE, service: 'bridge-svc', status: 503, attempts: 2 },
      });
      expect(svc.stats()).toMatchObject({ attempts: 2, failed: 1 });
    } finally {
      await ex.close();
    }
  });
});

describe('bodies nobody reads are cancelled', () => {
  it('every attempt of a failed call releases its connection: the retried ones and the last (fetch)', async () => {
    // The server starts a 503 body and never ends it: only a cancelled body closes the connection.
    const srv = await serve((_, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('busy...');
    });
    const svc = service('cancel-svc', { limit: 1, retry: { attempts: 3, baseMs: 0, maxMs: 0 } });
    const error = await svc.call((signal) => fetch(srv.url, { signal })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.RESPONSE, status: 503, attempts: 3 });
    await until(() => srv.closedEarly === 3);
    expect(srv.hits).toBe(3);
  });

  it('an undici request body (a Node stream) is released too', async () => {
    const srv = await serve((_, res) => {
      res.writeHead(429);
      res.write('slow down');
    });
    const svc = service('cancel-undici', { limit: 1, retry: { attempts: 2, baseMs: 0, maxMs: 0 } });
    const error = await svc.call((signal) => request(srv.url, { signal })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.RESPONSE, status: 429, attempts: 2 });
    await until(() => srv.closedEarly === 2);
  });

  it('the body of a retried attempt whose thrown error carries the Response is cancelled', async () => {
    const srv = await serve((nth, res) => {
      if (nth === 1) {
        res.writeHead(503);
        res.write('busy...');
      } else res.writeHead(200).end('ok');
    });
    const svc = service('cancel-thrown', { limit: 1, retry: { attempts: 2, baseMs: 0, maxMs: 0 } });
    const body = await svc.call(async (signal) => {
      const response = await fetch(srv.url, { signal });
      if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, response });
      return response.text();
    });
    expect(body).toBe('ok');
    await until(() => srv.closedEarly === 1);
  });
});
