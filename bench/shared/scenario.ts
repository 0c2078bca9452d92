/**
 * Scenario `shared` (one limiter per service): a job that fetches from service A (C_s = 8) and
 * stores to service B (C_s = 2), both 20 ms per request, with a limiter per service vs one limiter
 * shared by both stages.
 *
 * Method. Every run starts two fresh simulators (each its own child process: latency 20 ms, queue
 * bound 4, past it 503 + Retry-After 1 s, no overload penalty) and runs the same sluice job over the
 * same N ids in this process: io stage `fetch` (GET A) → io stage `store` (GET B). Held equal: the
 * job, N, the fetch helper (one keep-alive agent per service), the retry policy (sluice's default:
 * 3 attempts, backoff 50 ms–2 s, Retry-After honoured); only the limiters differ (bench/shared/run.ts,
 * VARIANTS). One discarded run of a few tasks first warms the job's code path; every measured run
 * has fresh limiters (starting where a user's would), agents and simulators. The variants run back
 * to back in each round, their order rotated per round; ratios to the best shared variant are paired
 * within a round, then medians over rounds are taken.
 */
import { SERVICE_DEFAULTS } from 'sluice';
import { fixed } from '../harness/format.js';
import { medianOrNaN as median, rotate } from '../harness/stats.js';
import type { ChartSpec, Check, Scenario } from '../harness/types.js';
import { runShared, VARIANTS, type SharedRun, type SharedSetup, type Variant } from './run.js';

const SETUP: Omit<SharedSetup, 'n'> = { capacityA: 8, capacityB: 2, latencyMs: 20, queueBound: 4, retryAfterS: 1 };
const N_FULL = 200;
const N_QUICK = 40;
const WARMUP_N = 10;

/** Variant names with the capacities written in. */
const label = (v: Variant | string, s: SharedSetup): string =>
  (typeof v === 'string' ? v : v.name).replace('C_A', String(s.capacityA)).replace('C_B', String(s.capacityB));

const throughput = (r: SharedRun) => (r.completed * 1000) / r.wallMs;
const sum = (r: SharedRun, key: 'retries' | 'pauses') => r.services.reduce((a, x) => a + x[key], 0);

interface Row {
  readonly variant: string;
  readonly describe: string;
  readonly shared: boolean;
  readonly runs: number;
  readonly wallS: number;
  readonly tasksPerS: number;
  /** ÷ the best shared variant of the same round (median of per-round ratios). */
  readonly vsBestShared: number;
  readonly attemptsA: number;
  readonly attemptsB: number;
  readonly rejectedA: number;
  readonly rejectedB: number;
  readonly retries: number;
  readonly pauses: number;
  /** 503s, retries and pauses: totals over rounds (a rare one must not vanish in a median). */
  /** Client-side peak of requests outstanding, max over rounds. */
  readonly peakA: number;
  readonly peakB: number;
  /** Simulator-side peak of requests in service + queued, max over rounds. */
  readonly simPeakA: number;
  readonly simPeakB: number;
  /** Totals over rounds. */
  readonly pulled: number;
  readonly completed: number;
  readonly failed: number;
  readonly lost: number;
  readonly causes: Record<string, number>;
}

