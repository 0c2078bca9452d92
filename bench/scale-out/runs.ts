/**
 * The scale-out bench's runs, one function each: a throughput run of k nodes against the
 * simulator, the no-op overhead pair (the queue, and the same job without one) with Redis memory
 * per job, and a recovery run (two nodes, one killed with SIGKILL). Each run starts from an empty
 * Redis (FLUSHALL) and starts its nodes as fresh processes; the records say what happened, the
 * report (report.ts) makes figures of them.
 */
import { Queue } from 'bullmq';
import { enqueue, QUEUE_PREFIX, queueStatus, type Job, type QueueCounts } from 'sluice';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Build } from '../harness/build.js';
import type { Simulator, SimulatorStats } from '../harness/simulator.js';
import { fingerprint, NOOP_JOB, SIM_JOB, startNode, type Node, type Via } from './nodes.js';
import type { BenchRedis } from './redis.js';
import { BUCKET_MS, type NodeReport } from './types.js';

export type Policy = 'adaptive' | 'fixed';

export interface Context {
  readonly build: Build;
  /** How the queue nodes run: `sluice worker`, or `runWorker` in the bench's child. */
  readonly via: Via;
  readonly redis: BenchRedis;
  readonly log: (line: string) => void;
}

/** How a node ended: its report (none when it was killed), exit code or signal, and why not cleanly. */
export interface NodeEnd {
  readonly report?: NodeReport;
  readonly code: number | null;
  readonly signal: string | null;
  readonly note?: string;
}

const nodeEnd = (e: Awaited<Node['ended']>): NodeEnd => ({
  ...(e.report !== undefined ? { report: { ...e.report, buckets: [] } } : {}),
  code: e.exit.code,
  signal: e.exit.signal,
  ...(e.note !== undefined ? { note: e.note } : {}),
});

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const now = (): number => performance.timeOrigin + performance.now();

async function loadJob(file: string): Promise<Job> {
  return (await import(file)).default as Job;
}

async function countsOf(ctx: Context, queue: string): Promise<QueueCounts> {
  return (await queueStatus({ connection: ctx.redis.url, queue })).counts;
}

// ---------------------------------------------------------------------------------------------
// Throughput against the simulator

/** From a throughput run's drain to its abort, ms. */
const STOP_GRACE_MS = 500;

export interface ThroughputSettings {
  readonly tasks: number;
  /** From the moment every node has its first outcome to the window's start, ms. */
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly fixedLimit: number;
  readonly timeoutMs: number;
}

export interface ThroughputRecord {
  readonly round: number;
  readonly policy: Policy;
  readonly nodes: number;
  readonly tasks: number;
  /** The measured window (epoch ms, as taken). */
  readonly windowMs: number;
  /** Answered 200 by the service in the window, per second. */
  readonly servedPerSecond: number;
  /** 503s the service answered in the window. */
  readonly rejected: number;
  /** Outcomes the nodes stored in the window (whole buckets), per second; and the failed ones among them. */
  readonly outcomesPerSecond: number;
  readonly failedInWindow: number;
  /** The service's peaks over the whole run: requests in service, and waiting. */
  readonly peakInFlight: number;
  readonly peakQueue: number;
  /** Over the whole run (start-up and drain included). */
  readonly rejectedTotal: number;
  /** From the first node's first outcome to the last node's: how staggered the starts were, ms. */
  readonly startSpreadMs: number;
  readonly ends: readonly NodeEnd[];
  /** The queue after every node exited. */
  readonly counts: QueueCounts;
}

