/**
 * Scenario `overhead`: what sluice costs per task over the raw tools it wraps.
 * (1) cpu: no-op tasks and ~0.1 ms tasks (busy loop) on T = 2 threads, raw Piscina behind
 *     p-limit(T) (a task submitted only when a thread is free) vs a sluice cpu stage of T threads
 *     with `batch: false` (one task per message: the per-message overhead; batching is measured
 *     by the fine-grained scenario);
 * (2) io: ~1 µs async tasks (a tiny synchronous busy loop), raw p-limit(k = 16) fed lazily by k
 *     lanes vs a sluice io stage of concurrency 16.
 *
 * Method. One process. Every variant (bench/overhead/variants.ts) is built once and warmed up
 * with half a timed run (threads started, worker module loaded, both code paths optimized) before
 * the first round. Then `runs` rounds; in each, every workload runs raw and sluice back to back,
 * the order alternating per round (raw first in odd rounds). Held equal: the worker module and
 * pool options (min = max = T threads, one task per thread, no idle timeout), the io function,
 * the lazy input generator (never an array of N promises), and the counting of outcomes. Timed:
 * wall from the first pull to the last completion, and the process's CPU clock (all threads).
 * Ratios sluice ÷ raw are paired within a round; medians over rounds.
 */
import { fixed } from '../harness/format.js';
import { medianOrNaN as median } from '../harness/stats.js';
import type { Check, Scenario } from '../harness/types.js';
import { burn } from '../workers/overhead-task.js';
import { itersPerMs } from './calibrate.js';
import { constant, cpuRaw, cpuSluice, indices, ioRaw, ioSluice, type Timed, type Variant } from './variants.js';

const THREADS = 2;
const CONCURRENCY = 16;
const TARGET = 1.15;

interface Workload {
  readonly name: string;
  readonly label: string;
  readonly n: number;
  readonly raw: Variant;
  readonly sluice: Variant;
  /** Most tasks sluice may run at once. */
  readonly capacity: number;
}

interface Sample extends Timed {
  readonly round: number;
  readonly workload: string;
  readonly tool: 'raw' | 'sluice';
  readonly order: number;
}

