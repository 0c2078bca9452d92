/**
 * One run of the shared-limiter scenario: two fresh simulated services (each its own child
 * process), one sluice job `fetch` (GET service A) → `store` (GET service B: the simulator has one
 * route, so "store" is a GET that holds one of B's workers like a write would), N tasks, run in
 * this process. Only the limiters differ between variants (VARIANTS). Counted here, per service:
 * HTTP attempts sent, 503s received and the peak of attempts outstanding (client side); from each
 * simulator: served, rejected, and its peak of requests in service + queued.
 */
import { createExecutor, io, service, type Service, type ServiceStats } from 'sluice';
import { createAgent, fetchBuffer, HttpStatusError } from 'sluice/demo';
import { startSimulator, type Simulator, type SimulatorStats } from '../harness/simulator.js';

/** The two services: same latency, queue bound and Retry-After; only their capacity differs. */
export interface SharedSetup {
  readonly capacityA: number;
  readonly capacityB: number;
  readonly latencyMs: number;
  readonly queueBound: number;
  readonly retryAfterS: number;
  readonly n: number;
}

export interface Variant {
  readonly name: string;
  readonly describe: string;
  /** Whether both stages share one limiter. */
  readonly shared: boolean;
  /** The limiters of fetch (A) and store (B): the same object when shared. */
  make(setup: SharedSetup): { readonly a: Service; readonly b: Service };
}

export const VARIANTS: readonly Variant[] = [
  {
    name: 'per-service fixed',
    describe: 'one `service()` per service, each fixed at its capacity (A: C_A, B: C_B)',
    shared: false,
    make: (s) => ({
      a: service('A', { limit: s.capacityA }),
      b: service('B', { limit: s.capacityB }),
    }),
  },
  {
    name: 'per-service vegas',
    describe: "one `service()` per service with the adaptive default (`limit: 'vegas'`), knowing neither capacity",
    shared: false,
    make: () => ({ a: service('A', { limit: 'vegas' }), b: service('B', { limit: 'vegas' }) }),
  },
  {
    name: 'shared k=C_A',
    describe: "one `service('both', { limit: C_A })` for both stages: what A can take",
    shared: true,
    make: (s) => {
      const both = service('both', { limit: s.capacityA });
      return { a: both, b: both };
    },
  },
  {
    name: 'shared k=C_B',
    describe: "one `service('both', { limit: C_B })` for both stages: safe for B",
    shared: true,
    make: (s) => {
      const both = service('both', { limit: s.capacityB });
      return { a: both, b: both };
    },
  },
];

/** Client-side figures for one service. */
export interface Endpoint {
  readonly attempts: number;
  readonly rejected: number;
  readonly peakOutstanding: number;
}

export interface SharedRun {
  readonly variant: string;
  readonly round: number;
  readonly n: number;
  readonly pulled: number;
  readonly completed: number;
  readonly failed: number;
  readonly causes: Readonly<Record<string, number>>;
  readonly wallMs: number;
  readonly a: Endpoint;
  readonly b: Endpoint;
  /** svc.stats() at the end: one entry when shared. */
  readonly services: readonly ServiceStats[];
  /** The highest limit each limiter had during the run (initial included), by service name. */
  readonly maxLimit: Readonly<Record<string, number>>;
  readonly simA: SimulatorStats;
  readonly simB: SimulatorStats;
}

function counter() {
  let [attempts, rejected, outstanding, peakOutstanding] = [0, 0, 0, 0];
  return {
    async around<T>(fn: () => Promise<T>): Promise<T> {
      attempts += 1;
      outstanding += 1;
      if (outstanding > peakOutstanding) peakOutstanding = outstanding;
      try {
        return await fn();
      } catch (error) {
        if (error instanceof HttpStatusError && error.status === 503) rejected += 1;
        throw error;
      } finally {
        outstanding -= 1;
      }
    },
    get: (): Endpoint => ({ attempts, rejected, peakOutstanding }),
  };
}

function causeOf(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown } | null;
  return `${String(e?.name ?? 'Error')}: ${String(e?.message ?? error)}`
    .replace(/\/work\/\d+/g, '/work/:id')
    .replace(/127\.0\.0\.1:\d+/g, 'host');
}

export async function runShared(variant: Variant, round: number, s: SharedSetup): Promise<SharedRun> {
  const common = { latencyMs: s.latencyMs, queueBound: s.queueBound, retryAfterS: s.retryAfterS, reject: 503 as const, sampleMs: 0 };
  const sims: Simulator[] = [];
  try {
    const started = await Promise.allSettled([s.capacityA, s.capacityB].map((capacity) => startSimulator({ ...common, capacity })));
    for (const r of started) if (r.status === 'fulfilled') sims.push(r.value);
    const down = started.find((r) => r.status === 'rejected');
    if (down) throw down.reason;
    const [simA, simB] = sims as [Simulator, Simulator];
    const { a, b } = variant.make(s);
    const maxLimit: Record<string, number> = {};
    for (const svc of new Set([a, b])) {
      maxLimit[svc.name] = svc.limit.current;
      svc.limit.subscribe((v) => (maxLimit[svc.name] = Math.max(maxLimit[svc.name] ?? 0, v)));
    }
    const [agentA, agentB] = [createAgent(64), createAgent(64)];
    const [countA, countB] = [counter(), counter()];
    const ex = createExecutor<number, Buffer>({
      stages: [
        io('fetch', (id: number, ctx) => countA.around(() => fetchBuffer(`${simA.url}/work/${id}`, agentA, ctx.signal)), { service: a }),
        io('store', (_doc: Buffer, ctx) => countB.around(() => fetchBuffer(`${simB.url}/work/${String(ctx.task)}`, agentB, ctx.signal)), {
          service: b,
        }),
      ],
    });
    let pulled = 0;
    function* ids(): Generator<number> {
      for (let i = 0; i < s.n; i++) {
        pulled += 1;
        yield i;
      }
    }
    await Promise.all([simA.reset(), simB.reset()]);
    let [completed, failed] = [0, 0];
    const causes: Record<string, number> = {};
    const t0 = performance.now();
    for await (const o of ex.run(ids())) {
      if (o.ok) completed += 1;
      else {
        failed += 1;
        const c = causeOf(o.error);
        causes[c] = (causes[c] ?? 0) + 1;
      }
    }
    const wallMs = performance.now() - t0;
    const [statsA, statsB] = await Promise.all([simA.stats(), simB.stats()]);
    await ex.close();
    agentA.destroy();
    agentB.destroy();
    return {
      variant: variant.name,
      round,
      n: s.n,
      pulled,
      completed,
      failed,
      causes,
      wallMs,
      a: countA.get(),
      b: countB.get(),
      services: [...new Set([a, b])].map((x) => x.stats()),
      maxLimit,
      simA: statsA,
      simB: statsB,
    };
  } finally {
    await Promise.all(sims.map((x) => x.close()));
  }
}
