/**
 * The back-pressure invariants of DESIGN.md, asserted with counters under load: a real HTTP server
 * on 127.0.0.1, real worker threads, counters kept in shared memory by the workers themselves.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createExecutor, cpu, io, type Executor, type ExecutorStats } from '../src/index.js';
import { startDocServer, type DocServer } from '../src/demo/doc-server.js';
import { createAgent, fetchBuffer } from '../src/demo/fetch-doc.js';
import type { CountingInput } from './fixtures/counting.js';

const countingWorker = new URL('./fixtures/counting.ts', import.meta.url);

let server: DocServer;
const agent = createAgent(64);

beforeAll(async () => {
  server = await startDocServer({ latencyMs: 2, sizeBytes: 16 * 1024, variety: 8 });
});
afterAll(async () => {
  agent.destroy();
  await server.close();
});

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

function* endless(pulled: { count: number }): Generator<number> {
  for (let i = 0; ; i++) {
    pulled.count += 1;
    yield i;
  }
}

/** The most tasks the pipeline can hold: stage capacities, buffer bounds and the output bound. */
function pipelineWindow(stats: ExecutorStats): number {
  return stats.stages.reduce((s, st) => s + st.capacity, 0) + stats.buffers.reduce((s, b) => s + b.bound, 0);
}

interface Probe {
  inFlight: number;
  peak: number;
}

function probe(): Probe {
  return { inFlight: 0, peak: 0 };
}

async function track<T>(p: Probe, fn: () => Promise<T>): Promise<T> {
  p.inFlight += 1;
  p.peak = Math.max(p.peak, p.inFlight);
  try {
    return await fn();
  } finally {
    p.inFlight -= 1;
  }
}

/**
 * fetch (io, k) → count (cpu, T threads, `batch` tasks per message) → store (io, 1); counters seen
 * from outside the engine. The batch is fixed, so every bound is exact: the cpu stage holds T tasks
 * with B = 1 and (T + 1) x B with B > 1 (one batch more than its threads run, waiting for the first
 * that frees), and so does the buffer in front of it unless `buffer` is given ('auto' would move B
 * with the measured task time; test/cpu-batch.test.ts covers it).
 */
function loadPipeline(k: number, threads: number, batch: false | number, buffer?: number) {
  const counters = new SharedArrayBuffer(16);
  const fetchProbe = probe();
  const storeProbe = probe();
  let fetched = 0;
  let peakFetchedNotStarted = 0;
  const shared = new Int32Array(counters);
  const executor: Executor<number> = createExecutor<number>({
    ...(buffer !== undefined ? { buffer } : {}),
    stages: [
      io(
        'fetch',
        (id: number, ctx) =>
          track(fetchProbe, async () => {
            const body = await fetchBuffer(`${server.url}/docs/${id}`, agent, ctx.signal);
            fetched += 1;
            // Payloads fetched that no worker has started on yet: the data piling up in memory.
            peakFetchedNotStarted = Math.max(peakFetchedNotStarted, fetched - Atomics.load(shared, 2));
            return { id, counters, body } satisfies CountingInput;
          }),
        { concurrency: k },
      ),
      cpu('count', countingWorker, { threads, batch }),
      io('store', (r: { id: number }) => track(storeProbe, async () => r.id), { concurrency: 1 }),
    ],
  });
  return {
    executor,
    fetchProbe,
    storeProbe,
    cpuPeak: () => Atomics.load(shared, 1),
    peakFetchedNotStarted: () => peakFetchedNotStarted,
  };
}