/** Enqueues `tasks` service tasks, starts `nodes` nodes, measures a window once all have started, drains them. */
export async function throughputRun(
  ctx: Context,
  sim: Simulator,
  round: number,
  policy: Policy,
  nodes: number,
  s: ThroughputSettings,
): Promise<ThroughputRecord> {
  await ctx.redis.flush();
  const queue = `scale-${policy}-${nodes}-r${round}`;
  const job = await loadJob(SIM_JOB);
  await enqueue(job, range(s.tasks), { connection: ctx.redis.url, queue, module: fingerprint(SIM_JOB) });
  await sim.reset();
  const o = {
    job: SIM_JOB,
    via: ctx.via,
    env: { SLUICE_BENCH_URL: sim.url },
    limit: policy === 'fixed' ? String(s.fixedLimit) : 'adaptive',
    redis: ctx.redis.url,
    queue,
    timeoutMs: s.timeoutMs,
  };
  const started = range(nodes).map(() => startNode(ctx.build, o));
  try {
    // A node that exits before its first outcome: no window; its end says why (the checks fail on it).
    const firsts = await Promise.all(started.map((n) => n.first)).catch(() => [Number.NaN]);
    const t0 = Math.max(...firsts);
    if (!Number.isFinite(t0)) for (const n of started) n.send('DRAIN');
    await sleep(Math.max(0, t0 + s.warmupMs - now()));
    const a = { t: now(), stats: await sim.stats() };
    await sleep(Math.max(0, a.t + s.windowMs - now()));
    const b = { t: now(), stats: await sim.stats() };
    // Stop: drain (stop claiming), then abort what is still held after STOP_GRACE_MS (its jobs go
    // back to waiting): a node paused by a Retry-After would otherwise take seconds to finish.
    for (const n of started) n.send('DRAIN');
    const grace = setTimeout(() => {
      for (const n of started) n.send('ABORT');
    }, STOP_GRACE_MS);
    const ends = await Promise.all(started.map((n) => n.ended));
    clearTimeout(grace);
    const all = await sim.stats();
    const [from, to] = [Math.ceil(a.t / BUCKET_MS), Math.floor(b.t / BUCKET_MS)];
    let outcomes = 0;
    let failedInWindow = 0;
    for (const e of ends) {
      for (const [bucket, count, failed] of e.report?.buckets ?? []) {
        if (bucket < from || bucket >= to) continue;
        outcomes += count;
        failedInWindow += failed;
      }
    }
    const seconds = (b.t - a.t) / 1000;
    return {
      round,
      policy,
      nodes,
      tasks: s.tasks,
      windowMs: b.t - a.t,
      servedPerSecond: (b.stats.served - a.stats.served) / seconds,
      rejected: rejected503(b.stats) - rejected503(a.stats),
      outcomesPerSecond: outcomes / (((to - from) * BUCKET_MS) / 1000),
      failedInWindow,
      peakInFlight: all.peakInFlight,
      peakQueue: all.peakQueueLength,
      rejectedTotal: rejected503(all),
      startSpreadMs: t0 - Math.min(...firsts),
      ends: ends.map(nodeEnd),
      counts: await countsOf(ctx, queue),
    };
  } finally {
    for (const n of started) n.send('ABORT');
    await Promise.all(started.map((n) => n.child.stop(5000)));
  }
}

const rejected503 = (s: SimulatorStats): number => s.rejected['503'];

// ---------------------------------------------------------------------------------------------
// The queue's overhead: a no-op job through the queue against the same job in one process

export interface OverheadSettings {
  readonly tasks: number;
  /** Tasks of the run without a queue: more, since they take only tens of ms at `tasks`. */
  readonly directTasks: number;
  /** The no-op stage's concurrency. */
  readonly concurrency: number;
  readonly timeoutMs: number;
}

export interface OverheadRecord {
  readonly round: number;
  readonly tasks: number;
  readonly directTasks: number;
  /** Outcomes per second from the first outcome to the last: one worker on the queue, and createExecutor alone. */
  readonly queuePerSecond: number;
  readonly directPerSecond: number;
  /** Tasks enqueued per second (`enqueue`, chunks of 500). */
  readonly enqueuePerSecond: number;
  /** INFO memory used_memory of an empty Redis, with the tasks waiting, and once they completed (results kept). */
  readonly memory: { readonly empty: number; readonly waiting: number; readonly completed: number };
  readonly queueEnd: NodeEnd;
  readonly directEnd: NodeEnd;
  readonly counts: QueueCounts;
}

