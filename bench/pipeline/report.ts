/**
 * The pipeline scenario's outputs: the markdown tables (one per shape), the checks (structural:
 * sluice's buffered payloads within its bound and every sluice task completed; timing targets:
 * sluice near the bound and no slower than the best baseline), and the chart of wall ÷ bound.
 */
import { fixed } from '../harness/format.js';
import { median } from '../harness/stats.js';
import type { Check, ChartSpec } from '../harness/types.js';
import { UNLIMITED, type StrategyName } from './shapes.js';
import { sluiceBufferBound, vsBestBaseline, type CalibratedShape, type Row, type RunRecord } from './stats.js';

const kib = (b: number) => `${b / 1024} KiB`;

export function shapeLine(s: CalibratedShape): string {
  const io = (s.runN * s.latencyMs) / s.concurrency;
  const cpu = (s.runN * s.calibratedCpuMs) / s.threads;
  return (
    `L = ${s.latencyMs} ms, k = ${s.concurrency}, C = ${fixed(s.calibratedCpuMs, 2)} ms (${s.rounds} SHA-256 rounds over the payload), ` +
    `T = ${s.threads}, ${kib(s.sizeBytes)} payloads, N = ${s.runN}, warm-up ${s.warmup} tasks. ` +
    `Bound = max(N·L/k = ${io.toFixed(0)} ms, N·C/T = ${cpu.toFixed(0)} ms) = ${Math.max(io, cpu).toFixed(0)} ms: ${s.about}.`
  );
}

export function markdown(table: readonly Row[], shapes: readonly CalibratedShape[], runs: number): string {
  const out: string[] = [];
  for (const s of shapes) {
    const rs = table.filter((r) => r.shape === s.name);
    out.push(
      `### ${s.name}`,
      '',
      shapeLine(s),
      '',
      '| strategy | ok runs | wall ms | tasks/s | ÷ bound | ÷ sluice | ÷ machine | CPU ms/task | C ms (threads) | peak RSS MiB | peak buffered | peak fetches |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rs.map((r) =>
        r.wallMs === undefined
          ? `| ${r.strategy} | 0/${r.runs} | **failed** (${[...new Set(r.failures.map((f) => f.replace(/^round \d+: (\S+).*$/, '$1')))].join(', ')}) | | | | | | | | | |`
          : `| ${r.strategy} | ${r.ok}/${r.runs} | ${fixed(r.wallMs, 0)} | ${fixed(r.tasksPerS, 0)} | ${fixed(r.ratio, 2)} | ${fixed(r.vsSluice, 2)} | ` +
            `${fixed(r.machineRatio, 2)} | ${fixed(r.cpuPerTaskMs, 2)} | ${fixed(r.threadCpuMs, 2)} | ${fixed(r.rssMiB, 0)} | ${fixed(r.buffered, 0)} | ${fixed(r.fetching, 0)} |`,
      ),
      '',
      ...rs.flatMap((r) => r.failures.map((f) => `- ${r.strategy} failed, ${f}`)),
      ...(rs.some((r) => r.failures.length > 0) ? [''] : []),
    );
  }
  const noise = median(table.map((r) => r.othersCpuPct).filter((x): x is number => x !== undefined));
  out.push(
    `Medians of ${runs} round(s); a failed run is left out of the medians and listed under its table. ` +
      `Machine noise: median CPU used by other processes during the runs: ${fixed(noise, 0)}% of the 2 cores.`,
    '',
    '- **÷ bound**: median wall ÷ max(N·L/k, N·C/T), with C the calibrated CPU time of the step (the same for every strategy).',
    "- **÷ sluice**: this strategy's wall ÷ sluice's in the same round, median over rounds (> 1: slower than sluice).",
    "- **CPU ms/task**: CPU of the strategy process over the timed run ÷ N, plus the doc server's CPU per request: what a task " +
      'costs the 2-core machine in all (HTTP, copies, hand-off, and the CPU step). **÷ machine**: wall ÷ max(bound, N × CPU ms/task ÷ 2), ' +
      "per run, median: the formula bound leaves out the main thread's and the server's CPU, which share the same 2 cores.",
    "- **C ms (threads)**: the worker threads' own CPU time per task (CPU clock from first task to last ÷ tasks; n/a on the main thread); " +
      'above the calibrated C when the threads share the cores with the main thread and the server.',
    '- **peak buffered**: payloads fetched and not yet started on a CPU (sluice: `stats().buffered.peak`; raw Piscina: in the pool ' +
      'beyond T; on the main thread the CPU step starts in the same microtask, so their pile-up shows as **peak fetches** in flight instead).',
    `- ${UNLIMITED.join(', ')} sends every request at once (no limit k): it breaks the service limit the others keep, so it can beat ` +
      'the bound when the io side is the bottleneck, and it is never counted as "the best baseline".',
    '',
  );
  return out.join('\n');
}

