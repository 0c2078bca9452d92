/**
 * The adaptive bench (issue 3): how a batch job's concurrency policy fares against a service whose
 * capacity changes under it, and what it does to the service's other (online) users.
 *
 * Method. The simulated service (src/simulator, its own child process, fresh for every run) serves
 * C_s requests at once at 20 ms each, with a queue bound of 50 (past it: 503 + Retry-After 1 s) and
 * an overload penalty of 0.7 (BASELINES: k=50 gets ~280 req/s at C_s=10); C_s goes 10 → 3 → 10,
 * 8 s per phase. Online users send 20 req/s, open loop, throughout, from this orchestrator process.
 * Held equal across strategies: the job (one sluice io stage over the same fetch helper and agent,
 * behind `service()` with the default timeout, retries and Retry-After handling), the simulator,
 * the online load and the phase schedule; only the service's limit differs (bench/adaptive/
 * strategies.ts). Every run is a fresh strategy process with no warm-up (the ramp from the limit's
 * initial value is part of phase 1). The no-batch baseline (`none`: online users alone) runs in the
 * same round. Order per round: none, the fixed k (rotated per round), the throttle (its rate is
 * the median over rounds so far of the best fixed k's phase-1 throughput), the adaptive ones
 * (rotated). Per-phase figures: bench/adaptive/metrics.ts; medians, ratios and targets:
 * bench/adaptive/report.ts. Outputs bench/results/adaptive.{json,md,svg} (dev runs: adaptive-dev.*.tmp);
 * the JSON's time series are in columns (`{ keys, rows }`).
 *
 *   npm run bench -- --scenario adaptive [--runs 3] [--quick]
 *   node --import tsx bench/adaptive.ts [--runs 3] [--quick] [--only none,fixed-10,gradient2] [--phase-ms 8000] [--throttle-rate 470]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chart } from './adaptive/chart.js';
import { phaseMetrics } from './adaptive/metrics.js';
import { compactRecords, markdown, median, rows, verdicts } from './adaptive/report.js';
import { runOnce } from './adaptive/run.js';
import { ALL_STRATEGIES, kindOf } from './adaptive/strategies.js';
import type { RunRecord, Scenario } from './adaptive/types.js';

const RESULTS = new URL('./results/', import.meta.url);
/** Throttle rate when no fixed k ran to tune it on (≈ 10 workers / 20 ms, less the online share). */
const FALLBACK_RATE = 470;

export interface AdaptiveOptions {
  readonly runs?: number;
  readonly quick?: boolean;
  readonly only?: readonly string[];
  readonly phaseMs?: number;
  readonly throttleRate?: number;
  readonly out?: string;
  readonly command: string;
}

const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

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

export async function runAdaptive(o: AdaptiveOptions): Promise<void> {
  const runs = o.runs ?? (o.quick ? 1 : 3);
  const sc: Scenario = {
    capacities: [10, 3, 10],
    phaseMs: o.phaseMs ?? 8000,
    latencyMs: 20,
    queueBound: 50,
    retryAfterS: 1,
    overloadPenalty: 0.7,
    onlineRate: 20,
    sampleMs: 100,
    transientShare: 1 / 3,
  };
  const strategies = ALL_STRATEGIES.filter((s) => o.only === undefined || o.only.includes(s));
  for (const s of o.only ?? []) if (!strategies.includes(s)) strategies.push(s); // variants not in the default list
  const official = !o.quick && o.only === undefined && o.phaseMs === undefined && o.throttleRate === undefined && o.out === undefined;
  const name = o.out ?? (official ? 'adaptive' : 'adaptive-dev');
  const suffix = official || o.out !== undefined ? '' : '.tmp';
  mkdirSync(RESULTS, { recursive: true });
  const records: RunRecord[] = [];
  const save = (final: boolean): void => {
    const table = rows(records, sc);
    const vs = verdicts(table, sc);
    const config = { scenario: sc, runs, strategies, command: o.command };
    const summary = JSON.stringify({ config, best: vs[0]?.strategy, rows: table, verdicts: vs }, null, 1).slice(0, -2);
    const raw = compactRecords(records).map((r) => JSON.stringify(r)).join(',\n');
    writeFileSync(new URL(`${name}.json${suffix}`, RESULTS), `${summary},\n "records": [\n${raw}\n ]\n}\n`);
    if (!final) return;
    const batch = strategies.filter((s) => s !== 'none');
    writeFileSync(new URL(`${name}.svg${suffix}`, RESULTS), chart(records, sc, batch));
    const md = markdown(table, vs, sc, o.command, runs, `${name}.svg`);
    writeFileSync(new URL(`${name}.md${suffix}`, RESULTS), md);
    process.stdout.write(md);
  };
  for (let round = 1; round <= runs; round++) {
    const order = [
      ...strategies.filter((s) => kindOf(s) === 'none'),
      ...rotate(strategies.filter((s) => kindOf(s) === 'fixed'), round - 1),
      ...strategies.filter((s) => kindOf(s) === 'throttle'),
      ...rotate(strategies.filter((s) => kindOf(s) === 'adaptive'), round - 1),
    ];
    for (const strategy of order) {
      const rate = kindOf(strategy) === 'throttle' ? (o.throttleRate ?? throttleRate(records, sc)) : undefined;
      const rec = await runOnce(strategy, round, sc, rate);
      records.push(rec);
      const m = phaseMetrics(rec, sc);
      const show = m.map((p) => `C${p.capacity}: ${p.throughput?.toFixed(0) ?? '-'}/s lim ${p.limit?.toFixed(1) ?? '-'} q ${p.queueMean?.toFixed(1) ?? '-'} ` +
        `503 ${p.rejected ?? '-'} p99 ${p.onlineP99?.toFixed(0) ?? '-'} rec ${p.recoveryMs === undefined ? '-' : (p.recoveryMs / 1000).toFixed(1)}`).join(' | ');
      console.error(`[round ${round}] ${strategy}${rate !== undefined ? ` @${rate}/s` : ''}: ${rec.status}${rec.note ? ` (${rec.note})` : ''} ${show}`);
      save(false);
    }
  }
  save(true);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'phase-ms': { type: 'string' },
      'throttle-rate': { type: 'string' },
      out: { type: 'string' },
    },
  });
  await runAdaptive({
    ...(values.runs !== undefined ? { runs: Number(values.runs) } : {}),
    quick: values.quick,
    ...(values.only !== undefined ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
    ...(values['phase-ms'] !== undefined ? { phaseMs: Number(values['phase-ms']) } : {}),
    ...(values['throttle-rate'] !== undefined ? { throttleRate: Number(values['throttle-rate']) } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    command: ['node --import tsx bench/adaptive.ts', ...process.argv.slice(2)].join(' '),
  });
}
