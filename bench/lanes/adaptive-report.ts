/**
 * The adaptive part's figures: per strategy and phase, the throughput over the steady part (as
 * bench/adaptive/metrics.ts computes it), ÷ the best fixed limit of the same round and phase
 * (paired, then the median over rounds), the limit and permits in flight; per run, the most
 * requests the service had in flight from the job (the pass-through's count) against the limit
 * (a fixed k, or the highest limit the algorithm set). Checks and the markdown.
 */
import { phaseMetrics } from '../adaptive/metrics.js';
import { kindOf } from '../adaptive/strategies.js';
import type { Scenario } from '../adaptive/types.js';
import { fixed } from '../harness/format.js';
import { median } from '../harness/stats.js';
import type { Check } from '../harness/types.js';
import type { LanesRunRecord } from './adaptive-run.js';

export interface AdaptivePhase {
  readonly capacity: number;
  readonly throughput?: number;
  /** ÷ the best fixed limit's throughput in the same round and phase (median of the rounds' ratios). */
  readonly thrRatio?: number;
  readonly limit?: number;
  readonly inFlight?: number;
  readonly rejected?: number;
}

export interface AdaptiveRow {
  readonly strategy: string;
  readonly runs: number;
  readonly ok: number;
  readonly lanes: number;
  readonly phases: readonly AdaptivePhase[];
  /** Per run: the service's highest limit (k for a fixed one), and the most requests in flight at the service. */
  readonly limits: readonly {
    readonly round: number;
    readonly peakLimit: number;
    readonly serverPeak: number;
    readonly servicePeak: number;
  }[];
  readonly tasks: { pulled: number; completed: number; failed: number; lost: number };
  readonly failures: readonly string[];
}

const throughputOf = (r: LanesRunRecord, sc: Scenario, i: number): number | undefined => phaseMetrics(r, sc)[i]?.throughput;

export function adaptiveRows(records: readonly LanesRunRecord[], sc: Scenario): AdaptiveRow[] {
  const names = [...new Set(records.map((r) => r.strategy))];
  return names.map((strategy) => {
    const all = records.filter((r) => r.strategy === strategy);
    const ok = all.filter((r) => r.status === 'ok');
    const metrics = ok.map((r) => phaseMetrics(r, sc));
    const phases = sc.capacities.map((capacity, i) => {
      const pick = (f: (m: ReturnType<typeof phaseMetrics>[number]) => number | undefined) =>
        median(metrics.flatMap((m) => (f(m[i]!) === undefined ? [] : [f(m[i]!)!])));
      const ratios = ok.flatMap((r) => {
        const mine = throughputOf(r, sc, i);
        const fixedOnes = records.filter((x) => x.round === r.round && x.status === 'ok' && kindOf(x.strategy) === 'fixed');
        const best = Math.max(0, ...fixedOnes.map((x) => throughputOf(x, sc, i) ?? 0));
        return mine !== undefined && best > 0 ? [mine / best] : [];
      });
      const thrRatio = median(ratios);
      const p: AdaptivePhase = {
        capacity,
        ...opt(
          'throughput',
          pick((m) => m.throughput),
        ),
        ...opt('thrRatio', thrRatio),
        ...opt(
          'limit',
          pick((m) => m.limit),
        ),
        ...opt(
          'inFlight',
          pick((m) => m.inFlight),
        ),
        ...opt(
          'rejected',
          pick((m) => m.rejected),
        ),
      };
      return p;
    });
    const tasks = { pulled: 0, completed: 0, failed: 0, lost: 0 };
    for (const r of all) {
      if (!r.child) continue;
      tasks.pulled += r.child.pulled;
      tasks.completed += r.child.completed;
      tasks.failed += r.child.failed;
      tasks.lost += r.child.pulled - r.child.completed - r.child.failed;
    }
    return {
      strategy,
      runs: all.length,
      ok: ok.length,
      lanes: ok[0]?.child?.lanes ?? Number.NaN,
      phases,
      limits: ok.map((r) => ({
        round: r.round,
        peakLimit: r.child!.peakLimit,
        serverPeak: r.serverPeak ?? Number.NaN,
        servicePeak: r.child!.service.peakInFlight,
      })),
      tasks,
      failures: all.filter((r) => r.status !== 'ok' || r.note).map((r) => `round ${r.round}: ${r.status}${r.note ? ` (${r.note})` : ''}`),
    };
  });
}