function rowsOf(records: readonly SharedRun[], s: SharedSetup): Row[] {
  const bestShared = (round: number) =>
    Math.max(...records.filter((r) => r.round === round && VARIANTS.find((v) => v.name === r.variant)!.shared).map(throughput));
  return VARIANTS.map((v) => {
    const rs = records.filter((r) => r.variant === v.name);
    const med = (f: (r: SharedRun) => number) => median(rs.map(f));
    const max = (f: (r: SharedRun) => number) => Math.max(...rs.map(f));
    const total = (f: (r: SharedRun) => number) => rs.reduce((a, r) => a + f(r), 0);
    const causes: Record<string, number> = {};
    for (const r of rs) for (const [k, n] of Object.entries(r.causes)) causes[k] = (causes[k] ?? 0) + n;
    return {
      variant: label(v, s),
      describe: v.describe.replace('C_A', String(s.capacityA)).replace('C_B', String(s.capacityB)),
      shared: v.shared,
      runs: rs.length,
      wallS: med((r) => r.wallMs / 1000),
      tasksPerS: med(throughput),
      vsBestShared: med((r) => throughput(r) / bestShared(r.round)),
      attemptsA: med((r) => r.a.attempts),
      attemptsB: med((r) => r.b.attempts),
      rejectedA: total((r) => r.simA.rejectedTotal),
      rejectedB: total((r) => r.simB.rejectedTotal),
      retries: total((r) => sum(r, 'retries')),
      pauses: total((r) => sum(r, 'pauses')),
      peakA: max((r) => r.a.peakOutstanding),
      peakB: max((r) => r.b.peakOutstanding),
      simPeakA: max((r) => r.simA.peakInFlight + r.simA.peakQueueLength),
      simPeakB: max((r) => r.simB.peakInFlight + r.simB.peakQueueLength),
      pulled: total((r) => r.pulled),
      completed: total((r) => r.completed),
      failed: total((r) => r.failed),
      lost: total((r) => r.pulled - r.completed - r.failed) + total((r) => r.n - r.pulled),
      causes,
    };
  });
}

function checksOf(records: readonly SharedRun[], rows: readonly Row[], s: SharedSetup): Check[] {
  const perService = VARIANTS.filter((v) => !v.shared);
  const lost = rows.map((r) => `${r.variant}: ${r.completed}/${r.pulled} completed, ${r.failed} failed, ${r.lost} lost`);
  const bPeaks = records
    .filter((r) => perService.some((v) => v.name === r.variant))
    .map((r) => ({
      r,
      peak: Math.max(r.b.peakOutstanding, r.services.find((x) => x.name === 'B')?.peakInFlight ?? 0),
      limit: r.maxLimit.B ?? 0,
    }));
  const worstB = (name: string) => {
    const xs = bPeaks.filter((x) => x.r.variant === name);
    return `${label(name, s)}: peak ${Math.max(...xs.map((x) => x.peak))} ≤ limit ${Math.max(...xs.map((x) => x.limit))}`;
  };
  return [
    {
      claim:
        'no task lost in any variant (every id pulled, each ended completed or failed), and every task completed in the per-service variants',
      pass:
        rows.every((r) => r.lost === 0 && r.pulled === r.runs * s.n) &&
        rows.filter((r) => !r.shared).every((r) => r.completed === r.pulled && r.failed === 0),
      detail: lost.join('; '),
      structural: true,
    },
    {
      claim: "per-service variants: B's peak in-flight ≤ B's limit (fixed: its value; vegas: the highest it reached)",
      pass: bPeaks.length > 0 && bPeaks.every((x) => x.peak <= x.limit),
      detail: perService.map((v) => worstB(v.name)).join('; '),
      structural: true,
    },
    ...rows
      .filter((r) => !r.shared)
      .map((r) => ({
        claim: `${r.variant}: throughput ≥ the best shared variant (same round)`,
        pass: r.vsBestShared >= 1,
        detail: `${fixed(r.vsBestShared, 2)}× (${fixed(r.tasksPerS, 0)} tasks/s; best shared ${fixed(Math.max(...rows.filter((x) => x.shared).map((x) => x.tasksPerS)), 0)})`,
        structural: false,
      })),
  ];
}

