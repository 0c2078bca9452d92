/**
 * The bridge bench (issue 4): what calling home over comlink costs a cpu stage.
 *
 * Method. One process, T worker threads per stage, each variant its own executor built once and
 * warmed up (threads started, worker module loaded, JIT warm) with the same tasks before anything
 * is timed. Then R rounds; in each, every variant runs its N tasks once, in an order rotated per
 * round, timed from the first pull to the last outcome (wall) and by the process's CPU clock (all
 * threads, user + sys). Held equal: the thread count, the tasks (integers answered as they are),
 * the executor options. Compared, paired within a round, medians over rounds:
 *  (a) per-task overhead of the bridge: a no-op stage without the bridge (`plain`, bench/workers/
 *      noop.ts) vs the same stage declaring `expose` that no task calls (`bridged`): µs per task
 *      and the ratio of walls. The bridged stage wraps each input as `{ input, index, id }` and
 *      keeps one link (a BroadcastChannel) per thread, opened once;
 *  (b) a host round trip: tasks on a bridged stage (bench/workers/bridge.ts) making M calls, one
 *      after the other, to an exposed no-op (`calls-M`) vs the same tasks making none (`calls-0`):
 *      (wall(calls-M) − wall(calls-0)) ÷ (N × M) is the wall time per call with T threads calling
 *      at once; the CPU figure is the same difference in process CPU;
 *  (c) for reference, what the design avoided: creating and closing one MessageChannel on the main
 *      thread (a channel per task would also pay moving its port and the worker's end), µs each,
 *      measured in a loop of N after the rounds.
 * The scenario wrapper is bench/bridge/scenario.ts: `npm run bench -- --scope bridge`.
 */
import { performance } from 'node:perf_hooks';
import { MessageChannel } from 'node:worker_threads';
import { createExecutor, cpu, type Executor } from 'sluice';
import { fixed } from '../harness/format.js';
import { cpuMsOf, median, rotate } from '../harness/stats.js';

const NOOP_TASK = new URL('../workers/noop.ts', import.meta.url);
const CALLS_TASK = new URL('../workers/bridge.ts', import.meta.url);

export interface BridgeOptions {
  readonly runs?: number;
  readonly quick?: boolean;
  /** Tasks per timed run of (a); (b) runs N ÷ 10 tasks. */
  readonly n?: number;
  /** M: host calls per task in (b). */
  readonly calls?: number;
  readonly threads?: number;
  readonly log: (line: string) => void;
}

interface Variant {
  readonly name: string;
  readonly ex: Executor<number, number>;
  /** The task every input is. */
  readonly input: number;
  readonly n: number;
}

interface Sample {
  readonly round: number;
  readonly variant: string;
  readonly n: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly failed: number;
}

async function drain(v: Variant, n: number): Promise<{ wallMs: number; cpuMs: number; failed: number }> {
  const inputs = new Array<number>(n).fill(v.input);
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for await (const o of v.ex.run(inputs)) if (!o.ok) failed += 1;
  const wallMs = performance.now() - t0;
  return { wallMs, cpuMs: cpuMsOf(process.cpuUsage(cpu0)), failed };
}

/** Median over rounds of f(a's sample, b's sample), both from the same round. */
function paired(samples: readonly Sample[], a: string, b: string, f: (x: Sample, y: Sample) => number): number | undefined {
  const xs: number[] = [];
  for (const sa of samples.filter((s) => s.variant === a && s.failed === 0)) {
    const sb = samples.find((s) => s.variant === b && s.round === sa.round && s.failed === 0);
    if (sb) xs.push(f(sa, sb));
  }
  return median(xs);
}

