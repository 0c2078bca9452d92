/**
 * Lanes at the library level (`createJobExecutor(job, { lanes })`): the job's pipeline in P worker
 * threads, the main thread dispatching. Real lanes, real cpu pools, and a real loopback server that
 * counts its own concurrent requests and their peak. A request counts at the server from its
 * arrival to just before `end()`, a span inside the one its lane holds the service's permit, so the
 * server's count never exceeds the permits held at that instant. Assertions are on counters and
 * states, never on time.
 *
 * The library and the jobs are the built package ('sluice', dist/: `npm test` builds before vitest,
 * as for test/cli-lanes.test.ts and the tests of the built bin): the fixtures are plain ESM
 * (fixtures/lanes/*.mjs) importing 'sluice', so no lane thread nor cpu pool thread starts a
 * TypeScript loader. Executors are still few: one 3-lane executor is shared by the tests of the
 * first describe, in order; the ordered job has one; the refusal one more.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createJobExecutor,
  ErrorCodes,
  SluiceLaneError,
  SluiceOptionError,
  type AttemptEvent,
  type JobExecutor,
  type Outcome,
  type Service,
} from 'sluice';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closeServer, listenOnLoopback } from '../src/loopback.js';

const JOB = fileURLToPath(new URL('./fixtures/lanes/job.mjs', import.meta.url));
const ORDERED_JOB = fileURLToPath(new URL('./fixtures/lanes/ordered-job.mjs', import.meta.url));

/** A task of fixtures/lanes/job.mjs (see there). */
interface Task {
  readonly n: number;
  readonly url: string;
  readonly via: 'docs' | 'adaptive' | 'bridge';
  readonly crash?: 'always' | 'once';
  readonly marker?: string;
  readonly uncloneable?: boolean;
}

/** The result of fixtures/lanes/job.mjs: `lane` is the thread that finished it. */
interface Done {
  readonly n: number;
  readonly bytes: number;
  readonly lane: number;
  readonly f?: () => number;
}

/** Bytes of every document the server sends. */
const DOC_BYTES = 1024;

interface DocServer {
  readonly url: string;
  /** Requests between arrival and `end()` now, and at most since the last `reset()`. */
  readonly inFlight: number;
  readonly peak: number;
  /** Requests since the last `reset()`, and by document number. */
  readonly total: number;
  readonly hits: ReadonlyMap<number, number>;
  reset(): void;
  close(): Promise<void>;
}

/** Serves `/doc/N?ms=K`: DOC_BYTES bytes after holding the request K ms. */
async function startServer(): Promise<DocServer> {
  let inFlight = 0;
  let peak = 0;
  let total = 0;
  let hits = new Map<number, number>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const n = Number(url.pathname.split('/')[2]);
    const ms = Number(url.searchParams.get('ms') ?? 0);
    inFlight += 1;
    if (inFlight > peak) peak = inFlight;
    total += 1;
    hits.set(n, (hits.get(n) ?? 0) + 1);
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      inFlight -= 1;
    };
    // A client that aborts leaves before the answer: it no longer holds its permit either.
    res.on('close', uncount);
    setTimeout(() => {
      uncount();
      res.end(Buffer.alloc(DOC_BYTES, n % 251));
    }, ms);
  });
  const base = await listenOnLoopback(server);
  return {
    url: base,
    get inFlight() {
      return inFlight;
    },
    get peak() {
      return peak;
    },
    get total() {
      return total;
    },
    get hits() {
      return hits;
    },
    reset() {
      peak = inFlight;
      total = 0;
      hits = new Map();
    },
    close: () => closeServer(server),
  };
}

async function collect<T, R>(run: AsyncIterable<Outcome<T, R>>, each?: (o: Outcome<T, R>) => void): Promise<Outcome<T, R>[]> {
  const outcomes: Outcome<T, R>[] = [];
  for await (const o of run) {
    outcomes.push(o);
    each?.(o);
  }
  return outcomes;
}

/** Every index of 0..n-1 exactly once. */
function expectEachOnce(outcomes: readonly Outcome<unknown, unknown>[], n: number): void {
  const indexes = outcomes.map((o) => o.index).sort((a, b) => a - b);
  expect(indexes).toEqual(Array.from({ length: n }, (_, i) => i));
}

