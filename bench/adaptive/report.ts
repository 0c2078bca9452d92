/**
 * Medians over rounds, the issue's targets for every adaptive strategy, the best of them, and the
 * markdown report. Ratios (throughput ÷ the best fixed k, online p99 ÷ the no-batch p99) are paired
 * within a round (both ran in the same round, minutes apart at most), then their median is taken.
 */
import { phaseMetrics, type PhaseMetrics } from './metrics.js';
import { describe, kindOf } from './strategies.js';
import type { RunRecord, Scenario } from './types.js';

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

type Key = Exclude<keyof PhaseMetrics, 'capacity'>;
const KEYS: readonly Key[] = ['throughput', 'limit', 'inFlight', 'queueMean', 'queueMax', 'rejected', 'onlineP50', 'onlineP99', 'onlineP99Transient', 'onlineErrors', 'recoveryMs'];

export interface Row {
  readonly strategy: string;
  readonly runs: number;
  readonly ok: number;
  readonly rate?: number;
  readonly phases: readonly (Partial<PhaseMetrics> & { thrRatio?: number; p99Ratio?: number })[];
  readonly tasks: { pulled: number; completed: number; failed: number; aborted: number; lost: number; causes: Record<string, number> };
  readonly failures: readonly string[];
}

export interface Verdict {
  readonly strategy: string;
  readonly checks: readonly { readonly name: string; readonly value: string; readonly pass: boolean | undefined }[];
  readonly passed: number;
  readonly score: number;
}

const okRuns = (records: readonly RunRecord[], s: string) => records.filter((r) => r.strategy === s && r.status === 'ok');

/** Per round, f(strategy's phase metrics, that round's others); the median over rounds. */
function pairedPhase(records: readonly RunRecord[], sc: Scenario, s: string, i: number, f: (m: PhaseMetrics, round: number) => number | undefined): number | undefined {
  return median(okRuns(records, s).flatMap((r) => {
    const v = f(phaseMetrics(r, sc)[i]!, r.round);
    return v === undefined || !Number.isFinite(v) ? [] : [v];
  }));
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
    const failures = all.filter((r) => r.status !== 'ok' || r.note).map((r) => `round ${r.round}: ${r.status}${r.note ? ` (${r.note})` : ''}`);
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
  return records.map((r) => ({ ...r, sim: columns(r.sim), ...(r.child ? { child: { ...r.child, series: columns(r.child.series) } } : {}) }));
}

const f = (x: number | undefined, d = 0) => (x === undefined ? 'n/a' : x.toFixed(d));

export function verdicts(table: readonly Row[], sc: Scenario): Verdict[] {
  return table.filter((r) => kindOf(r.strategy) === 'adaptive').map((r) => {
    const checks = [
      ...r.phases.map((p, i) => ({ name: `phase ${i + 1} (C_s=${p.capacity}) throughput ≥ 0.9 × best fixed k`, value: `${f(p.thrRatio, 2)}×`, pass: p.thrRatio === undefined ? undefined : p.thrRatio >= 0.9 })),
      ...r.phases.map((p, i) => ({ name: `phase ${i + 1} (C_s=${p.capacity}) online p99 ≤ 1.5 × no batch`, value: `${f(p.p99Ratio, 2)}× (${f(p.onlineP99, 1)} ms)`, pass: p.p99Ratio === undefined ? undefined : p.p99Ratio <= 1.5 })),
      ...r.phases.slice(1).map((p, i) => ({ name: `phase ${i + 2} recovery (±10% of steady) ≤ 3 s`, value: `${f(p.recoveryMs === undefined ? undefined : p.recoveryMs / 1000, 1)} s`, pass: p.recoveryMs === undefined ? false : p.recoveryMs <= 3000 })),
      { name: 'zero tasks lost (every task completed or failed with its cause)', value: `${r.tasks.lost} lost, ${r.tasks.aborted} aborted, ${r.ok}/${r.runs} runs ok`, pass: r.tasks.lost === 0 && r.tasks.aborted === 0 && r.ok === r.runs && r.runs > 0 },
    ];
    const passed = checks.filter((c) => c.pass === true).length;
    const score = r.phases.reduce((s, p) => s + Math.min(1, p.thrRatio ?? 0) - Math.max(0, (p.p99Ratio ?? 9) - 1.5) / 3, 0);
    return { strategy: r.strategy, checks, passed, score };
  }).sort((a, b) => b.passed - a.passed || b.score - a.score);
}

