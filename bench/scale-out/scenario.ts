/**
 * Scenario `scale-out`: the same job on 1, 2 and 3 worker processes over one BullMQ queue on a
 * real Redis, against a simulated service of capacity C_s = 20, with each node's service limit
 * adaptive (the default) or fixed at 20; the queue's own cost against the same no-op job in one
 * process without a queue, with Redis memory per job; and how long the jobs of a node killed with
 * SIGKILL take to come back and complete on the survivor.
 *
 * Method: the bench starts its own redis-server (bench/scale-out/redis.ts) and the simulator (its
 * own process); every node is a fresh process (worker-child.ts: the library's `runWorker`, the
 * same as `sluice worker JOB --exit-when-drained`), and every run starts from an empty Redis.
 * Tasks are enqueued with the library's `enqueue`. Rounds run the six throughput configurations in
 * an order rotated per round, then the overhead pair (its order alternating), then a recovery run
 * with short lock settings; the recovery with the default lock settings (30 s, 30 s) runs once,
 * alongside the rounds on a redis-server of its own (it waits 30 to 60 s, its survivor idle), and
 * not with --quick.
 */
import { loadavg } from 'node:os';
import { int } from '../harness/format.js';
import { startSimulator } from '../harness/simulator.js';
import { rotate } from '../harness/stats.js';
import type { Scenario } from '../harness/types.js';
import { buildNodes, cliHasWorker, type Via } from './nodes.js';
import { startRedis } from './redis.js';
import { checks, figures, method, tables, type Service, type Sizes, type Targets } from './report.js';
import {
  overheadRun,
  recoveryRun,
  throughputRun,
  type OverheadRecord,
  type Policy,
  type RecoveryRecord,
  type ThroughputRecord,
} from './runs.js';

/**
 * The service: C_s = 20 at 100 ms (20 × 1,000 / 100 = 200 req/s), at most 20 more waiting, then
 * 503 + Retry-After 1 s. No overload penalty: the simulator's applies only to a queue longer than
 * C_s, which this bound never allows; the overload shows as 503s and waiting.
 */
const SERVICE: Service = { capacity: 20, latencyMs: 100, queueBound: 20, retryAfterS: 1, overloadPenalty: 0 };
const TARGETS: Targets = { capacityShare: 0.9 };
const NODES = [1, 2, 3] as const;
/** --quick (a smoke, under 30 s): 1 and 3 nodes only. */
const QUICK_NODES = [1, 3] as const;
const POLICIES: readonly Policy[] = ['adaptive', 'fixed'];

const capacityPerSecond = (SERVICE.capacity * 1000) / SERVICE.latencyMs;
/** Enough tasks that no run drains before its window ends: the service's capacity over start-up, warm-up and window, with room. */
const tasksFor = (warmupMs: number, windowMs: number): number =>
  Math.ceil((capacityPerSecond * (4000 + warmupMs + windowMs)) / 1000 / 500) * 500;

const recovery = { tasks: 400, sleepMs: 50, concurrency: 8, killAtShare: 0.25 } as const;

const FULL: Sizes = {
  throughput: { tasks: tasksFor(1000, 2000), warmupMs: 1000, windowMs: 2000, fixedLimit: 20, timeoutMs: 60_000 },
  overhead: { tasks: 5000, directTasks: 50_000, concurrency: 64, timeoutMs: 60_000 },
  shortRecovery: { label: 'short', ...recovery, lockDurationMs: 5000, stalledIntervalMs: 2000, timeoutMs: 60_000 },
  defaultRecovery: { label: 'default', ...recovery, timeoutMs: 150_000 },
};
const QUICK: Sizes = {
  throughput: { tasks: tasksFor(300, 700), warmupMs: 300, windowMs: 700, fixedLimit: 20, timeoutMs: 30_000 },
  overhead: { tasks: 1000, directTasks: 10_000, concurrency: 64, timeoutMs: 30_000 },
  shortRecovery: { label: 'short', ...recovery, lockDurationMs: 2000, stalledIntervalMs: 1000, timeoutMs: 30_000 },
};