export const scenario: Scenario = async (options) => {
  const runs = Math.max(1, options.runs);
  const scale = options.quick ? 0.2 : 1;
  const rate = itersPerMs();
  const tenthMs = Math.round(rate / 10);
  const oneUs = Math.round(rate / 1000);
  const ioTask = async (x: number): Promise<number> => burn(oneUs) ^ x;
  options.log(
    `overhead: ${rate.toFixed(0)} loop iterations/ms; 0.1 ms task = ${tenthMs}, 1 µs io task = ${oneUs} iterations; ${runs} round(s)`,
  );

  const workloads: Workload[] = [
    {
      name: 'cpu-noop',
      label: 'cpu: no-op',
      n: 20_000 * scale,
      raw: cpuRaw(THREADS, 'default', indices),
      sluice: cpuSluice(THREADS, 'default', indices),
      capacity: THREADS,
    },
    {
      name: 'cpu-0.1ms',
      label: 'cpu: 0.1 ms',
      n: 5_000 * scale,
      raw: cpuRaw(THREADS, 'spin', constant(tenthMs)),
      sluice: cpuSluice(THREADS, 'spin', constant(tenthMs)),
      capacity: THREADS,
    },
    {
      name: 'io-1us',
      label: 'io: 1 µs',
      n: 100_000 * scale,
      raw: ioRaw(CONCURRENCY, ioTask, indices),
      sluice: ioSluice(CONCURRENCY, ioTask, indices),
      capacity: CONCURRENCY,
    },
  ];
  const samples: Sample[] = [];
  try {
    for (const w of workloads) for (const v of [w.raw, w.sluice]) await v.run(w.n / 2);
    for (let round = 1; round <= runs; round++) {
      for (const w of workloads) {
        const order = round % 2 === 1 ? [w.raw, w.sluice] : [w.sluice, w.raw];
        for (const [k, v] of order.entries()) {
          const t = await v.run(w.n);
          samples.push({ round, workload: w.name, tool: v.tool, order: k, ...t });
          options.log(
            `overhead [round ${round}] ${w.name} ${v.tool}: ${fixed((t.wallMs / t.n) * 1000, 2)} µs/task, ${t.completed}/${t.n} done`,
          );
        }
      }
    }
  } finally {
    await Promise.all(workloads.flatMap((w) => [w.raw.close(), w.sluice.close()]));
  }

  const rows = workloads.map((w) => {
    const pick = (tool: 'raw' | 'sluice') => samples.filter((s) => s.workload === w.name && s.tool === tool);
    const [raw, sl] = [pick('raw'), pick('sluice')];
    const us = (xs: Sample[], k: 'wallMs' | 'cpuMs') => median(xs.map((s) => (s[k] / s.n) * 1000));
    const ratios = sl.flatMap((s) => {
      const r = raw.find((x) => x.round === s.round);
      return r ? [s.wallMs / r.wallMs] : [];
    });
    return {
      workload: w.name,
      label: w.label,
      n: w.n,
      rawUs: us(raw, 'wallMs'),
      sluiceUs: us(sl, 'wallMs'),
      rawCpuUs: us(raw, 'cpuMs'),
      sluiceCpuUs: us(sl, 'cpuMs'),
      ratio: median(ratios),
      ratios,
      completedEveryRun: [...raw, ...sl].every((s) => s.completed === w.n && s.failed === 0),
      sluicePeakRunning: Math.max(...sl.map((s) => s.peakRunning ?? Number.NaN)),
      capacity: w.capacity,
    };
  });

  const markdown = [
    `T = ${THREADS} threads (cpu), k = ${CONCURRENCY} (io); ${runs} round(s), medians; sluice ÷ raw paired within a round. ` +
      `Busy loop: ${fixed(rate, 0)} iterations/ms (0.1 ms = ${tenthMs}, 1 µs = ${oneUs}).`,
    '',
    '| workload | tasks | raw µs/task | sluice µs/task | sluice ÷ raw | sluice − raw µs/task | raw tasks/s | sluice tasks/s | raw CPU µs/task | sluice CPU µs/task |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.n} | ${fixed(r.rawUs, 2)} | ${fixed(r.sluiceUs, 2)} | **${fixed(r.ratio, 2)}×** | ${fixed(r.sluiceUs - r.rawUs, 2)} | ` +
        `${fixed(1e6 / r.rawUs, 0)} | ${fixed(1e6 / r.sluiceUs, 0)} | ${fixed(r.rawCpuUs, 2)} | ${fixed(r.sluiceCpuUs, 2)} |`,
    ),
    '',
    `µs/task = wall ÷ tasks (on T threads for cpu: the floor for 0.1 ms tasks is 100 ÷ ${THREADS} = ${100 / THREADS} µs). ` +
      "CPU = the process's CPU clock (main thread and workers, user + sys) ÷ tasks.",
    '',
    `raw cpu = Piscina (min = max = ${THREADS} threads, one task per thread) fed by ${THREADS} lanes, each pulling the next input and ` +
      `awaiting \`limit(() => pool.run(x))\` with p-limit(${THREADS}). raw io = ${CONCURRENCY} lanes awaiting \`limit(fn, x)\` with ` +
      `p-limit(${CONCURRENCY}). sluice = \`createExecutor\` with one stage (\`cpu(..., { threads: ${THREADS}, batch: false })\` or ` +
      `\`io(..., { concurrency: ${CONCURRENCY} })\`), drained with \`for await\`.`,
    '',
  ].join('\n');

  const checks: Check[] = [
    {
      claim: 'every task completed, in every run of every variant',
      pass: rows.every((r) => r.completedEveryRun),
      detail: rows.map((r) => `${r.workload}: ${r.completedEveryRun ? 'all' : 'MISSING'}`).join(', '),
      structural: true,
    },
    {
      claim: 'sluice never ran more tasks at once than its stage capacity (stats peakRunning)',
      pass: rows.every((r) => r.sluicePeakRunning <= r.capacity),
      detail: rows.map((r) => `${r.workload}: ${r.sluicePeakRunning}/${r.capacity}`).join(', '),
      structural: true,
    },
    ...rows.map((r) => ({
      claim: `${r.label}: sluice within ${TARGET}× of raw`,
      pass: r.ratio <= TARGET,
      detail: `${fixed(r.ratio, 2)}× (${fixed(r.sluiceUs, 2)} vs ${fixed(r.rawUs, 2)} µs/task; per round ${r.ratios.map((x) => x.toFixed(2)).join(', ')})`,
      structural: false,
    })),
  ];

  const values = rows.flatMap((r) => [
    { workload: r.label, tool: 'raw', us: +r.rawUs.toFixed(2), label: fixed(r.rawUs, 1) },
    { workload: r.label, tool: 'sluice', us: +r.sluiceUs.toFixed(2), label: `${fixed(r.sluiceUs, 1)} (${fixed(r.ratio, 2)}×)` },
  ]);
  const chart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `µs per task, raw vs sluice (median of ${runs}; each panel its own scale)`,
    data: { values },
    facet: { column: { field: 'workload', type: 'nominal', title: null, sort: rows.map((r) => r.label) } },
    spec: {
      width: 170,
      height: 260,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'tool', type: 'nominal', title: null, axis: { labelAngle: 0 } },
            y: { field: 'us', type: 'quantitative', title: 'µs per task (wall)' },
            color: { field: 'tool', type: 'nominal', scale: { range: ['#9d9d9d', '#4c78a8'] }, legend: null },
          },
        },
        {
          mark: { type: 'text', dy: -6, fontSize: 10 },
          encoding: {
            x: { field: 'tool', type: 'nominal' },
            y: { field: 'us', type: 'quantitative' },
            text: { field: 'label', type: 'nominal' },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };

  return {
    name: 'overhead',
    title: 'Per-task overhead over raw Piscina and p-limit',
    method:
      `One process; every variant built once and warmed up with half a timed run before the first round; ${runs} round(s), ` +
      'raw and sluice back to back per workload, their order alternating per round. Held equal: the worker module ' +
      `(bench/workers/overhead-task.ts) and pool options (min = max = ${THREADS} threads, one task per thread), the io function, ` +
      'the lazy input generator (raw keeps exactly T or k tasks in flight, pulling the next input when one ends; no array of ' +
      'N promises) and the counting of completions. The 0.1 ms and 1 µs tasks are a busy loop calibrated on the main thread ' +
      '(fastest of nine ~10 ms bursts). Wall from the first pull to the last completion; CPU from process.cpuUsage() (all threads). ' +
      'sluice ÷ raw paired within a round; medians over rounds. The sluice cpu stage runs with `batch: false` (one task per ' +
      "message, as raw Piscina), so this measures sluice's per-message overhead; batching (the default, `batch: 'auto'`) is " +
      'measured against raw Piscina in the fine-grained scenario.',
    markdown,
    checks,
    charts: [{ file: 'overhead-per-task.svg', title: 'µs per task, raw vs sluice', spec: chart }],
    json: {
      config: {
        threads: THREADS,
        concurrency: CONCURRENCY,
        runs,
        quick: options.quick,
        itersPerMs: rate,
        tenthMsIters: tenthMs,
        oneUsIters: oneUs,
        node: process.version,
      },
      rows,
      samples,
    },
  };
};