function markdownOf(rows: readonly Row[], s: SharedSetup, runs: number): string {
  const lines = [
    `N = ${s.n} tasks, ${runs} round(s): wall, tasks/s and attempts are medians; 503s, retries, pauses and failures totals over rounds; peaks the highest. A: C_s = ${s.capacityA}, B: C_s = ${s.capacityB}, ` +
      `both ${s.latencyMs} ms per request, queue bound ${s.queueBound}, 503 + Retry-After ${s.retryAfterS} s past it. B caps the job at ` +
      `${fixed((s.capacityB * 1000) / s.latencyMs, 0)} tasks/s.`,
    '',
    ...rows.map((r) => `- **${r.variant}**: ${r.describe}`),
    '',
    `| variant | wall s | tasks/s | ÷ best shared | attempts A / B | 503s A / B (Σ) | retries (Σ) | Retry-After pauses (Σ) | peak in flight A / B (C_s ${s.capacityA} / ${s.capacityB}) | at the service A / B | failed / lost |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.shared ? r.variant : `**${r.variant}**`} | ${fixed(r.wallS, 2)} | ${fixed(r.tasksPerS, 0)} | ${fixed(r.vsBestShared, 2)} | ${fixed(r.attemptsA, 0)} / ${fixed(r.attemptsB, 0)} | ` +
        `${fixed(r.rejectedA, 0)} / ${fixed(r.rejectedB, 0)} | ${fixed(r.retries, 0)} | ${fixed(r.pauses, 0)} | ${r.peakA} / ${r.peakB} | ${r.simPeakA} / ${r.simPeakB} | ${r.failed} / ${r.lost} |`,
    ),
    '',
    'Columns: **tasks/s** = N ÷ wall (first pull to last outcome); **attempts** = HTTP requests sent to each service (retries included);',
    "**503s** = the simulator's rejections; **retries** and **Retry-After pauses** from `svc.stats()` (summed over the variant's",
    'limiters); **peak in flight** = requests outstanding from the job to each service (client side), **at the service** = the',
    "simulator's peak in service + queued; **failed / lost** = totals over rounds.",
  ];
  const failures = rows.filter((r) => Object.keys(r.causes).length > 0);
  if (failures.length)
    lines.push(
      '',
      ...failures.map(
        (r) =>
          `- ${r.variant} failures: ${Object.entries(r.causes)
            .map(([k, n]) => `${n}× ${k}`)
            .join('; ')}`,
      ),
    );
  return lines.join('\n');
}

function chartsOf(records: readonly SharedRun[], rows: readonly Row[], s: SharedSetup): ChartSpec[] {
  const schema = 'https://vega.github.io/schema/vega-lite/v6.json';
  const order = rows.map((r) => r.variant);
  const points = records.map((r) => ({ variant: label(r.variant, s), round: r.round, tasksPerS: Math.round(throughput(r) * 10) / 10 }));
  const bars = rows.map((r) => ({
    variant: r.variant,
    tasksPerS: Math.round(r.tasksPerS * 10) / 10,
    limiter: r.shared ? 'one shared limiter' : 'a limiter per service',
  }));
  const rejected = rows.flatMap((r) => [
    { variant: r.variant, service: `A (C_s ${s.capacityA})`, rejected: r.rejectedA },
    { variant: r.variant, service: `B (C_s ${s.capacityB})`, rejected: r.rejectedB },
  ]);
  return [
    {
      file: 'shared-throughput.svg',
      title: 'Throughput per variant',
      spec: {
        $schema: schema,
        title: {
          text: `Job throughput (tasks/s, median of ${Math.max(...records.map((r) => r.round))} round(s); dots: each round)`,
          subtitle: `fetch from A (C_s ${s.capacityA}) → store to B (C_s ${s.capacityB}); B caps the job at ${fixed((s.capacityB * 1000) / s.latencyMs, 0)} tasks/s`,
        },
        width: 560,
        height: 260,
        layer: [
          {
            data: { values: bars },
            mark: { type: 'bar' },
            encoding: {
              x: { field: 'variant', type: 'nominal', sort: order, axis: { labelAngle: 0, title: null } },
              y: { field: 'tasksPerS', type: 'quantitative', title: 'tasks/s' },
              color: {
                field: 'limiter',
                type: 'nominal',
                title: null,
                scale: { range: ['#4c78a8', '#bab0ac'], domain: ['a limiter per service', 'one shared limiter'] },
                legend: { orient: 'bottom', labelLimit: 300 },
              },
            },
          },
          {
            data: { values: points },
            mark: { type: 'point', filled: true, color: 'black', size: 30 },
            encoding: { x: { field: 'variant', type: 'nominal', sort: order }, y: { field: 'tasksPerS', type: 'quantitative' } },
          },
          {
            data: { values: [{ cap: (s.capacityB * 1000) / s.latencyMs, text: "B's capacity" }] },
            layer: [
              { mark: { type: 'rule', strokeDash: [4, 3], color: '#666' }, encoding: { y: { field: 'cap', type: 'quantitative' } } },
              {
                mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -2, color: '#666' },
                encoding: { y: { field: 'cap', type: 'quantitative' }, x: { value: 560 }, text: { field: 'text' } },
              },
            ],
          },
        ],
      },
    },
    {
      file: 'shared-503s.svg',
      title: '503s per service and variant',
      spec: {
        $schema: schema,
        title: {
          text: `503s per service (all ${Math.max(...records.map((r) => r.round))} round(s), N = ${s.n} each)`,
          subtitle: `queue bound ${s.queueBound} at both services; each 503 carries Retry-After ${s.retryAfterS} s`,
        },
        width: 560,
        height: 260,
        data: { values: rejected },
        encoding: {
          x: { field: 'variant', type: 'nominal', sort: order, axis: { labelAngle: 0, title: null } },
          xOffset: { field: 'service', type: 'nominal' },
          y: { field: 'rejected', type: 'quantitative', title: '503s' },
        },
        layer: [
          {
            mark: { type: 'bar' },
            encoding: {
              color: {
                field: 'service',
                type: 'nominal',
                title: 'service',
                scale: { range: ['#4c78a8', '#e45756'] },
                legend: { orient: 'bottom' },
              },
            },
          },
          {
            mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 10 },
            encoding: { text: { field: 'rejected', type: 'quantitative' } },
          },
        ],
      },
    },
  ];
}