export function checks(records: readonly RunRecord[], table: readonly Row[], shapes: readonly CalibratedShape[]): Check[] {
  return shapes.flatMap((s): Check[] => {
    const sluiceRuns = records.filter((r) => r.shape === s.name && r.strategy === 'sluice');
    const withResult = sluiceRuns.filter((r) => r.result !== undefined);
    const bounds = withResult.map((r) => ({ peak: r.result!.peakBuffered, b: sluiceBufferBound(r.result!) }));
    const within = bounds.length > 0 && bounds.every((x) => x.b !== undefined && x.peak <= x.b.bound);
    const complete = sluiceRuns.length > 0 && sluiceRuns.every((r) => r.status === 'ok' && r.result?.ok === r.n && r.result.failed === 0);
    const row = table.find((r) => r.shape === s.name && r.strategy === 'sluice');
    const best = vsBestBaseline(records, s.name);
    return [
      {
        claim: `${s.name}: sluice's peak buffered payloads ≤ its bound (stage capacities + buffer bounds) in every run`,
        pass: within,
        detail:
          bounds.length === 0
            ? 'no sluice run reported its stats'
            : `peaks ${bounds.map((x) => x.peak).join(', ')} ≤ ${bounds[0]!.b ? `${bounds[0]!.b.bound} (${bounds[0]!.b.parts})` : 'n/a'}`,
        structural: true,
      },
      {
        claim: `${s.name}: every sluice task completed in every run`,
        pass: complete,
        detail: sluiceRuns
          .map((r) => `round ${r.round}: ${r.status}, ${r.result?.ok ?? 0}/${r.n} ok${r.note ? ` (${r.note})` : ''}`)
          .join('; '),
        structural: true,
      },
      {
        claim: `${s.name}: sluice within 1.3× of the bound max(N·L/k, N·C/T)`,
        pass: row?.ratio !== undefined && row.ratio <= 1.3,
        detail: `wall ÷ bound = ${fixed(row?.ratio, 2)} (${fixed(row?.wallMs, 0)} ms ÷ ${fixed(row?.boundMs, 0)} ms); ÷ machine bound = ${fixed(row?.machineRatio, 2)}`,
        structural: false,
      },
      {
        claim: `${s.name}: sluice no slower than the best baseline that keeps the limit k (≤ 1.05×, paired per round)`,
        pass: best.ratio !== undefined && best.ratio <= 1.05,
        detail: `sluice ÷ fastest baseline = ${fixed(best.ratio, 2)} (fastest per round: ${best.best.join(', ') || 'n/a'})`,
        structural: false,
      },
    ];
  });
}

/** A grouped bar chart: per shape, median wall ÷ bound per strategy, with a rule at 1. */
export function chart(table: readonly Row[], shapes: readonly CalibratedShape[], strategies: readonly StrategyName[]): ChartSpec {
  const failed = table.filter((r) => r.ratio === undefined).map((r) => `${r.shape} ${r.strategy}`);
  const values = table.flatMap((r) =>
    r.ratio === undefined
      ? []
      : [{ shape: r.shape, strategy: r.strategy, ratio: Number(r.ratio.toFixed(3)), wallMs: Math.round(r.wallMs!) }],
  );
  return {
    file: 'pipeline.svg',
    title: 'Pipeline: wall time ÷ bound per shape and strategy',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Wall time ÷ bound max(N·L/k, N·C/T), median of rounds',
        subtitle: `lower is better; dashed line: the bound${failed.length > 0 ? `; no bar (every run failed): ${failed.join(', ')}` : ''}`,
      },
      width: 560,
      height: 260,
      data: { values },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'shape', type: 'nominal', title: 'workload shape', sort: shapes.map((s) => s.name), axis: { labelAngle: 0 } },
            xOffset: { field: 'strategy', type: 'nominal', sort: [...strategies] },
            y: { field: 'ratio', type: 'quantitative', title: 'wall ÷ bound' },
            color: { field: 'strategy', type: 'nominal', sort: [...strategies], title: 'strategy' },
            tooltip: [{ field: 'strategy' }, { field: 'ratio', title: 'wall ÷ bound' }, { field: 'wallMs', title: 'wall ms' }],
          },
        },
        {
          mark: { type: 'rule', color: 'black', strokeDash: [4, 3] },
          encoding: { y: { datum: 1, type: 'quantitative' } },
        },
      ],
    },
  };
}