describe('back pressure under load', () => {
  it.each<[string, false | number, number]>([
    ['one task per message (batch: false)', false, 1],
    ['batches of 4', 4, 4],
  ])('keeps every stage within its capacity and every buffer within its bound: %s', async (_, batch, B) => {
    const k = 6;
    const threads = 2;
    // The cpu stage's capacity: one batch more than its threads run when it batches.
    const C = B > 1 ? (threads + 1) * B : threads;
    const p = loadPipeline(k, threads, batch);
    const seen = new Set<number>();
    try {
      for await (const o of p.executor.run(range(300))) {
        expect(o.ok).toBe(true);
        seen.add(o.index);
      }
      const stats = p.executor.stats();
      expect(seen.size).toBe(300);
      expect(stats.tasks).toMatchObject({ pulled: 300, completed: 300, failed: 0, open: 0 });
      // Seen from outside the engine: calls in flight, tasks on threads at once (a thread runs
      // the tasks of its batch one after another).
      expect(p.fetchProbe.peak).toBeLessThanOrEqual(k);
      expect(p.storeProbe.peak).toBeLessThanOrEqual(1);
      expect(p.cpuPeak()).toBeLessThanOrEqual(threads);
      // Seen by the engine. A cpu stage's capacity counts tasks: threads with B = 1, (threads + 1) x B
      // with B > 1; at most threads x B of them are in messages to threads at once.
      expect(stats.stages[1]).toMatchObject({ capacity: C, peakCapacity: C, batch: { size: B, threads } });
      expect(stats.stages[1]!.batch!.peak).toBeLessThanOrEqual(B);
      expect(stats.stages[1]!.batch!.peakOnThreads).toBeLessThanOrEqual(threads * B);
      for (const s of stats.stages) expect(s.peakActive).toBeLessThanOrEqual(s.capacity);
      for (const b of stats.buffers) expect(b.peak).toBeLessThanOrEqual(b.bound);
      // Default bound: the downstream stage's capacity (the output's: the last stage's).
      expect(stats.buffers.map((b) => b.bound)).toEqual([C, 1, 1]);
      // Fetched-but-unstarted payloads stay under io capacity + buffer bound + the cpu stage's capacity.
      expect(stats.buffered.peak).toBeLessThanOrEqual(k + C + C + 1);
      expect(p.peakFetchedNotStarted()).toBeLessThanOrEqual(k + C + C);
    } finally {
      await p.executor.close();
    }
  });

  it('keeps peak buffered payloads and open tasks independent of the number of tasks', async () => {
    const peaks: Array<{ buffered: number; open: number }> = [];
    for (const n of [60, 600]) {
      const p = loadPipeline(4, 2, 4, 3);
      try {
        let count = 0;
        for await (const o of p.executor.run(range(n))) if (o.ok) count += 1;
        expect(count).toBe(n);
        const s = p.executor.stats();
        peaks.push({ buffered: s.buffered.peak, open: s.tasks.peakOpen });
        expect(s.tasks.peakOpen).toBeLessThanOrEqual(pipelineWindow(s));
        expect(s.stages[1]!.capacity).toBe((2 + 1) * 4);
      } finally {
        await p.executor.close();
      }
    }
    // One bound for both sizes: io capacity + fetch→count buffer + cpu capacity ((threads + 1) x B) + count→store buffer.
    const bound = 4 + 3 + (2 + 1) * 4 + 3;
    for (const p of peaks) expect(p.buffered).toBeLessThanOrEqual(bound);
  });
});

describe('lazy input', () => {
  it('pulls an endless generator only as far as the pipeline window', async () => {
    const pulled = { count: 0 };
    const ex = createExecutor<number>({
      stages: [io('double', async (n: number) => n * 2, { concurrency: 3 }), io('inc', async (n: number) => n + 1, { concurrency: 2 })],
    });
    try {
      const k = 25;
      let got = 0;
      for await (const o of ex.run(endless(pulled))) {
        expect(o.ok).toBe(true);
        if (++got === k) break;
      }
      const stats = ex.stats();
      expect(stats.tasks.pulled).toBe(pulled.count);
      expect(pulled.count).toBeLessThanOrEqual(k + pipelineWindow(stats));
      for (const s of stats.stages) expect(s.active).toBe(0);
    } finally {
      await ex.close();
    }
  });

  it('stops admitting once the output side is full when the consumer stops pulling', async () => {
    const pulled = { count: 0 };
    const ex = createExecutor<number>({
      stages: [io('a', async (n: number) => n, { concurrency: 3 }), io('b', async (n: number) => n, { concurrency: 2 })],
      outputBuffer: 4,
    });
    try {
      const it = ex.run(endless(pulled));
      for (let i = 0; i < 5; i++) expect((await it.next()).done).toBe(false);
      // The consumer pauses. Wait until nothing runs: the pipeline is full and idle.
      await vi.waitFor(() => {
        const s = ex.stats();
        expect(s.stages.every((st) => st.running === 0)).toBe(true);
        expect(s.buffers.at(-1)!.size).toBe(4);
      });
      const s = ex.stats();
      const window = pipelineWindow(s); // 3 + 2 + buffer 2 + output 4
      expect(window).toBe(11);
      expect(s.tasks.open).toBe(window);
      expect(pulled.count).toBe(5 + window);
      // Every stage holds finished work it cannot hand on, at capacity.
      for (const st of s.stages) expect(st.active).toBe(st.capacity);
      // The consumer resumes: work flows again.
      for (let i = 0; i < 20; i++) expect((await it.next()).done).toBe(false);
      expect(pulled.count).toBeGreaterThan(5 + window);
      await it.return!();
    } finally {
      await ex.close();
    }
  });

  it('pulls an async iterable one task at a time', async () => {
    let concurrentNext = 0;
    let peakConcurrentNext = 0;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]() {
        let i = 0;
        return {
          async next() {
            concurrentNext += 1;
            peakConcurrentNext = Math.max(peakConcurrentNext, concurrentNext);
            await new Promise((r) => setImmediate(r));
            concurrentNext -= 1;
            return i < 50 ? { value: i++, done: false } : { value: undefined, done: true };
          },
        };
      },
    };
    const ex = createExecutor<number>({ stages: [io('x', async (n: number) => n, { concurrency: 8 })] });
    try {
      let count = 0;
      for await (const o of ex.run(source)) if (o.ok) count += 1;
      expect(count).toBe(50);
      expect(peakConcurrentNext).toBe(1);
    } finally {
      await ex.close();
    }
  });
});