export const scenario: Scenario = async (options) => {
  const sizes = options.quick ? QUICK : FULL;
  const rounds = Math.max(1, options.runs);
  const t0 = performance.now();
  const loadAtStart = loadavg()[0]!;
  const build = await buildNodes(options.log);
  // `sluice worker` when the built CLI has it ($SLUICE_BENCH_VIA=library forces the library's runWorker).
  const via: Via = process.env.SLUICE_BENCH_VIA !== 'library' && (await cliHasWorker()) ? 'cli' : 'library';
  options.log(`scale-out: nodes run ${via === 'cli' ? '`sluice worker` (the built CLI)' : "the library's runWorker in a child process"}`);
  const redis = await startRedis();
  const sim = await startSimulator({ ...SERVICE, sampleMs: 0 });
  const ctx = { build, via, redis, log: options.log };
  const throughput: ThroughputRecord[] = [];
  const overhead: OverheadRecord[] = [];
  const recoveries: RecoveryRecord[] = [];
  const secs = (ms: number): string => (ms / 1000).toFixed(1);
  const logRecovery = (r: RecoveryRecord): void =>
    options.log(
      `scale-out: recovery (${r.label}: lock ${r.lockDurationMs} ms, stalled ${r.stalledIntervalMs} ms): ${r.recovered} jobs of the killed node ` +
        `back after ${secs(r.reclaimedMs)} s, done after ${secs(r.recoveredMs)} s, survivor exit after ${secs(r.survivorExitMs)} s; ` +
        `${int(r.counts.completed)}/${int(r.tasks)} completed, ${r.counts.failed} failed`,
    );
  // The recovery with the default lock settings waits 30 to 60 s for BullMQ's stalled check, its
  // survivor idle meanwhile: it runs alongside the rounds, on a redis-server of its own, once its
  // survivor has nothing left but the killed node's jobs.
  const slow = sizes.defaultRecovery !== undefined ? await startRedis() : undefined;
  let slowRun: Promise<RecoveryRecord | undefined> = Promise.resolve(undefined);
  try {
    if (slow !== undefined && sizes.defaultRecovery !== undefined) {
      options.log('scale-out: recovery with the default lock settings (30 s lock, 30 s stalled interval), alongside the rounds...');
      let idle = (): void => undefined;
      const idled = new Promise<void>((resolve) => (idle = resolve));
      const settings = sizes.defaultRecovery;
      slowRun = recoveryRun({ ...ctx, redis: slow }, 0, settings, idle);
      slowRun.catch(() => undefined);
      await Promise.race([idled, slowRun]);
    }
    const configs = POLICIES.flatMap((policy) => (options.quick ? QUICK_NODES : NODES).map((nodes) => ({ policy, nodes })));
    for (let round = 0; round < rounds; round++) {
      for (const { policy, nodes } of rotate(configs, round)) {
        const t = performance.now();
        const r = await throughputRun(ctx, sim, round, policy, nodes, sizes.throughput);
        throughput.push(r);
        options.log(
          `scale-out: round ${round + 1}/${rounds} ${policy} × ${nodes} (${secs(performance.now() - t)} s): ` +
            `${int(r.servedPerSecond)} served/s, ${int(r.rejected)} 503s in the window (${int(r.rejectedTotal)} in all), ` +
            `${r.failedInWindow} failed, peak ${r.peakInFlight} in service + ${r.peakQueue} waiting, starts ${int(r.startSpreadMs)} ms apart` +
            r.ends
              .filter((e) => e.note !== undefined)
              .map((e) => `; ${e.note}`)
              .join(''),
        );
      }
      const o = await overheadRun(ctx, round, rotate(['queue', 'direct'] as const, round), sizes.overhead);
      overhead.push(o);
      options.log(
        `scale-out: round ${round + 1}/${rounds} overhead N=${int(o.tasks)}: queue ${int(o.queuePerSecond)}/s, direct ${int(o.directPerSecond)}/s, ` +
          `enqueue ${int(o.enqueuePerSecond)}/s, ${int((o.memory.waiting - o.memory.empty) / o.tasks)} B per waiting job`,
      );
      const r = await recoveryRun(ctx, round, sizes.shortRecovery);
      recoveries.push(r);
      logRecovery(r);
    }
    const r = await slowRun;
    if (r !== undefined) {
      recoveries.push(r);
      logRecovery(r);
    }
  } finally {
    await slowRun.catch(() => undefined);
    await sim.close();
    await redis.stop();
    await slow?.stop();
    build.dispose();
  }
  const elapsedMs = performance.now() - t0;
  const load = { start: loadAtStart, end: loadavg()[0]! };
  const f = figures(throughput, overhead, recoveries, SERVICE);
  return {
    name: 'scale-out',
    title: 'Scale-out: one job on several worker processes over a BullMQ queue',
    method: method(SERVICE, sizes, rounds, build.mode, via, options.quick),
    markdown: tables(f, SERVICE, sizes, rounds, load),
    checks: checks(f, throughput, overhead, recoveries, SERVICE, TARGETS),
    charts: [],
    json: {
      parameters: {
        service: SERVICE,
        ...sizes,
        rounds,
        quick: options.quick,
        targets: TARGETS,
        worker: 'runWorker (library), child processes',
      },
      elapsedMs,
      loadAverage: load,
      figures: f,
      throughput,
      overhead,
      recoveries,
    },
  };
};
