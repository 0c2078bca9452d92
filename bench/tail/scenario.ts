/**
 * Scenario `tail` (work stealing): a batch of skewed tasks (most short, a few long, in random
 * positions) on T worker threads, pulled by sluice's cpu stage vs split up front into T contiguous
 * chunks (static), each against the lower bound max(Σd / T, max d) of the same sequence; and, for
 * reference, the same raw Piscina pool fed one task per free thread (pull), to separate Piscina's
 * own hand-off between tasks from sluice's.
 *
 * Method. One process. The task's work is a busy loop of a fixed number of iterations (xorshift,
 * bench/workers/tail-spin.ts), calibrated once per scenario on the worker threads, all T at once
 * (median of ~5 ms bursts), so a "2 ms" task is the same CPU work in every strategy and round and
 * takes about 2 ms of a thread when every thread is busy; it is not a clock spin, so contention
 * from outside stretches it. Each round draws a new sequence from a seeded PRNG (seed = base +
 * round; the same sequence for every strategy), with exactly 1% long tasks. Every strategy uses T
 * threads with min = max threads, is built once and warmed up (threads started, worker module
 * loaded, loop optimized) before the first round; the order of strategies rotates per round. The
 * makespan is from the first task's start to the last task's end, both read inside the workers on
 * process.hrtime (one monotonic clock for every thread of the process). Medians over rounds;
 * ratios paired within a round.
 */
import { fixed } from '../harness/format.js';
import { medianOrNaN as median, rotate } from '../harness/stats.js';
import type { Check, Scenario } from '../harness/types.js';
import type { Span } from '../workers/tail-spin.js';
import { lowerBound, sequence, contiguousChunks, type SequenceSpec } from './sequence.js';
import { pullStrategy, sluiceStrategy, staticStrategy, type StrategyName, type TailRun, type TailStrategy } from './strategies.js';

const THREADS = 2;
const SEED = 0x7a11;
const FULL: SequenceSpec = { tasks: 600, long: 6, shortMs: 2, longMs: 200 };
const QUICK: SequenceSpec = { tasks: 200, long: 2, shortMs: 2, longMs: 200 };
const CALIBRATION_BURSTS = 40;
const NAMES: readonly StrategyName[] = ['sluice', 'static', 'pull'];
const LABELS: Record<StrategyName, string> = {
  sluice: 'sluice',
  static: 'static (contiguous chunks)',
  pull: 'pull, raw Piscina (reference)',
};
const SHORT: Record<StrategyName, string> = { sluice: 'sluice', static: 'static (chunks)', pull: 'pull (raw Piscina)' };
const CHART_ORDER = NAMES.map((n) => SHORT[n]);

interface Sample {
  readonly round: number;
  readonly seed: number;
  readonly strategy: StrategyName;
  /** Position in the round (0 = ran first). */
  readonly order: number;
  readonly completed: number;
  readonly failed: number;
  readonly makespanMs: number;
  readonly wallMs: number;
  /** The nominal lower bound of the round's sequence (ms). */
  readonly boundMs: number;
  /** The same bound over the durations this run measured (what the threads actually took). */
  readonly workBoundMs: number;
  readonly peakRunning?: number;
  readonly batchPeak?: number;
  readonly chunkThreads?: number;
  /** static: long tasks in each chunk. */
  readonly longPerChunk?: readonly number[];
  /** Median measured duration of the short and of the long tasks (ms). */
  readonly shortTookMs: number;
  readonly longTookMs: number;
  /** Median idle time between two consecutive tasks on one thread (ms): the hand-off. */
  readonly gapMs: number;
  /** Share of T × makespan the threads spent outside tasks. */
  readonly idleShare: number;
}

function measure(run: TailRun, ms: readonly number[], threads: number) {
  let [first, last, completed] = [Infinity, -Infinity, 0];
  const took: number[] = [];
  const [short, long]: [number[], number[]] = [[], []];
  const longest = Math.max(...ms);
  const byThread = new Map<number, Span[]>();
  for (const [i, s] of run.spans.entries()) {
    if (s === undefined) continue;
    completed += 1;
    first = Math.min(first, s[0]);
    last = Math.max(last, s[1]);
    took.push(s[1] - s[0]);
    (ms[i] === longest ? long : short).push(s[1] - s[0]);
    const mine = byThread.get(s[2]);
    if (mine) mine.push(s);
    else byThread.set(s[2], [s]);
  }
  const gaps = [...byThread.values()].flatMap((xs) => {
    xs.sort((a, b) => a[0] - b[0]);
    return xs.slice(1).map((x, k) => x[0] - xs[k]![1]);
  });
  const busy = took.reduce((a, b) => a + b, 0);
  return {
    completed,
    makespanMs: last - first,
    workBoundMs: lowerBound(took, threads),
    shortTookMs: median(short),
    longTookMs: median(long),
    gapMs: median(gaps),
    idleShare: 1 - busy / (threads * (last - first)),
  };
}