const perSecond = (r: NodeReport | undefined): number =>
  r?.firstAt !== undefined && r.lastAt !== undefined && r.lastAt > r.firstAt
    ? ((r.outcomes - 1) * 1000) / (r.lastAt - r.firstAt)
    : Number.NaN;

/** `order` says which goes first this round. */
export async function overheadRun(
  ctx: Context,
  round: number,
  order: readonly ('queue' | 'direct')[],
  s: OverheadSettings,
): Promise<OverheadRecord> {
  const env = { SLUICE_BENCH_TASKS: String(s.tasks), SLUICE_BENCH_CONCURRENCY: String(s.concurrency) };
  const job = await loadJob(NOOP_JOB);
  const queue = `overhead-r${round}`;
  let queueEnd: NodeEnd | undefined;
  let directEnd: NodeEnd | undefined;
  let enqueuePerSecond = Number.NaN;
  let memory = { empty: Number.NaN, waiting: Number.NaN, completed: Number.NaN };
  for (const which of order) {
    if (which === 'direct') {
      const direct = { ...env, SLUICE_BENCH_TASKS: String(s.directTasks) };
      directEnd = nodeEnd(await startNode(ctx.build, { job: NOOP_JOB, env: direct, direct: true, timeoutMs: s.timeoutMs }).ended);
      continue;
    }
    await ctx.redis.flush();
    const empty = await ctx.redis.usedMemory();
    const t = performance.now();
    await enqueue(job, range(s.tasks), { connection: ctx.redis.url, queue, module: fingerprint(NOOP_JOB) });
    enqueuePerSecond = (s.tasks * 1000) / (performance.now() - t);
    const waiting = await ctx.redis.usedMemory();
    queueEnd = nodeEnd(
      await startNode(ctx.build, { job: NOOP_JOB, via: ctx.via, env, redis: ctx.redis.url, queue, timeoutMs: s.timeoutMs }).ended,
    );
    memory = { empty, waiting, completed: await ctx.redis.usedMemory() };
  }
  return {
    round,
    tasks: s.tasks,
    directTasks: s.directTasks,
    queuePerSecond: perSecond(queueEnd?.report),
    directPerSecond: perSecond(directEnd?.report),
    enqueuePerSecond,
    memory,
    queueEnd: queueEnd!,
    directEnd: directEnd!,
    counts: await countsOf(ctx, queue),
  };
}

// ---------------------------------------------------------------------------------------------
// Recovery after a kill -9

/** Polls (100 ms apart) with nothing waiting and the same active count: the survivor is idle. */
const IDLE_POLLS = 5;

export interface RecoverySettings {
  readonly label: 'default' | 'short';
  readonly tasks: number;
  /** How long each task takes, ms, and how many a node runs at once. */
  readonly sleepMs: number;
  readonly concurrency: number;
  /** Undefined: the worker's defaults (30 s, 30 s). */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  /** Kill once this share of the tasks completed. */
  readonly killAtShare: number;
  readonly timeoutMs: number;
}

export interface RecoveryRecord {
  readonly round: number;
  readonly label: RecoverySettings['label'];
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly tasks: number;
  /** Tasks completed when the kill came. */
  readonly completedAtKill: number;
  /** Jobs that ran again after the kill (started twice: the killed node's). */
  readonly recovered: number;
  /** From the kill, ms: the first recovered job claimed again, the last one completed, the survivor's exit. */
  readonly reclaimedMs: number;
  readonly recoveredMs: number;
  readonly survivorExitMs: number;
  /** From the kill until the survivor had nothing else to do (its last outcome before the first recovered job). */
  readonly idleFromMs: number;
  readonly survivor: NodeEnd;
  readonly killed: NodeEnd;
  readonly counts: QueueCounts;
  /** Jobs started more than twice, or not completed. */
  readonly overRun: number;
}