/** The OS threads of this process (Linux): a lane is one, with its cpu pool's. */
function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

/** Sets environment variables (inherited by threads started meanwhile) for the duration of `f`. */
async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('a job in 3 lanes sharing one server (one executor, tests in order)', () => {
  let server: DocServer;
  let ex: JobExecutor<Task, Done>;
  let dir: string;
  let closed = false;
  const svc = (name: string): Service => ex.services.find((s) => s.name === name)!;
  const tasks = (n: number, via: Task['via'], ms: number, extra: (i: number) => Partial<Task> = () => ({})): Task[] =>
    Array.from({ length: n }, (_, i) => ({ n: i, url: `${server.url}/doc/${i}?ms=${ms}`, via, ...extra(i) }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-lanes-'));
    server = await startServer();
    ex = await createJobExecutor<Task, Done>(JOB, { lanes: 3 });
  });

  afterAll(async () => {
    if (!closed) await ex?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the shared limit across lanes: server peak 3 of limit 3, every task once, all lanes pulled work', async () => {
    expect(ex.lanes).toBe(3);
    server.reset();
    const N = 300;
    const outcomes = await collect(ex.run(tasks(N, 'docs', 4)));
    expectEachOnce(outcomes, N);
    expect(outcomes.every((o) => o.ok && o.value.bytes === DOC_BYTES)).toBe(true);
    expect(server.total).toBe(N);
    expect(server.peak).toBeLessThanOrEqual(3);
    expect(server.peak).toBe(3);
    expect(svc('docs').stats().peakInFlight).toBeLessThanOrEqual(3);
    expect(svc('docs').stats().inFlight).toBe(0);
    // Work is pulled: each lane asks for a batch as soon as it is ready, so each one ran some.
    const lanes = ex.stats().lanes!;
    expect(lanes.lanes).toHaveLength(3);
    for (const lane of lanes.lanes) expect(lane.completed).toBeGreaterThan(0);
    expect(lanes.lanes.reduce((n, l) => n + l.completed, 0)).toBe(N);
    expect(lanes.restarts).toBe(0);
  });

  it('an adaptive limit moves on the main thread from the lanes samples, and holds across lanes', async () => {
    server.reset();
    const adaptive = svc('adaptive');
    expect(adaptive.limit.current).toBe(2); // aimd, initial 2, max 4
    const events: AttemptEvent[] = [];
    const off = adaptive.observe((e) => events.push(e));
    const N = 200;
    const outcomes = await collect(ex.run(tasks(N, 'adaptive', 4)));
    off();
    expectEachOnce(outcomes, N);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // Every attempt reached the main thread (its samples travel in the same reports).
    expect(events).toHaveLength(N);
    expect(events.every((e) => e.outcome === 'success' && e.service === 'adaptive')).toBe(true);
    // Only the main thread's algorithm raises the limit above 2: the server saw 4 at once, never more.
    expect(server.peak).toBeLessThanOrEqual(4);
    expect(server.peak).toBe(4);
    expect(adaptive.limit.current).toBe(4);
    expect(adaptive.stats().peakInFlight).toBeLessThanOrEqual(4);
    // The lanes' counts arrive with their stats (every 250 ms): wait for them, not for a time.
    await vi.waitFor(() => expect(adaptive.stats().successes).toBe(N), { timeout: 10_000, interval: 50 });
  });

  it("a cpu stage's call home from a lane goes through the shared limit", async () => {
    server.reset();
    const N = 60;
    const outcomes = await collect(ex.run(tasks(N, 'bridge', 4)));
    expectEachOnce(outcomes, N);
    expect(outcomes.every((o) => o.ok && o.value.bytes === 2 * DOC_BYTES)).toBe(true);
    expect(server.total).toBe(2 * N);
    // One cpu thread per lane, two calls per task: 3 at the server needs two lanes' calls at once.
    expect(server.peak).toBeLessThanOrEqual(3);
    expect(server.peak).toBe(3);
    expect(svc('docs').stats().peakInFlight).toBeLessThanOrEqual(3);
  });

  it('a result that cannot be cloned fails its task alone', async () => {
    const N = 30;
    const outcomes = await collect(ex.run(tasks(N, 'docs', 1, (i) => (i === 5 ? { uncloneable: true } : {}))));
    expectEachOnce(outcomes, N);
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed.map((o) => o.index)).toEqual([5]);
    const f = failed[0]!;
    if (f.ok) throw new Error('unreachable');
    expect(f.stage).toBe('finish');
    expect(f.error).toMatchObject({ code: ErrorCodes.DATA_CLONE, path: 'result.f' });
  });

  it('a task that stops every lane it runs on fails alone with SluiceLaneError; the others complete once, permits come back', async () => {
    server.reset();
    const restarts = ex.stats().lanes!.restarts;
    const N = 40;
    const outcomes = await collect(ex.run(tasks(N, 'docs', 2, (i) => (i === 7 ? { crash: 'always' } : {}))));
    expectEachOnce(outcomes, N);
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed.map((o) => o.index)).toEqual([7]);
    const f = failed[0]!;
    if (f.ok) throw new Error('unreachable');
    expect(f.stage).toBe('lane');
    expect(f.error).toBeInstanceOf(SluiceLaneError);
    expect(f.error).toMatchObject({ code: ErrorCodes.LANE });
    expect(f.attempts).toBe(2);
    // It stopped the lane it first ran on and the one it ran on alone: each was replaced.
    expect(ex.stats().lanes!.restarts - restarts).toBeGreaterThanOrEqual(2);
    expect(server.hits.get(7)).toBeUndefined();
    expect(server.peak).toBeLessThanOrEqual(3);
    // The permits the stopped lanes held (each stopped inside the service's slot) were taken back.
    expect(svc('docs').stats().inFlight).toBe(0);
    expect(svc('docs').stats().peakInFlight).toBeLessThanOrEqual(3);
  });

  it('a task that stops one lane once runs again on another and completes; so does every task that lane held', async () => {
    server.reset();
    const restarts = ex.stats().lanes!.restarts;
    const marker = join(dir, 'crashed-once');
    const N = 40;
    const outcomes = await collect(ex.run(tasks(N, 'docs', 2, (i) => (i === 11 ? { crash: 'once', marker } : {}))));
    expectEachOnce(outcomes, N);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(existsSync(marker)).toBe(true);
    expect(ex.stats().lanes!.restarts - restarts).toBe(1);
    // It stopped its lane before its fetch: the fetch the server saw is its second run's.
    expect(server.hits.get(11)).toBe(1);
    expect(svc('docs').stats().inFlight).toBe(0);
    expect(server.peak).toBeLessThanOrEqual(3);
  });

  it('an abort mid-run rejects the run with ERR_SLUICE_ABORTED; the next run on the executor completes', async () => {
    const controller = new AbortController();
    let seen = 0;
    const run = collect(ex.run(tasks(400, 'docs', 5), { signal: controller.signal }), () => {
      seen += 1;
      if (seen === 20) controller.abort(new Error('stop here'));
    });
    await expect(run).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    expect(seen).toBeLessThan(400);
    expect(ex.stats().tasks.open).toBe(0);
    const N = 30;
    const again = await collect(ex.run(tasks(N, 'docs', 1)));
    expectEachOnce(again, N);
    expect(again.every((o) => o.ok)).toBe(true);
  });

  it('a drain mid-run ends the run normally with the tasks already handed out, each once; then close() and the final stats', async () => {
    const drain = new AbortController();
    const N = 400;
    let seen = 0;
    const outcomes = await collect(ex.run(tasks(N, 'docs', 5), { drain: drain.signal }), () => {
      seen += 1;
      if (seen === 20) drain.abort();
    });
    const indexes = outcomes.map((o) => o.index);
    expect(new Set(indexes).size).toBe(indexes.length);
    expect(indexes.every((i) => i >= 0 && i < N)).toBe(true);
    expect(outcomes.length).toBeGreaterThanOrEqual(20);
    expect(outcomes.length).toBeLessThan(N);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const stats = ex.stats();
    expect(stats.tasks.open).toBe(0);
    expect(stats.tasks.completed).toBe(outcomes.length);
    closed = true;
    await ex.close();
    expect(svc('docs').stats().inFlight).toBe(0);
    for (const lane of ex.stats().lanes!.lanes) {
      expect(lane.utilization).toBeGreaterThanOrEqual(0);
      expect(lane.utilization).toBeLessThanOrEqual(1);
      expect(lane.held).toBe(0);
    }
  });
});

