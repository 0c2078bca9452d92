/**
 * Medians over rounds, the checks (structural: nothing lost, the adaptive limit within its bounds;
 * timing targets: throughput, recovery, online p99) and the markdown tables. Ratios (throughput ÷
 * the best fixed k, online p99 ÷ the no-batch p99) are paired within a round (both ran in the same
 * round, a minute apart at most), then their median is taken.
 */
import { fixed } from '../harness/format.js';
import { median } from '../harness/stats.js';
import type { Check } from '../harness/types.js';
import { phaseMetrics, type PhaseMetrics } from './metrics.js';
import { describe, kindOf } from './strategies.js';
import type { RunRecord, Scenario } from './types.js';

type Key = Exclude<keyof PhaseMetrics, 'capacity'>;
const KEYS: readonly Key[] = [
  'throughput',
  'limit',
  'inFlight',
  'outstanding',
  'queueMean',
  'queueMax',
  'rejected',
  'onlineP50',
  'onlineP99',
  'onlineP99Transient',
  'onlineErrors',
  'recoveryMs',
];

export interface Row {
  readonly strategy: string;
  readonly runs: number;
  readonly ok: number;
  readonly rate?: number;
  readonly phases: readonly (Partial<PhaseMetrics> & { thrRatio?: number; p99Ratio?: number })[];
  readonly tasks: { pulled: number; completed: number; failed: number; aborted: number; lost: number; causes: Record<string, number> };
  readonly failures: readonly string[];
}

const okRuns = (records: readonly RunRecord[], s: string) => records.filter((r) => r.strategy === s && r.status === 'ok');

/** Per round, f(strategy's phase metrics, that round's others); the median over rounds. */
function pairedPhase(
  records: readonly RunRecord[],
  sc: Scenario,
  s: string,
  i: number,
  f: (m: PhaseMetrics, round: number) => number | undefined,
): number | undefined {
  return median(
    okRuns(records, s).flatMap((r) => {
      const v = f(phaseMetrics(r, sc)[i]!, r.round);
      return v === undefined || !Number.isFinite(v) ? [] : [v];
    }),
  );
}

function roundPhase(records: readonly RunRecord[], sc: Scenario, round: number, i: number, pick: (s: string) => boolean): PhaseMetrics[] {
  return records.filter((r) => r.round === round && r.status === 'ok' && pick(r.strategy)).map((r) => phaseMetrics(r, sc)[i]!);
}

export function rows(records: readonly RunRecord[], sc: Scenario): Row[] {
  const names = [...new Set(records.map((r) => r.strategy))];
  return names.map((strategy) => {
    const all = records.filter((r) => r.strategy === strategy);
    const ok = okRuns(records, strategy);
    const metrics = ok.map((r) => phaseMetrics(r, sc));
    const phases = sc.capacities.map((capacity, i) => {
      const agg: Record<string, number> = {};
      for (const key of KEYS) {
        const v = median(metrics.flatMap((m) => (m[i]![key] === undefined ? [] : [m[i]![key]!])));
        if (v !== undefined) agg[key] = v;
      }
      const thrRatio = pairedPhase(records, sc, strategy, i, (m, round) => {
        const best = Math.max(...roundPhase(records, sc, round, i, (s) => kindOf(s) === 'fixed').map((x) => x.throughput ?? 0));
        return m.throughput !== undefined && best > 0 ? m.throughput / best : undefined;
      });
      const p99Ratio = pairedPhase(records, sc, strategy, i, (m, round) => {
        const base = roundPhase(records, sc, round, i, (s) => s === 'none')[0]?.onlineP99;
        return m.onlineP99 !== undefined && base ? m.onlineP99 / base : undefined;
      });
      return { capacity, ...agg, ...(thrRatio !== undefined ? { thrRatio } : {}), ...(p99Ratio !== undefined ? { p99Ratio } : {}) };
    });
    const tasks = { pulled: 0, completed: 0, failed: 0, aborted: 0, lost: 0, causes: {} as Record<string, number> };
    for (const r of all) {
      if (!r.child) continue;
      const c = r.child;
      tasks.pulled += c.pulled;
      tasks.completed += c.completed;
      tasks.failed += c.failed;
      tasks.aborted += c.aborted;
      tasks.lost += c.pulled - c.completed - c.failed - c.aborted;
      for (const [k, v] of Object.entries(c.causes)) tasks.causes[k] = (tasks.causes[k] ?? 0) + v;
    }
    const rate = median(all.flatMap((r) => (r.rate === undefined ? [] : [r.rate])));
    const failures = all
      .filter((r) => r.status !== 'ok' || r.note)
      .map((r) => `round ${r.round}: ${r.status}${r.note ? ` (${r.note})` : ''}`);
    return { strategy, runs: all.length, ok: ok.length, ...(rate !== undefined ? { rate } : {}), phases, tasks, failures };
  });
}