describe('later stages first', () => {
  it('moves work in progress on before it pulls a new task', async () => {
    const violations: string[] = [];
    let ex: Executor<number> | undefined;
    function* checked(n: number): Generator<number> {
      for (let i = 0; i < n; i++) {
        // At the moment of each pull: no finished work may wait while the place it goes has room,
        // and no buffered work may wait while the stage after it has a free slot.
        const s = ex!.stats();
        s.stages.forEach((st, j) => {
          const held = st.active - st.running;
          const next = s.buffers[j]!;
          if (held > 0 && next.size < next.bound) violations.push(`pull ${i}: ${st.name} holds ${held}, ${next.name} has room`);
          if (j > 0 && s.buffers[j - 1]!.size > 0 && st.active < st.capacity) {
            violations.push(`pull ${i}: ${s.buffers[j - 1]!.name} waits, ${st.name} has a free slot`);
          }
        });
        yield i;
      }
    }
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    ex = createExecutor<number>({
      stages: [
        io('fetch', async (n: number) => n, { concurrency: 4 }),
        io(
          'slow',
          async (n: number) => {
            await gate;
            return n;
          },
          { concurrency: 2 },
        ),
        io('store', async (n: number) => n, { concurrency: 1 }),
      ],
      buffer: 2,
    });
    try {
      const it = ex.run(checked(200));
      let got = 0;
      // Open the gate a little at a time so buffers fill and drain over and over.
      const opener = setInterval(() => {
        release();
        gate = new Promise<void>((r) => (release = r));
      }, 1);
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) got += 1;
      } finally {
        clearInterval(opener);
        release();
      }
      expect(got).toBe(200);
      expect(violations).toEqual([]);
    } finally {
      await ex.close();
    }
  });
});

describe('outcome order', () => {
  it('yields outcomes as they finish by default', async () => {
    let releaseFirst!: () => void;
    const first = new Promise<void>((r) => (releaseFirst = r));
    const ex = createExecutor<number>({
      stages: [
        io(
          'wait',
          async (n: number) => {
            if (n === 0) await first;
            return n;
          },
          { concurrency: 4 },
        ),
      ],
    });
    try {
      const order: number[] = [];
      for await (const o of ex.run(range(10))) {
        order.push(o.index);
        if (order.length === 3) releaseFirst();
      }
      expect(order[0]).not.toBe(0);
      expect(order.indexOf(0)).toBeGreaterThan(0);
      expect([...order].sort((a, b) => a - b)).toEqual([...range(10)]);
    } finally {
      await ex.close();
    }
  });

  it('keeps input order with `ordered`, within a bounded window', async () => {
    const window = 6;
    const ex = createExecutor<number>({
      stages: [
        io(
          'jitter',
          async (n: number) => {
            // Tasks take 0 to 4 turns of the event loop, so later ones often finish first.
            for (let i = 0; i < (n * 7) % 5; i++) await new Promise((r) => setImmediate(r));
            return { n };
          },
          { concurrency: 4 },
        ),
        cpu('double', new URL('./fixtures/double.ts', import.meta.url), { threads: 2 }),
      ],
      ordered: true,
      window,
    });
    try {
      const seen: number[] = [];
      for await (const o of ex.run(range(120))) {
        expect(o.ok && o.value).toEqual({ n: o.index * 2 });
        seen.push(o.index);
      }
      expect(seen).toEqual([...range(120)]);
      expect(ex.stats().tasks.peakOpen).toBeLessThanOrEqual(window);
    } finally {
      await ex.close();
    }
  });
});
