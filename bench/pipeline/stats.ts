/**
 * From the raw records of the pipeline scenario to one row per (shape, strategy): medians over the
 * ok runs, ratios to the formula bound and to the machine bound, and ratios to sluice paired
 * within a round (both ran back to back against the same machine state) before the median.
 */
import type { ChildResult } from './meter.js';
import { boundMs, UNLIMITED, type Shape, type StrategyName } from './shapes.js';
import type { Status } from './run.js';
import { median } from '../harness/stats.js';

/** A shape with its calibrated CPU step. */
export interface CalibratedShape extends Shape {
  /** SHA-256 rounds per task, and the CPU time they cost on the orchestrator's thread (ms). */
  readonly rounds: number;
  readonly calibratedCpuMs: number;
  /** The N used in this run (full or quick). */
  readonly runN: number;
}

export interface RunRecord {
  readonly round: number;
  readonly shape: string;
  readonly strategy: StrategyName;
  readonly n: number;
  readonly status: Status;
  readonly note?: string;
  readonly result?: ChildResult;
  /** The doc server's CPU time and requests over this child's life (warm-up included). */
  readonly serverCpuMs?: number;
  readonly serverRequests?: number;
  /** The machine's busy CPU not spent by this child or its server, in % of 2 cores. */
  readonly othersCpuPct?: number;
}

export interface Row {
  readonly shape: string;
  readonly strategy: StrategyName;
  readonly n: number;
  readonly runs: number;
  readonly ok: number;
  readonly failures: readonly string[];
  readonly boundMs: number;
  readonly wallMs?: number;
  readonly tasksPerS?: number;
  /** Median wall ÷ bound (C calibrated). */
  readonly ratio?: number;
  /** Paired per round: this strategy's wall ÷ sluice's wall, median. */
  readonly vsSluice?: number;
  /** CPU per task of the strategy process (timed run) plus the doc server's per request (ms). */
  readonly cpuPerTaskMs?: number;
  /** Median over runs of wall ÷ max(bound, N × CPU ms/task ÷ 2 cores). */
  readonly machineRatio?: number;
  /** C measured on the worker threads (CPU clock, first task to last ÷ tasks); absent on the main thread. */
  readonly threadCpuMs?: number;
  readonly rssMiB?: number;
  readonly buffered?: number;
  readonly fetching?: number;
  readonly othersCpuPct?: number;
}

const CORES = 2;

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** CPU the 2 cores spent per task on this run: strategy process (timed run) + server per request. */
export function cpuPerTask(r: RunRecord): number | undefined {
  if (r.result === undefined || r.serverCpuMs === undefined || !r.serverRequests) return undefined;
  return r.result.processCpuMs / r.n + r.serverCpuMs / r.serverRequests;
}

/** max(N·L/k, N·C/T, N × CPU per task ÷ cores): what this run's own CPU bill allows at best. */
export function machineBoundMs(shape: CalibratedShape, r: RunRecord): number | undefined {
  const c = cpuPerTask(r);
  return c === undefined ? undefined : Math.max(boundMs(shape, r.n, shape.calibratedCpuMs), (r.n * c) / CORES);
}

const okRuns = (records: readonly RunRecord[], shape: string, strategy: string) =>
  records.filter((r) => r.shape === shape && r.strategy === strategy && r.status === 'ok' && r.result !== undefined);

/** Median over rounds of f(a, b) where a and b both ran ok on `shape` in the same round. */
export function paired(
  records: readonly RunRecord[],
  shape: string,
  a: string,
  b: string,
  f: (x: ChildResult, y: ChildResult) => number,
): number | undefined {
  const ratios: number[] = [];
  for (const ra of okRuns(records, shape, a)) {
    const rb = okRuns(records, shape, b).find((r) => r.round === ra.round);
    if (rb) ratios.push(f(ra.result!, rb.result!));
  }
  return median(ratios);
}