/** A series as columns: `{ keys, rows }`, a third of the size of an array of objects. */
function columns<S extends object>(xs: readonly S[]): { keys: string[]; rows: unknown[][] } {
  const keys = xs.length ? Object.keys(xs[0]!) : [];
  return { keys, rows: xs.map((x) => keys.map((k) => (x as Record<string, unknown>)[k])) };
}

/** The records as written to the JSON: every time series in columns. */
export function compactRecords(records: readonly RunRecord[]): unknown[] {
  return records.map((r) => ({
    ...r,
    sim: columns(r.sim),
    ...(r.child ? { child: { ...r.child, series: columns(r.child.series) } } : {}),
  }));
}

const sec = (ms: number | undefined) => fixed(ms === undefined ? undefined : ms / 1000, 1);
const label = (r: Row) => (r.strategy === 'throttle' && r.rate !== undefined ? `throttle ${fixed(r.rate, 0)}/s` : r.strategy);

/** The adaptive limit's bounds (the service defaults: `min`, `max`). */
export interface Bounds {
  readonly min: number;
  readonly max: number;
}

/**
 * Structural: no task lost, every run finished, the adaptive default failed no task and kept its
 * limit within [min, max] in every sample. Timing (reported only): the adaptive default against
 * the best fixed k, its recovery after each capacity change, and the online p99 against no batch.
 */
export function checks(table: readonly Row[], records: readonly RunRecord[], sc: Scenario, adaptive: string, bounds: Bounds): Check[] {
  const batch = table.filter((r) => kindOf(r.strategy) !== 'none');
  const a = table.find((r) => r.strategy === adaptive);
  const limits = records.filter((r) => r.strategy === adaptive && r.child).flatMap((r) => r.child!.series.map((s) => s.limit));
  const [lo, hi] = limits.length ? [Math.min(...limits), Math.max(...limits)] : [Number.NaN, Number.NaN];
  const phases = a?.phases ?? [];
  return [
    {
      claim: `zero tasks lost: in every run of every strategy, pulled = completed + failed (nothing aborted); ${adaptive} failed none`,
      pass:
        batch.length > 0 &&
        batch.every((r) => r.ok === r.runs && r.tasks.lost === 0 && r.tasks.aborted === 0) &&
        a !== undefined &&
        a.tasks.failed === 0,
      detail: batch
        .map(
          (r) =>
            `${r.strategy} ${r.tasks.completed}+${r.tasks.failed}/${r.tasks.pulled}${r.tasks.lost ? `, ${r.tasks.lost} lost` : ''}${r.ok < r.runs ? `, ${r.runs - r.ok} run(s) failed: ${r.failures.join('; ')}` : ''}`,
        )
        .join('; '),
      structural: true,
    },
    {
      claim: `${adaptive}'s limit stays within [min, max] = [${bounds.min}, ${bounds.max}]`,
      pass: limits.length > 0 && lo >= bounds.min && hi <= bounds.max,
      detail: `${limits.length} samples (every ${sc.sampleMs} ms), limit from ${fixed(lo, 0)} to ${fixed(hi, 0)}`,
      structural: true,
    },
    {
      claim: `${adaptive}: throughput ≥ 0.9 × the best fixed k, in every phase`,
      pass: phases.length > 0 && phases.every((p) => (p.thrRatio ?? 0) >= 0.9),
      detail: phases.map((p, i) => `phase ${i + 1} (C_s=${p.capacity}) ${fixed(p.thrRatio, 2)}×`).join(', '),
      structural: false,
    },
    {
      claim: `${adaptive}: back within ±10% of steady throughput ≤ 3 s after each capacity change`,
      pass: phases.length > 1 && phases.slice(1).every((p) => p.recoveryMs !== undefined && p.recoveryMs <= 3000),
      detail: phases
        .slice(1)
        .map((p, i) => `phase ${i + 2} (C_s=${p.capacity}) ${sec(p.recoveryMs)} s`)
        .join(', '),
      structural: false,
    },
    {
      claim: `${adaptive}: online p99 ≤ 1.5 × the no-batch p99, in every phase`,
      pass: phases.length > 0 && phases.every((p) => p.p99Ratio !== undefined && p.p99Ratio <= 1.5),
      detail: phases.map((p, i) => `phase ${i + 1} ${fixed(p.p99Ratio, 2)}× (${fixed(p.onlineP99, 1)} ms)`).join(', '),
      structural: false,
    },
  ];
}