export const scenario: Scenario = async (options) => {
  const spec = options.quick ? QUICK : FULL;
  const runs = Math.max(1, options.runs);
  const chunked = staticStrategy(THREADS);
  const strategies: TailStrategy[] = [sluiceStrategy(THREADS), chunked, pullStrategy(THREADS)];
  const samples: Sample[] = [];
  let rate = Number.NaN;
  try {
    rate = await chunked.calibrate(CALIBRATION_BURSTS);
    options.log(
      `tail: ${rate.toFixed(0)} loop iterations per ms on ${THREADS} busy threads; ${spec.tasks} tasks ` +
        `(${spec.long} of ${spec.longMs} ms, the rest ${spec.shortMs} ms), ${runs} round(s)`,
    );
    const toIters = (ms: number) => Math.round(ms * rate);
    // Warm-up: start the threads, load the module, optimize the loop on every thread.
    const warm = new Array<number>(40 * THREADS).fill(toIters(spec.shortMs));
    for (const s of strategies) await s.run(warm);

    for (let round = 1; round <= runs; round++) {
      const seed = SEED + round;
      const ms = sequence(spec, seed);
      const iters = ms.map(toIters);
      const boundMs = lowerBound(ms, THREADS);
      for (const [k, s] of rotate(strategies, round - 1).entries()) {
        const run = await s.run(iters);
        const m = measure(run, ms, THREADS);
        const sample: Sample = {
          round,
          seed,
          strategy: s.name,
          order: k,
          failed: run.failed,
          wallMs: run.wallMs,
          boundMs,
          ...m,
          ...(run.peakRunning !== undefined ? { peakRunning: run.peakRunning } : {}),
          ...(run.batchPeak !== undefined ? { batchPeak: run.batchPeak } : {}),
          ...(run.chunkThreads !== undefined
            ? {
                chunkThreads: run.chunkThreads,
                longPerChunk: contiguousChunks(ms, THREADS).map((c) => c.filter((d) => d === spec.longMs).length),
              }
            : {}),
        };
        samples.push(sample);
        options.log(
          `tail [round ${round}] ${s.name}: makespan ${fixed(m.makespanMs, 0)} ms (${fixed(m.makespanMs / boundMs, 2)}× bound ${fixed(boundMs, 0)} ms), ` +
            `${m.completed}/${spec.tasks} done${sample.longPerChunk ? `, long tasks per chunk ${sample.longPerChunk.join('/')}` : ''}`,
        );
      }
    }
  } finally {
    await Promise.all(strategies.map((s) => s.close()));
  }

  const of = (name: string) => samples.filter((s) => s.strategy === name);
  const summary = NAMES.map((name) => {
    const xs = of(name);
    return {
      strategy: name,
      label: LABELS[name],
      makespanMs: median(xs.map((s) => s.makespanMs)),
      overBound: median(xs.map((s) => s.makespanMs / s.boundMs)),
      overWorkBound: median(xs.map((s) => s.makespanMs / s.workBoundMs)),
      wallMs: median(xs.map((s) => s.wallMs)),
      gapUs: median(xs.map((s) => s.gapMs * 1000)),
      idleShare: median(xs.map((s) => s.idleShare)),
      completed: xs.map((s) => s.completed),
    };
  });
  const boundMs = median(of('sluice').map((s) => s.boundMs));
  const staticOverSluice = median(
    of('static').flatMap((st) => {
      const sl = samples.find((s) => s.strategy === 'sluice' && s.round === st.round);
      return sl ? [st.makespanMs / sl.makespanMs] : [];
    }),
  );
  const sl = summary[0]!;

  const took = (k: 'shortTookMs' | 'longTookMs') => fixed(median(samples.map((s) => s[k])), 2);
  const markdown = [
    `${spec.tasks} tasks per round: ${spec.tasks - spec.long} × ${spec.shortMs} ms and ${spec.long} × ${spec.longMs} ms of CPU ` +
      `(busy loop, ${fixed(rate, 0)} iterations/ms), long ones at seeded random positions; T = ${THREADS} threads; ${runs} round(s), medians.`,
    '',
    '| strategy | makespan ms | × bound | × own work bound | hand-off gap µs | threads idle | main-thread wall ms | tasks completed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...summary.map(
      (r) =>
        `| ${r.label} | ${fixed(r.makespanMs, 0)} | ${fixed(r.overBound, 2)} | ${fixed(r.overWorkBound, 2)} | ${fixed(r.gapUs, 0)} | ${fixed(r.idleShare * 100, 0)}% | ${fixed(r.wallMs, 0)} | ` +
        `${r.completed.every((c) => c === spec.tasks) ? `${spec.tasks} every round` : r.completed.join(', ')} |`,
    ),
    `| lower bound max(Σd/T, max d) | ${fixed(boundMs, 0)} | 1.00 | | | | | |`,
    '',
    `static ÷ sluice makespan (paired per round, median): **${fixed(staticOverSluice, 2)}×**. "× own work bound" divides by the same bound ` +
      'taken over the task durations that run measured (CPU plus any preemption), so it isolates scheduling from calibration and noise. ' +
      `Measured task durations (medians): ${took('shortTookMs')} ms for the ${spec.shortMs} ms tasks, ${took('longTookMs')} ms for the ${spec.longMs} ms ones. ` +
      'Hand-off gap = median idle time on a thread between the end of one task and the start of its next; threads idle = the share ' +
      'of T × makespan spent outside tasks (hand-offs, and the end of the batch, when one thread has run out of work).',
    '',
    '| round | seed | sluice ms | static ms | static: long tasks per chunk | pull ms | bound ms |',
    '|---:|---:|---:|---:|---|---:|---:|',
    ...Array.from({ length: runs }, (_, i) => {
      const [a, b, c] = [of('sluice')[i], of('static')[i], of('pull')[i]];
      return (
        `| ${i + 1} | ${a?.seed ?? ''} | ${fixed(a?.makespanMs ?? NaN, 0)} | ${fixed(b?.makespanMs ?? NaN, 0)} | ` +
        `${b?.longPerChunk?.join(' / ') ?? ''} | ${fixed(c?.makespanMs ?? NaN, 0)} | ${fixed(a?.boundMs ?? NaN, 0)} |`
      );
    }),
    '',
    "sluice = one cpu stage, `createExecutor({ stages: [cpu('spin', worker, { threads: 2 })] })`: a task is admitted when a " +
      'thread frees. static = the sequence cut into T contiguous chunks (thread i gets tasks [i·N/T, (i+1)·N/T)), one raw ' +
      'Piscina task per chunk (same pool options), each chunk run sequentially on its thread. pull = a reference: the same raw ' +
      'pool fed one task per free thread (T lanes behind p-limit(T)), i.e. work stealing without sluice, so its hand-off gap is ' +
      "Piscina's own.",
    '',
  ].join('\n');

  const allCompleted = samples.every((s) => s.completed === spec.tasks && s.failed === 0);
  const sluiceRuns = of('sluice');
  // A stage that batches ('auto' B > 1, when the calibrated "2 ms" tasks measure under its lone
  // threshold on a machine faster than at calibration) holds one batch more than its threads run.
  const runningBound = (s: Sample) => ((s.batchPeak ?? Number.NaN) > 1 ? (THREADS + 1) * s.batchPeak! : THREADS);
  const chunkThreads = of('static').map((s) => s.chunkThreads ?? 0);
  const checks: Check[] = [
    {
      claim: 'every task completed, in every round and strategy',
      pass: allCompleted,
      detail: samples
        .map((s) => `${s.strategy}#${s.round}: ${s.completed}/${spec.tasks}${s.failed ? ` (${s.failed} failed)` : ''}`)
        .join(', '),
      structural: true,
    },
    {
      claim: `sluice never held more than T = ${THREADS} tasks at once, or (T + 1) × B when its stage batched (stats peakRunning, batch peak B)`,
      pass: sluiceRuns.every((s) => (s.peakRunning ?? Number.NaN) <= runningBound(s)),
      detail: `peakRunning / bound per round: ${sluiceRuns.map((s) => `${s.peakRunning} / ${runningBound(s)} (B peak ${s.batchPeak})`).join(', ')}`,
      structural: true,
    },
    {
      claim: `static ran its ${THREADS} chunks on ${THREADS} distinct threads`,
      pass: chunkThreads.every((n) => n === THREADS),
      detail: `distinct threads per round: ${chunkThreads.join(', ')}`,
      structural: true,
    },
    {
      claim: 'sluice makespan within 1.1× of the lower bound',
      pass: sl.overBound <= 1.1,
      detail: `${fixed(sl.overBound, 2)}× (${fixed(sl.makespanMs, 0)} ms vs ${fixed(boundMs, 0)} ms); static ${fixed(summary[1]!.overBound, 2)}×, pull ${fixed(summary[2]!.overBound, 2)}×`,
      structural: false,
    },
  ];

  const data = summary.map((r) => ({
    strategy: SHORT[r.strategy],
    makespan: Math.round(r.makespanMs),
    ratio: `${fixed(r.overBound, 2)}×`,
  }));
  const rounds = samples.map((s) => ({ strategy: SHORT[s.strategy], makespan: Math.round(s.makespanMs), round: s.round }));
  const chart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 260,
    title: `Makespan of ${spec.tasks} skewed tasks on ${THREADS} threads (median of ${runs}; dots: rounds; line: lower bound)`,
    layer: [
      {
        data: { values: data },
        mark: { type: 'bar', width: 90 },
        encoding: {
          x: { field: 'strategy', type: 'nominal', sort: CHART_ORDER, title: null, axis: { labelAngle: 0, labelLimit: 200 } },
          y: { field: 'makespan', type: 'quantitative', title: 'makespan (ms)', scale: { zero: true } },
          color: {
            field: 'strategy',
            type: 'nominal',
            legend: null,
            scale: { domain: CHART_ORDER, range: ['#4c78a8', '#f58518', '#bab0ac'] },
          },
        },
      },
      {
        data: { values: data },
        mark: { type: 'text', dy: -8, dx: 30 },
        encoding: {
          x: { field: 'strategy', type: 'nominal', sort: CHART_ORDER },
          y: { field: 'makespan', type: 'quantitative' },
          text: { field: 'ratio', type: 'nominal' },
        },
      },
      {
        data: { values: rounds },
        mark: { type: 'point', filled: true, color: 'black', size: 25, opacity: 0.6 },
        encoding: {
          x: { field: 'strategy', type: 'nominal', sort: CHART_ORDER },
          y: { field: 'makespan', type: 'quantitative' },
        },
      },
      {
        data: { values: [{ bound: Math.round(boundMs), label: `bound ${fixed(boundMs, 0)} ms` }] },
        layer: [
          {
            mark: { type: 'rule', color: '#e45756', strokeDash: [6, 4], size: 2 },
            encoding: { y: { field: 'bound', type: 'quantitative' } },
          },
          {
            mark: { type: 'text', align: 'right', x: 'width', dy: 10, color: '#e45756' },
            encoding: { y: { field: 'bound', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
          },
        ],
      },
    ],
  };

  return {
    name: 'tail',
    title: 'Work stealing and the tail (skewed task durations)',
    method:
      `One process, T = ${THREADS} worker threads per strategy (min = max threads), every strategy built once and warmed up ` +
      `(${40 * THREADS} short tasks each) before the first round, their order rotating per round. Task work: a busy loop of a ` +
      'fixed iteration count (bench/workers/tail-spin.ts), calibrated once on the worker threads, all T at once (median of ' +
      `${CALIBRATION_BURSTS} ~5 ms bursts each), so every strategy does the same CPU work and a "2 ms" task takes 2 ms of a thread when ` +
      'every thread is busy; it is not a clock spin, so outside contention stretches it. ' +
      `Each round draws a new sequence (seeded PRNG, seed ${SEED} + round; the same sequence for every strategy): ` +
      `${spec.tasks} tasks, exactly ${spec.long} of ${spec.longMs} ms at random positions, the rest ${spec.shortMs} ms. ` +
      'Makespan = first task start to last task end, read in the workers on process.hrtime (one monotonic clock for all threads). ' +
      'Bound = max(Σd / T, max d) of the nominal durations. Medians over rounds; static ÷ sluice paired per round. ' +
      'pull (raw Piscina fed one task per free thread) is a reference for the hand-off cost without sluice.',
    markdown,
    checks,
    charts: [{ file: 'tail-makespan.svg', title: 'Makespan by strategy, with the lower bound', spec: chart }],
    json: {
      config: {
        threads: THREADS,
        ...spec,
        runs,
        seedBase: SEED,
        itersPerMs: rate,
        calibrationBursts: CALIBRATION_BURSTS,
        node: process.version,
      },
      boundMs,
      staticOverSluice,
      summary,
      samples,
    },
  };
};
