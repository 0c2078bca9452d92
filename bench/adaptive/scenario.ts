/**
 * Scenario `adaptive`: how a batch job's concurrency policy fares against a service whose capacity
 * changes under it (C_s = 10 → 3 → 10), and what it does to the service's other (online) users:
 * the no-batch baseline, fixed k = 5 and 20, a req/s throttle and the adaptive default, each run in
 * a fresh process against a fresh simulator. Rounds of fresh runs (bench/adaptive/run.ts),
 * medians, checks, tables and charts. `scenario` runs it with the published settings;
 * bench/adaptive/dev.ts with others (more strategies, longer phases) for development.
 */
import { BOUND_DEFAULTS } from 'sluice';
import { median, rotate } from '../harness/stats.js';
import type { Scenario as SuiteScenario, ScenarioReport } from '../harness/types.js';
import { charts } from './charts.js';
import { phaseMetrics } from './metrics.js';
import { checks, compactRecords, markdown, rows } from './report.js';
import { runOnce } from './run.js';
import { kindOf, SCENARIO_STRATEGIES } from './strategies.js';
import type { RunRecord, Scenario } from './types.js';

/** Throttle rate when no fixed k ran to tune it on (≈ 10 workers / 20 ms, less the online share). */
const FALLBACK_RATE = 470;
/** The adaptive default, whose limit the structural check follows. */
const ADAPTIVE_DEFAULT = 'vegas';

/** The published settings: 3 s phases (a full run of 3 rounds in ~150 s), 0.8 s phases for --quick (a smoke: its timings mean little). */
export function settings(quick: boolean, phaseMs?: number): Scenario {
  return {
    capacities: [10, 3, 10],
    phaseMs: phaseMs ?? (quick ? 800 : 3000),
    latencyMs: 20,
    queueBound: 50,
    retryAfterS: 1,
    overloadPenalty: 0.7,
    onlineRate: 20,
    sampleMs: 100,
    transientShare: 1 / 3,
    warmupMs: 300,
  };
}

export interface AdaptiveOptions {
  readonly runs: number;
  readonly quick: boolean;
  readonly log: (line: string) => void;
  readonly strategies?: readonly string[];
  readonly phaseMs?: number;
  readonly throttleRate?: number;
}

function throttleRate(records: readonly RunRecord[], sc: Scenario): number {
  const rounds = [...new Set(records.map((r) => r.round))];
  const best = rounds.flatMap((round) => {
    const thr = records
      .filter((r) => r.round === round && r.status === 'ok' && kindOf(r.strategy) === 'fixed')
      .map((r) => phaseMetrics(r, sc)[0]?.throughput ?? 0);
    return thr.length ? [Math.max(...thr)] : [];
  });
  return Math.round(median(best) ?? FALLBACK_RATE);
}

export async function runAdaptive(o: AdaptiveOptions): Promise<ScenarioReport> {
  const sc = settings(o.quick, o.phaseMs);
  const strategies = [...(o.strategies ?? SCENARIO_STRATEGIES)];
  if (!strategies.includes('none')) strategies.unshift('none');
  const adaptive = strategies.includes(ADAPTIVE_DEFAULT)
    ? ADAPTIVE_DEFAULT
    : (strategies.find((s) => kindOf(s) === 'adaptive') ?? ADAPTIVE_DEFAULT);
  const records: RunRecord[] = [];
  for (let round = 1; round <= o.runs; round++) {
    const order = [
      ...strategies.filter((s) => kindOf(s) === 'none'),
      ...rotate(
        strategies.filter((s) => kindOf(s) === 'fixed'),
        round - 1,
      ),
      ...strategies.filter((s) => kindOf(s) === 'throttle'),
      ...rotate(
        strategies.filter((s) => kindOf(s) === 'adaptive'),
        round - 1,
      ),
    ];
    for (const strategy of order) {
      const rate = kindOf(strategy) === 'throttle' ? (o.throttleRate ?? throttleRate(records, sc)) : undefined;
      const t0 = performance.now();
      const rec = await runOnce(strategy, round, sc, rate);
      const took = ((performance.now() - t0) / 1000).toFixed(1);
      records.push(rec);
      const show = phaseMetrics(rec, sc)
        .map(
          (p) =>
            `C${p.capacity}: ${p.throughput?.toFixed(0) ?? '-'}/s out ${p.outstanding?.toFixed(1) ?? '-'} ` +
            `503 ${p.rejected ?? '-'} p99 ${p.onlineP99?.toFixed(0) ?? '-'} rec ${p.recoveryMs === undefined ? '-' : (p.recoveryMs / 1000).toFixed(1)}`,
        )
        .join(' | ');
      o.log(
        `adaptive [round ${round}] ${strategy}${rate !== undefined ? ` @${rate}/s` : ''} (${took} s): ${rec.status}${rec.note ? ` (${rec.note})` : ''} ${show}`,
      );
    }
  }
  const table = rows(records, sc);
  const bounds = { min: BOUND_DEFAULTS.min, max: BOUND_DEFAULTS.max };
  return {
    name: 'adaptive',
    title: 'Adaptive limits on a service whose capacity changes',
    method:
      `A simulated service in its own process (${sc.latencyMs} ms per request, C_s = ${sc.capacities.join(' → ')} workers, ${sc.phaseMs / 1000} s per ` +
      `phase, queue bound ${sc.queueBound} answering 503 + Retry-After ${sc.retryAfterS} s, overload penalty ${sc.overloadPenalty}), with online users ` +
      `sending ${sc.onlineRate} req/s open loop throughout from the bench process. The job knows nothing of C_s. Held equal: the job (one sluice ` +
      'io stage behind `service()` with the default timeout, retries and Retry-After handling, over the same agent), the simulator, the online ' +
      "load and the phase schedule; only the service's limit differs. Every run is a fresh simulator and a fresh strategy process, with no " +
      'warm-up of the limit (phase 1 includes the ramp from its initial value); the endless input is stopped after the last phase and ' +
      'drained. Each round runs the no-batch baseline, the fixed k (rotated per round), the req/s throttle (its rate: the median over the ' +
      "rounds so far of the best fixed k's phase-1 throughput), then the adaptive ones. Per-phase figures over the steady part (the " +
      `last ${Math.round((1 - sc.transientShare) * 100)}% of the phase); ratios paired within a round, medians over rounds.`,
    markdown: markdown(table, sc, o.runs),
    checks: checks(table, records, sc, adaptive, bounds),
    charts: charts(records, sc, strategies),
    json: { scenario: sc, runs: o.runs, strategies, rows: table, records: compactRecords(records) },
  };
}

export const scenario: SuiteScenario = (options) =>
  runAdaptive({ runs: Math.max(1, options.runs), quick: options.quick, log: options.log });