export function markdown(table: readonly Row[], vs: readonly Verdict[], sc: Scenario, command: string, runs: number, svgName: string): string {
  const best = vs[0];
  const lines = [
    '# sluice adaptive bench',
    '',
    `\`${command}\` — ${runs} round(s), medians; every run a fresh simulator process and a fresh strategy process.`,
    '',
    `Simulator: latency ${sc.latencyMs} ms, C_s = ${sc.capacities.join(' → ')} (${sc.phaseMs / 1000} s each), queue bound ${sc.queueBound} ` +
      `(past it: 503 with Retry-After ${sc.retryAfterS} s), overload penalty ${sc.overloadPenalty}; online users ${sc.onlineRate} req/s on /online ` +
      `throughout. Job: one io stage behind \`service('sim', { limit })\`, default timeout and retries (3 attempts), endless input stopped ` +
      `after the last phase and drained. Steady part of a phase = its last ${f((1 - sc.transientShare) * 100)}%.`,
    '',
    ...table.map((r) => `- **${r.strategy}**: ${describe(r.strategy)}${r.rate !== undefined ? ` — ${f(r.rate)} req/s, the best fixed k's phase-1 throughput` : ''}`),
    '',
  ];
  sc.capacities.forEach((capacity, i) => {
    lines.push(`## Phase ${i + 1}: C_s = ${capacity} (${(i * sc.phaseMs) / 1000}–${((i + 1) * sc.phaseMs) / 1000} s)`, '',
      '| strategy | req/s | ÷ best fixed | limit | in flight | queue mean / max | 503s | online p50 / p99 ms | p99 ÷ no batch | p99 first third | recovery s |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of table) {
      const p = r.phases[i]!;
      const name = r.strategy === 'throttle' && r.rate !== undefined ? `throttle ${f(r.rate)}/s` : r.strategy;
      lines.push(`| ${name} | ${f(p.throughput)} | ${f(p.thrRatio, 2)} | ${f(p.limit, 1)} | ${f(p.inFlight, 1)} | ${f(p.queueMean, 1)} / ${f(p.queueMax)} | ` +
        `${f(p.rejected)} | ${f(p.onlineP50, 1)} / ${f(p.onlineP99, 1)} | ${f(p.p99Ratio, 2)} | ${f(p.onlineP99Transient, 1)} | ${f(p.recoveryMs === undefined ? undefined : p.recoveryMs / 1000, 1)} |`);
    }
    lines.push('');
  });
  lines.push('## Tasks (all rounds)', '', '| strategy | pulled | completed | failed | aborted | lost | failure causes |', '|---|---:|---:|---:|---:|---:|---|');
  for (const r of table.filter((x) => x.strategy !== 'none')) {
    const causes = Object.entries(r.tasks.causes).map(([k, v]) => `${v}× ${k}`).join('; ') || '—';
    lines.push(`| ${r.strategy} | ${r.tasks.pulled} | ${r.tasks.completed} | ${r.tasks.failed} | ${r.tasks.aborted} | ${r.tasks.lost} | ${causes} |`);
  }
  for (const r of table.filter((x) => x.failures.length > 0)) lines.push(`- ${r.strategy}: ${r.failures.join('; ')}`);
  lines.push('', `## Targets${best ? ` — best adaptive: **${best.strategy}** (${best.passed}/${best.checks.length} checks)` : ''}`, '');
  if (best) lines.push(...best.checks.map((c) => `- ${c.pass === undefined ? 'N/A ' : c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.value}`), '');
  lines.push('| adaptive strategy | checks passed | ' + (best?.checks.map((_, j) => `#${j + 1}`).join(' | ') ?? '') + ' |',
    '|---|---:|' + (best?.checks.map(() => ':-:').join('|') ?? '') + '|');
  for (const v of vs) lines.push(`| ${v.strategy} | ${v.passed}/${v.checks.length} | ${v.checks.map((c) => (c.pass === undefined ? 'n/a' : c.pass ? 'PASS' : 'FAIL')).join(' | ')} |`);
  lines.push('', 'Columns: **req/s** = the batch\'s completed tasks per second over the steady part; **÷ best fixed** = that ÷ the best',
    'fixed k of the same round in the same phase (median of per-round ratios); **limit** / **in flight** = the service\'s limit',
    'and attempts in flight (means over the steady part); **queue** = the simulator\'s queue (mean of 100 ms samples over the',
    'steady part / longest in the phase); **503s** = the simulator\'s rejections in the whole phase; **online** = the online users\'',
    'latency over the steady part (timeouts count at 2 s; rejections are errors, not latencies); **p99 first third** = the',
    'transient right after the change; **recovery** = from the phase start to the end of the first 1 s window from which every',
    '1 s window of the phase stays within ±10% of the phase\'s steady throughput (phase 1: the ramp from the job\'s start).',
    '', `![limit and throughput over time](${svgName})`, '');
  return lines.join('\n');
}
