/**
 * service(): outcome classification, retries inside the slot, timeouts, Retry-After pauses,
 * deadlock detection, and a limit that drives p-limit's concurrency. Real HTTP on 127.0.0.1:0.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, fetchBuffer, HttpStatusError } from '../src/demo/fetch-doc.js';
import { createExecutor, ErrorCodes, io, service, SluiceTimeoutError, type Limit, type Sample } from '../src/index.js';
import { parseRetryAfter } from '../src/services/retry-after.js';

interface Hit {
  readonly id: string;
  readonly at: number;
}

interface TestServer {
  readonly url: string;
  readonly hits: Hit[];
  inFlight: number;
  peak: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const agent = createAgent(32);
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A loopback server whose answer for each request is decided by `handle` (nth hit of that id). */
async function serve(handle: (id: string, nth: number, res: ServerResponse) => void): Promise<TestServer> {
  const seen = new Map<string, number>();
  const state = { hits: [] as Hit[], inFlight: 0, peak: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const id = (req.url ?? '/').slice(1);
    const nth = (seen.get(id) ?? 0) + 1;
    seen.set(id, nth);
    state.hits.push({ id, at: performance.now() });
    state.inFlight += 1;
    state.peak = Math.max(state.peak, state.inFlight);
    res.on('close', () => (state.inFlight -= 1));
    handle(id, nth, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s: TestServer = Object.assign(state, {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
  servers.push(s);
  return s;
}

function ok(res: ServerResponse, delayMs = 0): void {
  setTimeout(() => res.writeHead(200).end('ok'), delayMs);
}

/** A Limit the test drives by hand, recording every sample it is fed. */
function manualLimit(initial: number): Limit & { set(n: number): void; samples: Sample[] } {
  let current = initial;
  const listeners = new Set<(n: number) => void>();
  const samples: Sample[] = [];
  return {
    get current() {
      return current;
    },
    samples,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sample(s) {
      samples.push(s);
    },
    set(n) {
      if (n === current) return;
      current = n;
      for (const l of listeners) l(n);
    },
  };
}

const get = (url: string) => (signal: AbortSignal) => fetchBuffer(url, agent, signal);

describe('outcomes', () => {
  it('samples a success with its latency and in-flight count', async () => {
    const srv = await serve((_, __, res) => ok(res, 5));
    const limit = manualLimit(4);
    const svc = service('s-success', { limit });
    const bodies = await Promise.all([1, 2, 3].map((i) => svc.call(get(`${srv.url}/${i}`))));
    expect(bodies.map(String)).toEqual(['ok', 'ok', 'ok']);
    expect(limit.samples).toHaveLength(3);
    for (const s of limit.samples) {
      expect(s.dropped).toBe(false);
      expect(s.rttMs).toBeGreaterThan(0);
      expect(s.inflight).toBeGreaterThanOrEqual(1);
    }
    expect(Math.max(...limit.samples.map((s) => s.inflight))).toBe(3);
    expect(svc.stats()).toMatchObject({ calls: 3, attempts: 3, successes: 3, dropped: 0, ignored: 0, retries: 0 });
  });

  it('retries a 503 as dropped, and gives up on a 404 at once without a sample', async () => {
    const srv = await serve((id, nth, res) => {
      if (id === 'missing') res.writeHead(404).end();
      else if (nth < 3) res.writeHead(503).end();
      else ok(res);
    });
    const limit = manualLimit(2);
    const svc = service('s-503', { limit, random: () => 0 });
    expect(String(await svc.call(get(`${srv.url}/flaky`)))).toBe('ok');
    await expect(svc.call(get(`${srv.url}/missing`))).rejects.toMatchObject({ status: 404 });
    expect(limit.samples.map((s) => s.dropped)).toEqual([true, true, false]);
    expect(svc.stats()).toMatchObject({ attempts: 4, successes: 1, dropped: 2, ignored: 1, retries: 2, failed: 1 });
    expect(srv.hits.filter((h) => h.id === 'missing')).toHaveLength(1);
  });

  it('treats a refused connection as dropped and fails after the last attempt with its cause', async () => {
    const srv = await serve((_, __, res) => ok(res));
    const closedUrl = srv.url;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const limit = manualLimit(1);
    const svc = service('s-refused', { limit, retry: 2, random: () => 0 });
    await expect(svc.call(get(`${closedUrl}/x`))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(limit.samples.map((s) => s.dropped)).toEqual([true, true]);
    expect(svc.stats()).toMatchObject({ attempts: 2, dropped: 2, failed: 1 });
  });

  it('lets the user classify errors and values', async () => {
    const limit = manualLimit(1);
    const svc = service('s-classify', {
      limit,
      random: () => 0,
      classify: (r) => ('value' in r && r.value === 'busy' ? 'dropped' : undefined),
    });
    let n = 0;
    const value = await svc.call(async () => (++n < 2 ? 'busy' : 'done'));
    expect(value).toBe('done');
    expect(limit.samples.map((s) => s.dropped)).toEqual([true, false]);
  });
});

describe('timeouts', () => {
  it('aborts an attempt past timeoutMs, counts it as dropped, and retries it', async () => {
    const srv = await serve((_, nth, res) => {
      if (nth === 1) return; // never answers the first time
      ok(res);
    });
    const limit = manualLimit(1);
    // Long enough that the answered second request never times out on a saturated machine.
    const svc = service('s-timeout', { limit, timeoutMs: 1000, random: () => 0 });
    const signals: AbortSignal[] = [];
    const body = await svc.call((signal) => {
      signals.push(signal);
      return fetchBuffer(`${srv.url}/slow`, agent, signal);
    });
    expect(String(body)).toBe('ok');
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(SluiceTimeoutError);
    expect(limit.samples.map((s) => s.dropped)).toEqual([true, false]);
  });

  it('fails with SluiceTimeoutError when every attempt times out', async () => {
    const svc = service('s-timeout-all', { limit: 1, timeoutMs: 20, retry: 2, random: () => 0 });
    await expect(svc.call(() => new Promise(() => undefined))).rejects.toMatchObject({ code: ErrorCodes.TIMEOUT });
    expect(svc.stats()).toMatchObject({ attempts: 2, dropped: 2, failed: 1 });
  });
});

describe('retries inside the slot', () => {
  it('holds the slot through every attempt: the next call starts only after the last retry', async () => {
    const srv = await serve((id, nth, res) => {
      if (id === 'a' && nth < 3) res.writeHead(503).end();
      else ok(res);
    });
    const svc = service('s-slot', { limit: 1, random: () => 0 });
    await Promise.all([svc.call(get(`${srv.url}/a`)), svc.call(get(`${srv.url}/b`))]);
    expect(srv.hits.map((h) => h.id)).toEqual(['a', 'a', 'a', 'b']);
    expect(srv.peak).toBe(1);
  });

  it('puts the attempts and the final cause on a failed outcome of an io stage', async () => {
    const srv = await serve((_, __, res) => res.writeHead(503).end());
    const svc = service('s-stage', { limit: 2, retry: { attempts: 3, baseMs: 1, maxMs: 2 } });
    const ex = createExecutor<number>({
      stages: [io('fetch', (id: number, ctx) => fetchBuffer(`${srv.url}/${id}`, agent, ctx.signal), { service: svc })],
    });
    try {
      const outcomes = [];
      for await (const o of ex.run([1, 2])) outcomes.push(o);
      expect(outcomes).toHaveLength(2);
      for (const o of outcomes) {
        expect(o.ok).toBe(false);
        if (o.ok) continue;
        expect(o.stage).toBe('fetch');
        expect(o.attempts).toBe(3);
        expect(o.error).toBeInstanceOf(HttpStatusError);
        expect((o.error as HttpStatusError).status).toBe(503);
      }
      expect(srv.hits).toHaveLength(6);
    } finally {
      await ex.close();
    }
  });
});

describe('Retry-After', () => {
  it('pauses every call to the service until the time it names', async () => {
    let firstRejectAt = 0;
    const srv = await serve((id, nth, res) => {
      if (id === 'first' && nth === 1) {
        firstRejectAt = performance.now();
        res.writeHead(429, { 'retry-after': '1' }).end();
      } else ok(res);
    });
    const svc = service('s-pause', { limit: 4, random: () => 0 });
    const first = svc.call(get(`${srv.url}/first`));
    // Once the 429 is in, a new call must wait out the pause too.
    while (svc.stats().pauses === 0) await new Promise((r) => setImmediate(r));
    const second = svc.call(get(`${srv.url}/second`));
    await Promise.all([first, second]);
    const later = srv.hits.filter((h) => h.at > firstRejectAt);
    expect(later.map((h) => h.id).sort()).toEqual(['first', 'second']);
    // setTimeout never fires early, so a lower bound on the server's own clock cannot flake.
    for (const h of later) expect(h.at - firstRejectAt).toBeGreaterThanOrEqual(990);
    expect(svc.stats()).toMatchObject({ pauses: 1, retries: 1, successes: 2 });
  });

  it('ignores a malformed Retry-After and caps an absurd one', async () => {
    const srv = await serve((id, nth, res) => {
      if (nth > 1) return ok(res);
      res.writeHead(503, { 'retry-after': id === 'malformed' ? 'soon' : '999999' }).end();
    });
    const svc = service('s-cap', { limit: 2, random: () => 0, maxRetryAfterMs: 50 });
    await svc.call(get(`${srv.url}/malformed`));
    expect(svc.stats().pauses).toBe(0);
    await svc.call(get(`${srv.url}/absurd`));
    expect(svc.stats().pauses).toBe(1);
  });

  it.each([
    ['12', 12_000],
    ['0', 0],
    [' 7 ', 7000],
    ['soon', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['', undefined],
    ['Sat, 28 Nov 2026 10:00:30 GMT', 30_000],
    ['Sat, 28 Nov 2026 09:59:00 GMT', 0],
    ['86400', 60_000],
  ])('parseRetryAfter(%j) is %j', (header, expected) => {
    const now = Date.parse('Sat, 28 Nov 2026 10:00:00 GMT');
    expect(parseRetryAfter(header, now, 60_000)).toBe(expected);
  });
});

describe('deadlock detection', () => {
  it('refuses a call to a service from inside its own slot, and allows other services', async () => {
    const outer = service('s-outer', { limit: 1 });
    const other = service('s-other', { limit: 1 });
    await expect(outer.call(() => outer.call(async () => 1))).rejects.toMatchObject({ code: ErrorCodes.SERVICE_REENTRANT });
    await expect(outer.call(() => other.call(async () => 2))).resolves.toBe(2);
    // And after the slot is released, the same service is free again.
    await expect(outer.call(async () => 3)).resolves.toBe(3);
  });

  it('refuses it through ctx.call inside a stage on that service', async () => {
    const svc = service('s-stage-reentrant', { limit: 2 });
    const ex = createExecutor<number>({
      stages: [io('nested', (n: number, ctx) => ctx.call(svc, async () => n), { service: svc })],
    });
    try {
      const outcomes = [];
      for await (const o of ex.run([1])) outcomes.push(o);
      expect(outcomes[0]).toMatchObject({ ok: false, stage: 'nested', error: { code: ErrorCodes.SERVICE_REENTRANT } });
    } finally {
      await ex.close();
    }
  });
});

describe('the limit drives the gate', () => {
  it('p-limit concurrency and the stage capacity follow the limit as it moves', async () => {
    const limit = manualLimit(2);
    const svc = service('s-follow', { limit });
    let inFlight = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const ex = createExecutor<number>({
      stages: [
        io(
          'work',
          async () => {
            inFlight += 1;
            peak = Math.max(peak, inFlight);
            await new Promise<void>((r) => releases.push(r));
            inFlight -= 1;
          },
          { service: svc },
        ),
      ],
    });
    try {
      const it = ex.run([1, 2, 3, 4, 5, 6, 7, 8]);
      const done = (async () => {
        let n = 0;
        for (let r = await it.next(); !r.done; r = await it.next()) n += 1;
        return n;
      })();
      const until = async (cond: () => boolean) => {
        while (!cond()) await new Promise((r) => setImmediate(r));
      };
      await until(() => inFlight === 2);
      expect(ex.stats().stages[0]!.capacity).toBe(2);
      limit.set(5); // room appears with no completion: the pipeline must admit at once
      await until(() => inFlight === 5);
      expect(ex.stats().stages[0]!.capacity).toBe(5);
      limit.set(1);
      // Nothing in flight is recalled; new calls wait until fewer than 1 run.
      for (const r of releases.splice(0)) r();
      await until(() => inFlight === 1 && releases.length === 1);
      expect(svc.stats().inFlight).toBe(1);
      let finished = false;
      void done.then(() => (finished = true));
      while (!finished) {
        for (const r of releases.splice(0)) r();
        await new Promise((r) => setImmediate(r));
        expect(inFlight).toBeLessThanOrEqual(1);
      }
      expect(await done).toBe(8);
      expect(peak).toBe(5);
    } finally {
      await ex.close();
    }
  });

  it('rejects a stage with both concurrency and a service', () => {
    const svc = service('s-both', { limit: 2 });
    expect(() => createExecutor({ stages: [io('x', async () => 1, { concurrency: 2, service: svc })] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'stages[0].concurrency' }),
    );
  });
});