/**
 * `onIdle` is called once the survivor has nothing left but the killed node's jobs (nothing
 * waiting, the active count steady): from then on it only waits for the stalled check.
 */
export async function recoveryRun(ctx: Context, round: number, s: RecoverySettings, onIdle?: () => void): Promise<RecoveryRecord> {
  await ctx.redis.flush();
  const queue = `recovery-${s.label}-r${round}`;
  const job = await loadJob(NOOP_JOB);
  await enqueue(job, range(s.tasks), { connection: ctx.redis.url, queue, module: fingerprint(NOOP_JOB) });
  const env = { SLUICE_BENCH_CONCURRENCY: String(s.concurrency), SLUICE_BENCH_SLEEP_MS: String(s.sleepMs) };
  const o = {
    job: NOOP_JOB,
    via: ctx.via,
    env,
    redis: ctx.redis.url,
    queue,
    timeoutMs: s.timeoutMs,
    ...(s.lockDurationMs !== undefined ? { lockDurationMs: s.lockDurationMs } : {}),
    ...(s.stalledIntervalMs !== undefined ? { stalledIntervalMs: s.stalledIntervalMs } : {}),
  };
  const [victim, survivor] = [startNode(ctx.build, o), startNode(ctx.build, o)];
  const bull = new Queue(queue, { connection: { url: ctx.redis.url }, prefix: QUEUE_PREFIX });
  try {
    // Kill once the share is done (or, should the nodes not get there in time, when the time is up).
    await Promise.all([victim.first, survivor.first]).catch(() => undefined);
    const deadline = performance.now() + s.timeoutMs / 2;
    let completedAtKill = 0;
    for (;;) {
      completedAtKill = await bull.getCompletedCount();
      if (completedAtKill >= s.tasks * s.killAtShare || performance.now() > deadline) break;
      await sleep(20);
    }
    const killAt = Date.now();
    if (victim.pid !== undefined) process.kill(victim.pid, 'SIGKILL');
    const killed = nodeEnd(await victim.ended);
    if (onIdle !== undefined) {
      let steady = 0;
      let before = -1;
      while (steady < IDLE_POLLS && performance.now() < deadline + s.timeoutMs / 2) {
        const c = await bull.getJobCounts('waiting', 'active', 'completed');
        steady = c.waiting === 0 && c.active === before ? steady + 1 : 0;
        before = c.active ?? -1;
        if ((c.completed ?? 0) >= s.tasks) break;
        await sleep(100);
      }
      onIdle();
    }
    const survived = await survivor.ended;
    const exitAt = Date.now();
    const jobs = await bull.getJobs(['completed', 'failed', 'active', 'waiting'], 0, -1);
    const again = jobs.filter((j) => j.attemptsStarted > 1 || j.stalledCounter > 0);
    const firstAgain = Math.min(...again.map((j) => j.processedOn ?? Number.NaN));
    const lastAgain = Math.max(...again.map((j) => j.finishedOn ?? Number.NaN));
    const before = jobs.filter((j) => !again.includes(j) && (j.finishedOn ?? 0) < firstAgain);
    const idleFrom = Math.max(killAt, ...before.map((j) => j.finishedOn ?? 0));
    return {
      round,
      label: s.label,
      lockDurationMs: s.lockDurationMs ?? 30_000,
      stalledIntervalMs: s.stalledIntervalMs ?? 30_000,
      tasks: s.tasks,
      completedAtKill,
      recovered: again.length,
      reclaimedMs: firstAgain - killAt,
      recoveredMs: lastAgain - killAt,
      survivorExitMs: exitAt - killAt,
      idleFromMs: idleFrom - killAt,
      survivor: nodeEnd(survived),
      killed,
      counts: await countsOf(ctx, queue),
      overRun: jobs.filter((j) => j.attemptsStarted > 2 || j.finishedOn === undefined || j.failedReason).length,
    };
  } finally {
    await bull.close();
    await Promise.all([victim.child.stop(2000), survivor.child.stop(2000)]);
  }
}