/** The scenario's tables (no top-level heading). */
export function markdown(table: readonly Row[], sc: Scenario, runs: number): string {
  const ph = sc.capacities.map((c, i) => `${i + 1}: C_s=${c}`);
  const head = (cols: string) => `| strategy | ${sc.capacities.map((_, i) => cols.replaceAll('#', String(i + 1))).join(' | ')} |`;
  const rule = (n: number) => `|---|${Array.from({ length: sc.capacities.length * n }, () => '---:').join('|')}|`;
  const batch = table.filter((r) => kindOf(r.strategy) !== 'none');
  const lines = [
    `${runs} round(s), medians; each run a fresh simulator process and a fresh strategy process. Simulator: ${sc.latencyMs} ms per request, ` +
      `C_s = ${sc.capacities.join(' → ')} (${sc.phaseMs / 1000} s each), queue bound ${sc.queueBound} (past it: 503 + Retry-After ${sc.retryAfterS} s), ` +
      `overload penalty ${sc.overloadPenalty}; online users ${sc.onlineRate} req/s throughout. Steady part of a phase: its last ` +
      `${fixed((1 - sc.transientShare) * 100, 0)}%.`,
    '',
    ...table.map(
      (r) => `- **${label(r)}**: ${describe(r.strategy)}${r.rate !== undefined ? ` — the best fixed k's phase-1 throughput` : ''}`,
    ),
    '',
    `**Batch throughput** (req/s over the steady part; ÷ the best fixed k of the same round and phase; 503s in the whole phase), phases ${ph.join(', ')}:`,
    '',
    head('req/s # | ÷ best | 503s #'),
    rule(3),
    ...batch.map(
      (r) =>
        `| ${label(r)} | ${r.phases.map((p) => `${fixed(p.throughput, 0)} | ${fixed(p.thrRatio, 2)} | ${fixed(p.rejected, 0)}`).join(' | ')} |`,
    ),
    '',
    '**Online users** (steady part: p50 / p99 ms; p99 ÷ no batch of the same round):',
    '',
    head('p50 / p99 # | ÷ none'),
    rule(2),
    ...table.map(
      (r) =>
        `| ${label(r)} | ${r.phases.map((p) => `${fixed(p.onlineP50, 1)} / ${fixed(p.onlineP99, 1)} | ${fixed(p.p99Ratio, 2)}`).join(' | ')} |`,
    ),
    '',
    "**The client** (HTTP requests outstanding at the service, mean over the steady part; recovery: s from the phase's start to steady ±10%, phase 1: the ramp " +
      "from the job's start) **and tasks** (all rounds):",
    '',
    `| strategy | requests out ${sc.capacities.map((_, i) => i + 1).join(' / ')} | recovery s ${sc.capacities.map((_, i) => i + 1).join(' / ')} | pulled | completed | failed | lost |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...batch.map(
      (r) =>
        `| ${label(r)} | ${r.phases.map((p) => fixed(p.outstanding, 1)).join(' / ')} | ${r.phases.map((p) => sec(p.recoveryMs)).join(' / ')} | ` +
        `${r.tasks.pulled} | ${r.tasks.completed} | ${r.tasks.failed} | ${r.tasks.lost + r.tasks.aborted} |`,
    ),
  ];
  const causes = batch.filter((r) => Object.keys(r.tasks.causes).length > 0);
  if (causes.length)
    lines.push(
      '',
      ...causes.map(
        (r) =>
          `- ${r.strategy} failures: ${Object.entries(r.tasks.causes)
            .map(([k, v]) => `${v}× ${k}`)
            .join('; ')}`,
      ),
    );
  const failed = table.filter((r) => r.failures.length > 0);
  if (failed.length) lines.push('', ...failed.map((r) => `- ${r.strategy}: ${r.failures.join('; ')}`));
  lines.push(
    '',
    'Online latencies count timeouts at 2 s; rejections are errors, not latencies. Recovery: the end of the first 1 s window',
    "from which every 1 s window of the phase stays within ±10% of the phase's steady throughput.",
  );
  return lines.join('\n');
}