export const scenario: Scenario = async (options) => {
  const s: SharedSetup = { ...SETUP, n: options.quick ? N_QUICK : N_FULL };
  const runs = Math.max(1, options.runs);
  const records: SharedRun[] = [];
  // Discarded: loads and optimizes the job's code path once, so that round 1's first variant does not pay for it.
  await runShared(VARIANTS[0]!, 0, { ...s, n: WARMUP_N });
  for (let round = 1; round <= runs; round++) {
    for (const v of rotate(VARIANTS, round - 1)) {
      const r = await runShared(v, round, s);
      records.push(r);
      options.log(
        `shared [round ${round}] ${label(v, s)}: ${fixed(r.wallMs / 1000, 2)} s, ${fixed(throughput(r), 0)} tasks/s, ${r.completed}/${r.pulled} ok, ` +
          `503s A ${r.simA.rejectedTotal} B ${r.simB.rejectedTotal}, pauses ${sum(r, 'pauses')}, peak A ${r.a.peakOutstanding} B ${r.b.peakOutstanding}`,
      );
    }
  }
  const rows = rowsOf(records, s);
  return {
    name: 'shared',
    title: 'One limiter per service vs one for both',
    method:
      `A job fetches from service A (C_s = ${s.capacityA}) and stores to service B (C_s = ${s.capacityB}), both simulated at ${s.latencyMs} ms per ` +
      `request with a queue bound of ${s.queueBound} (past it: 503 + Retry-After ${s.retryAfterS} s). Every run starts both simulators fresh ` +
      `(each its own child process) and runs the same sluice job (io \`fetch\` → io \`store\`) over the same ${s.n} ids in the bench process; ` +
      `held equal: the job, N, the HTTP client, the retry policy (sluice's default: ${SERVICE_DEFAULTS.retry.attempts} attempts, Retry-After honoured). Only the limiters ` +
      `differ. One discarded run of ${WARMUP_N} tasks first warms the job's code path; every measured run has fresh simulators, agents and ` +
      "limiters (starting where a user's would). Variants run back to back, order rotated per round; ratios to the best " +
      'shared variant are paired within a round; medians over rounds.',
    markdown: markdownOf(rows, s, runs),
    checks: checksOf(records, rows, s),
    charts: chartsOf(records, rows, s),
    json: { setup: s, runs, rows, records },
  };
};