export async function measureBridge(o: BridgeOptions) {
  const runs = o.runs ?? (o.quick ? 1 : 5);
  const n = o.n ?? (o.quick ? 2000 : 20_000);
  const m = o.calls ?? 10;
  const threads = o.threads ?? 2;
  const nCalls = Math.max(1, Math.round(n / m));
  const stage = (file: URL, bridged: boolean) =>
    createExecutor<number, number>({
      stages: [cpu('work', file, { threads, ...(bridged ? { expose: { noop: () => undefined } } : {}) })],
    });
  const variants: Variant[] = [
    { name: 'plain', ex: stage(NOOP_TASK, false), input: 1, n },
    { name: 'bridged', ex: stage(NOOP_TASK, true), input: 1, n },
    { name: 'calls-0', ex: stage(CALLS_TASK, true), input: 0, n: nCalls },
    { name: `calls-${m}`, ex: stage(CALLS_TASK, true), input: m, n: nCalls },
  ];
  const samples: Sample[] = [];
  try {
    for (const v of variants) await drain(v, Math.min(v.n, 2000));
    for (let round = 1; round <= runs; round++) {
      for (const v of rotate(variants, round - 1)) {
        const r = await drain(v, v.n);
        samples.push({ round, variant: v.name, n: v.n, ...r });
        o.log(
          `  [round ${round}] ${v.name} N=${v.n}: ${r.wallMs.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU${r.failed ? `, ${r.failed} failed` : ''}`,
        );
      }
    }
  } finally {
    await Promise.all(variants.map((v) => v.ex.close()));
  }

  const channelUs: number[] = [];
  for (let round = 1; round <= runs; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) new MessageChannel().port1.close();
    await new Promise((resolve) => setImmediate(resolve)); // let the closes finish
    channelUs.push(((performance.now() - t0) / n) * 1000);
  }

  const perTaskUs = (x: Sample, y: Sample, k: 'wallMs' | 'cpuMs') => ((x[k] - y[k]) / x.n) * 1000;
  const perCallUs = (x: Sample, y: Sample, k: 'wallMs' | 'cpuMs') => ((x[k] - y[k]) / (x.n * m)) * 1000;
  const rows = variants.map((v) => {
    const ok = samples.filter((s) => s.variant === v.name && s.failed === 0);
    const wallMs = median(ok.map((s) => s.wallMs));
    const cpuMs = median(ok.map((s) => s.cpuMs));
    return {
      variant: v.name,
      n: v.n,
      callsPerTask: v.name.startsWith('calls-') ? v.input : 0,
      okRuns: ok.length,
      runs,
      wallMs,
      tasksPerS: wallMs === undefined ? undefined : (v.n / wallMs) * 1000,
      wallUsPerTask: wallMs === undefined ? undefined : (wallMs / v.n) * 1000,
      cpuUsPerTask: cpuMs === undefined ? undefined : (cpuMs / v.n) * 1000,
    };
  });
  const figures = {
    bridgeOverheadWallUsPerTask: paired(samples, 'bridged', 'plain', (x, y) => perTaskUs(x, y, 'wallMs')),
    bridgeOverheadCpuUsPerTask: paired(samples, 'bridged', 'plain', (x, y) => perTaskUs(x, y, 'cpuMs')),
    bridgedOverPlainWall: paired(samples, 'bridged', 'plain', (x, y) => x.wallMs / y.wallMs),
    hostCallWallUs: paired(samples, `calls-${m}`, 'calls-0', (x, y) => perCallUs(x, y, 'wallMs')),
    hostCallCpuUs: paired(samples, `calls-${m}`, 'calls-0', (x, y) => perCallUs(x, y, 'cpuMs')),
    messageChannelUs: median(channelUs),
  };
  const config = { runs, n, nCalls, callsPerTask: m, threads, node: process.version };
  const table = [
    '| variant | tasks | host calls/task | ok runs | wall ms | tasks/s | wall µs/task | CPU µs/task |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.variant} | ${r.n} | ${r.callsPerTask} | ${r.okRuns}/${r.runs} | ${fixed(r.wallMs, 0)} | ${fixed(r.tasksPerS, 0)} | ` +
        `${fixed(r.wallUsPerTask, 1)} | ${fixed(r.cpuUsPerTask, 1)} |`,
    ),
    '',
    `- (a) bridge declared but unused (\`expose\`, no call), over a plain stage: **${fixed(figures.bridgeOverheadWallUsPerTask, 1)} µs/task** of wall ` +
      `(${fixed(figures.bridgedOverPlainWall, 2)}× the plain stage's wall), ${fixed(figures.bridgeOverheadCpuUsPerTask, 1)} µs/task of CPU.`,
    `- (b) one host round trip (worker → exposed no-op → worker), ${m} per task, one after the other, T=${threads} threads calling: ` +
      `**${fixed(figures.hostCallWallUs, 1)} µs/call** of wall, ${fixed(figures.hostCallCpuUs, 1)} µs/call of CPU.`,
    `- (c) reference: \`new MessageChannel()\` + close on the main thread: ${fixed(figures.messageChannelUs, 1)} µs each — what a channel per`,
    '  task would add to every task of a bridged stage before moving its port (the first design; measured at +32 µs/task of wall,',
    '  1.95× a no-op task, which is why each thread now keeps one link).',
    '',
    'plain = bench/workers/noop.ts with no bridge options: its task message is the bare input. bridged = the same',
    'module with `expose: { noop }`: the input wrapped as `{ input, index, id }`, one BroadcastChannel per thread opened',
    'once. calls-0 / calls-M = bench/workers/bridge.ts on a bridged stage, making 0 or M sequential `host().noop()` calls.',
  ].join('\n');
  return { config, figures, rows, samples, table };
}