function opt<K extends string>(key: K, v: number | undefined): Partial<Record<K, number>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, number>);
}

export function adaptiveChecks(table: readonly AdaptiveRow[], adaptive: string): Check[] {
  const a = table.find((r) => r.strategy === adaptive);
  const phases = a?.phases ?? [];
  const limitsHold = table.length > 0 && table.every((r) => r.limits.length > 0 && r.limits.every((l) => l.serverPeak <= l.peakLimit));
  return [
    {
      claim: `adaptive part: every run finished and no task was lost (pulled = completed + failed) in lanes`,
      pass: table.length > 0 && table.every((r) => r.ok === r.runs && r.tasks.lost === 0),
      detail: table
        .map(
          (r) =>
            `${r.strategy}: ${r.tasks.completed}+${r.tasks.failed}/${r.tasks.pulled}${r.tasks.lost ? `, ${r.tasks.lost} lost` : ''}` +
            (r.failures.length > 0 ? ` (${r.failures.join('; ')})` : ''),
        )
        .join('; '),
      structural: true,
    },
    {
      claim:
        'adaptive part: the limit is exact across lanes: the most requests the service had in flight from the job (counted at ' +
        'its door) never passed the limit (a fixed k; for the adaptive limit, the highest it set)',
      pass: limitsHold,
      detail: table.map((r) => `${r.strategy}: ${r.limits.map((l) => `${l.serverPeak}/${fixed(l.peakLimit, 0)}`).join(', ')}`).join('; '),
      structural: true,
    },
    {
      claim: `adaptive part: ${adaptive} in ${a?.lanes ?? '?'} lanes: throughput ≥ 0.9 × the best fixed limit, in every phase`,
      pass: phases.length > 0 && phases.every((p) => (p.thrRatio ?? 0) >= 0.9),
      detail: phases.map((p, i) => `phase ${i + 1} (C_s=${p.capacity}) ${fixed(p.thrRatio, 2)}×`).join(', '),
      structural: false,
    },
  ];
}

export function adaptiveMarkdown(table: readonly AdaptiveRow[], sc: Scenario, runs: number): string {
  const head = sc.capacities.map((c, i) => `${i + 1}: C_s=${c} req/s | ÷ best | limit`).join(' | ');
  return [
    `**Adaptive limits in lanes** (the adaptive scenario's service: ${sc.latencyMs} ms per request, C_s = ${sc.capacities.join(' → ')}, ` +
      `${sc.phaseMs / 1000} s per phase, queue bound ${sc.queueBound}, 503 + Retry-After ${sc.retryAfterS} s, overload penalty ${sc.overloadPenalty}; ` +
      `no online users). ${runs} round(s), medians; throughput over the steady part of each phase (its last ` +
      `${fixed((1 - sc.transientShare) * 100, 0)}%), ÷ the best fixed limit of the same round and phase; limit: the mean over the steady part.`,
    '',
    `| strategy | lanes | ${head} | in flight at the service (peak) ÷ limit (peak), per round | completed / pulled |`,
    `|---|---:|${sc.capacities.map(() => '---:|---:|---:').join('|')}|---|---:|`,
    ...table.map(
      (r) =>
        `| ${r.strategy} | ${r.lanes} | ${r.phases.map((p) => `${fixed(p.throughput, 0)} | ${fixed(p.thrRatio, 2)} | ${fixed(p.limit, 1)}`).join(' | ')} | ` +
        `${r.limits.map((l) => `${l.serverPeak} / ${fixed(l.peakLimit, 0)}`).join(', ')} | ${r.tasks.completed} / ${r.tasks.pulled} |`,
    ),
    '',
    "- **in flight at the service**: requests from the job between their arrival and the end of their answer, counted by a pass-through in front of the simulator (the simulator's own peak counts only requests in service, at most C_s). " +
      'A fixed limit k must bound it at k; an adaptive one at the highest limit it set, across every lane (the permits live in shared memory).',
  ].join('\n');
}