/** Per round: sluice's wall ÷ the fastest baseline that keeps the service limit k; median, and who was fastest. */
export function vsBestBaseline(records: readonly RunRecord[], shape: string): { ratio?: number; best: string[] } {
  const ratios: number[] = [];
  const best: string[] = [];
  for (const s of okRuns(records, shape, 'sluice')) {
    const rivals = records.filter(
      (r) =>
        r.shape === shape &&
        r.round === s.round &&
        r.strategy !== 'sluice' &&
        !UNLIMITED.includes(r.strategy) &&
        r.status === 'ok' &&
        r.result,
    );
    if (rivals.length === 0) continue;
    const fastest = rivals.reduce((a, b) => (b.result!.wallMs < a.result!.wallMs ? b : a));
    ratios.push(s.result!.wallMs / fastest.result!.wallMs);
    best.push(fastest.strategy);
  }
  const ratio = median(ratios);
  return { ...(ratio !== undefined ? { ratio } : {}), best };
}

export function rows(records: readonly RunRecord[], shapes: readonly CalibratedShape[], strategies: readonly StrategyName[]): Row[] {
  return shapes.flatMap((shape) =>
    strategies.flatMap((strategy): Row[] => {
      const all = records.filter((r) => r.shape === shape.name && r.strategy === strategy);
      if (all.length === 0) return [];
      const ok = okRuns(records, shape.name, strategy);
      const pick = (f: (r: RunRecord) => number | undefined) => median(ok.map(f).filter((x): x is number => x !== undefined));
      const bound = boundMs(shape, shape.runN, shape.calibratedCpuMs);
      const wallMs = pick((r) => r.result!.wallMs);
      const vsSluice = strategy === 'sluice' ? undefined : paired(records, shape.name, strategy, 'sluice', (x, y) => x.wallMs / y.wallMs);
      return [
        {
          shape: shape.name,
          strategy,
          n: shape.runN,
          runs: all.length,
          ok: ok.length,
          failures: all.filter((r) => r.status !== 'ok').map((r) => `round ${r.round}: ${r.status}${r.note ? ` (${r.note})` : ''}`),
          boundMs: bound,
          ...(wallMs !== undefined ? { wallMs, tasksPerS: (shape.runN / wallMs) * 1000, ratio: wallMs / bound } : {}),
          ...opt('vsSluice', strategy === 'sluice' && wallMs !== undefined ? 1 : vsSluice),
          ...opt('cpuPerTaskMs', pick(cpuPerTask)),
          ...opt(
            'machineRatio',
            pick((r) => {
              const m = machineBoundMs(shape, r);
              return m === undefined ? undefined : r.result!.wallMs / m;
            }),
          ),
          ...opt(
            'threadCpuMs',
            pick((r) => r.result!.threadCpuPerTaskMs),
          ),
          ...opt(
            'rssMiB',
            pick((r) => r.result!.maxRssMiB),
          ),
          ...opt(
            'buffered',
            pick((r) => r.result!.peakBuffered),
          ),
          ...opt(
            'fetching',
            pick((r) => r.result!.peakFetching),
          ),
          ...opt(
            'othersCpuPct',
            median(all.flatMap((r) => (r.othersCpuPct !== undefined && Number.isFinite(r.othersCpuPct) ? [r.othersCpuPct] : []))),
          ),
        },
      ];
    }),
  );
}

interface SluiceExtra {
  readonly stages?: readonly { readonly name: string; readonly capacity: number }[];
  readonly buffers?: readonly { readonly name: string; readonly bound: number }[];
}

/**
 * The most payloads sluice may hold fetched-but-unprocessed, from its own stats: every stage but
 * the last may hold finished work in its slots (capacity), plus the buffers between stages.
 */
export function sluiceBufferBound(result: ChildResult): { bound: number; parts: string } | undefined {
  const extra = result.extra as SluiceExtra | undefined;
  if (!extra?.stages || !extra.buffers) return undefined;
  const stages = extra.stages.slice(0, -1);
  const buffers = extra.buffers.filter((b) => b.name !== 'output');
  const bound = [...stages.map((s) => s.capacity), ...buffers.map((b) => b.bound)].reduce((a, b) => a + b, 0);
  const parts = [...stages.map((s) => `${s.name} capacity ${s.capacity}`), ...buffers.map((b) => `${b.name} buffer ${b.bound}`)].join(
    ' + ',
  );
  return { bound, parts };
}