describe('an ordered job in 2 lanes, with setup and close per lane', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-lanes-ordered-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('yields outcomes in input order while lanes finish out of order; setup/close ran once per lane; stages sum over lanes', async () => {
    const log = join(dir, 'ordered.log');
    const ex = await withEnv({ SLUICE_TEST_LANES_LOG: log }, () =>
      createJobExecutor<{ n: number }, { n: number; lane: number; seq: number }>(ORDERED_JOB, { lanes: 2 }),
    );
    const N = 200;
    let outcomes: Outcome<{ n: number }, { n: number; lane: number; seq: number }>[];
    try {
      outcomes = await collect(ex.run(Array.from({ length: N }, (_, n) => ({ n }))));
    } finally {
      await ex.close();
    }
    expect(outcomes.map((o) => o.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    const values = outcomes.map((o) => (o.ok ? o.value : undefined));
    expect(values.every((v, i) => v?.n === i)).toBe(true);
    // Order was exercised: some lane finished a later task before an earlier one.
    const byLane = new Map<number, { n: number; seq: number }[]>();
    for (const v of values) byLane.set(v!.lane, [...(byLane.get(v!.lane) ?? []), v!]);
    expect(byLane.size).toBe(2);
    const inversions = [...byLane.values()].some((list) => list.some((v, i) => i > 0 && v.seq < list[i - 1]!.seq));
    expect(inversions).toBe(true);

    // setup and close ran in each lane, close with that lane's resources.
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const setups = lines.filter((l) => l.startsWith('setup ')).map((l) => l.slice(6));
    const closes = lines.filter((l) => l.startsWith('close ')).map((l) => l.slice(6));
    expect(setups).toHaveLength(2);
    expect(new Set(setups).size).toBe(2);
    expect(closes.sort()).toEqual([...setups].sort());
    expect(new Set(setups)).toEqual(new Set([...byLane.keys()].map(String)));

    // Stats after close: each lane's last word is in; stages are sums over lanes.
    const stats = ex.stats();
    expect(stats.stages).toHaveLength(1);
    expect(stats.stages[0]!.completed).toBe(N);
    expect(stats.tasks.completed).toBe(N);
    expect(stats.lanes!.lanes).toHaveLength(2);
    expect(stats.lanes!.lanes.reduce((n, l) => n + l.completed, 0)).toBe(N);
    for (const lane of stats.lanes!.lanes) {
      expect(lane.utilization).toBeGreaterThanOrEqual(0);
      expect(lane.utilization).toBeLessThanOrEqual(1);
    }
  });

  it('a setup that throws refuses the executor with SluiceLaneError; close ran in every lane', async () => {
    const log = join(dir, 'refused.log');
    const threads = threadCount();
    const error = await withEnv({ SLUICE_TEST_LANES_LOG: log, SLUICE_TEST_SETUP_FAIL: '1' }, () =>
      createJobExecutor(ORDERED_JOB, { lanes: 2 }).then(
        (ex) => ex.close().then(() => undefined),
        (e: unknown) => e,
      ),
    );
    expect(error).toBeInstanceOf(SluiceLaneError);
    expect(error).toMatchObject({ code: ErrorCodes.LANE });
    expect((error as Error).message).toContain('setup refused: no database here');
    // The rejection waits for every lane to exit; each one that ran setup closed (with nothing).
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const setups = lines.filter((l) => l.startsWith('setup '));
    const closes = lines.filter((l) => l.startsWith('close '));
    expect(setups).toHaveLength(2);
    expect(closes).toEqual(['close none', 'close none']);
    // No lane's thread (nor its cpu pool's) is left: the process has no more OS threads than before.
    expect(threadCount()).toBeLessThanOrEqual(threads);
  });
});

describe('createJobExecutor options', () => {
  it.each([
    [{ lanes: 0 }, 'lanes'],
    [{ lanes: 'many' }, 'lanes'],
    [{ lanes: 1.5 }, 'lanes'],
    [{ threads: 0 }, 'threads'],
  ])('%j is refused with a SluiceOptionError naming %s', async (options, option) => {
    const error = await createJobExecutor(JOB, options as never).then(
      async (ex) => {
        await ex.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option });
  });
});
