/**
 * Child entry of the scale-out bench: one node, in this fresh process (started by
 * bench/scale-out/nodes.ts through the bench's child harness, compiled to plain ESM by the bench's
 * build). Two modes:
 *
 * - `queue` (the default): the library's `runWorker(job, { connection, queue, ... })` on the queue,
 *   with `exitWhenDrained`, as a service embedding sluice would run it (what `sluice worker JOB
 *   --exit-when-drained` does).
 * - `direct`: the same job in one process without a queue: its services, `setup` and stages built
 *   the same way, `createExecutor` run over the job's own input. The overhead baseline.
 *
 * Line protocol: prints `FIRST <epoch ms>` at its first outcome and `RESULT {json}` at the end;
 * reads `DRAIN` (stop claiming, finish what is held) and `ABORT` (held jobs back to waiting) on
 * stdin. Stdin ending counts as DRAIN. Outcomes are counted in 100 ms buckets of the epoch clock
 * (`performance.timeOrigin + performance.now()`), which every process on the machine shares, so
 * the parent can add the nodes' completions up over one window.
 *
 *   node worker-child.mjs --job FILE --redis URL --queue NAME [--module SHA] [--lock-duration MS]
 *     [--stalled-interval MS] [--direct]
 */
import { parseArgs } from 'node:util';
import { createExecutor, runWorker, service, SluiceAbortError, type Job, type QueueWorkerEvent, type Service, type Stage } from 'sluice';
import { commands, emit } from '../harness/lines.js';
import { BUCKET_MS, type NodeReport, workerCounters } from './types.js';

const { values } = parseArgs({
  options: {
    job: { type: 'string' },
    redis: { type: 'string', default: '' },
    queue: { type: 'string', default: '' },
    module: { type: 'string' },
    'lock-duration': { type: 'string' },
    'stalled-interval': { type: 'string' },
    direct: { type: 'boolean', default: false },
  },
});
if (values.job === undefined) throw new Error('--job: the job module to run');
const job = (await import(values.job)).default as Job<unknown, unknown, unknown>;

const now = (): number => performance.timeOrigin + performance.now();
const buckets = new Map<number, [number, number]>();
const causes: Record<string, number> = {};
const events: Record<string, number> = {};
let outcomes = 0;
let failed = 0;
let firstAt: number | undefined;
let lastAt: number | undefined;
const seen = (ok: boolean, error?: unknown): void => {
  const t = now();
  if (firstAt === undefined) {
    firstAt = t;
    void emit('FIRST', String(t));
  }
  lastAt = t;
  outcomes += 1;
  if (!ok) {
    failed += 1;
    const cause = String((error as Error | undefined)?.message ?? error)
      .replace(/\/work\/\d+/g, '/work/:id')
      .replace(/127\.0\.0\.1:\d+/g, 'host');
    causes[cause] = (causes[cause] ?? 0) + 1;
  }
  const b = Math.floor(t / BUCKET_MS);
  const counts = buckets.get(b) ?? [0, 0];
  counts[0] += 1;
  if (!ok) counts[1] += 1;
  buckets.set(b, counts);
};

const drain = new AbortController();
const abort = new AbortController();
const release = commands(
  (line) => {
    if (line === 'DRAIN') drain.abort();
    if (line === 'ABORT') abort.abort(new Error('aborted by the bench'));
  },
  () => drain.abort(),
);

/** The job's pipeline as `runWorker` builds it, run over the job's own input in this process. */
async function direct(): Promise<{ reason: string; error?: string }> {
  const services: Record<string, Service> = {};
  for (const [name, declared] of Object.entries(job.services ?? {})) services[name] = service(name, declared);
  const resources = job.setup !== undefined ? await job.setup({ services }) : undefined;
  try {
    const stages: readonly Stage[] = typeof job.stages === 'function' ? await job.stages({ services, resources }) : job.stages;
    const executor = createExecutor({ ...job.options, stages, ordered: false });
    try {
      const input = typeof job.input === 'function' ? job.input() : job.input;
      if (input === undefined) throw new Error('the job has no input of its own');
      for await (const o of executor.run(input as Iterable<unknown>, { signal: abort.signal, drain: drain.signal })) {
        seen(o.ok, o.ok ? undefined : o.error);
      }
      return { reason: drain.signal.aborted ? 'drain' : 'done' };
    } finally {
      await executor.close();
    }
  } finally {
    await job.close?.(resources);
  }
}

let report: NodeReport;
try {
  if (values.direct) {
    const r = await direct();
    report = { mode: 'direct', ...r, outcomes, failed, buckets: [], events, causes };
  } else {
    const r = await runWorker(job, {
      connection: values.redis,
      queue: values.queue,
      module: values.module,
      exitWhenDrained: true,
      drain: drain.signal,
      signal: abort.signal,
      ...(values['lock-duration'] !== undefined ? { lockDurationMs: Number(values['lock-duration']) } : {}),
      ...(values['stalled-interval'] !== undefined ? { stalledIntervalMs: Number(values['stalled-interval']) } : {}),
      onOutcome: (o) => seen(o.ok, o.ok ? undefined : o.error),
      onEvent: (e: QueueWorkerEvent) => {
        events[e.type] = (events[e.type] ?? 0) + 1;
      },
    });
    const s = r.stats;
    report = {
      mode: 'queue',
      reason: r.reason,
      // The abort the bench asked for is how the run ended, not an error (as `sluice worker` reports it).
      ...(r.error !== undefined && !(r.error instanceof SluiceAbortError) ? { error: String((r.error as Error).message ?? r.error) } : {}),
      outcomes,
      failed,
      buckets: [],
      stats: workerCounters(s),
      events,
      causes,
    };
  }
} catch (error) {
  report = {
    mode: values.direct ? 'direct' : 'queue',
    reason: 'error',
    error: String((error as Error).message ?? error),
    outcomes,
    failed,
    buckets: [],
    events,
    causes,
  };
}
await emit('RESULT', {
  ...report,
  ...(firstAt !== undefined ? { firstAt } : {}),
  ...(lastAt !== undefined ? { lastAt } : {}),
  buckets: [...buckets].map(([b, [n, f]]) => [b, n, f]),
});
release();
