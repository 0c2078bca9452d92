/**
 * Per-phase figures of one adaptive-bench run, from the child's and the simulator's 100 ms series:
 *
 * - throughput: the batch's completed tasks per second over the phase's steady part (after its
 *   first `transientShare`), from the cumulative counts at the part's ends (linear interpolation);
 * - limit, in-flight attempts and HTTP requests outstanding: means of the samples in the steady part;
 * - service queue: mean of the sampled queue length in the steady part, and the longest queue seen
 *   in the whole phase (the sampler keeps the maximum between samples);
 * - 503s: rejections by the service during the whole phase (both routes; the online share is in
 *   the online errors);
 * - online p50/p99: the online users' summary for the steady part, and p99 of the transient;
 * - recovery: after the phase starts (a capacity change, or the job's start for the first phase),
 *   the end of the first 1 s window from which every 1 s throughput window (step: one sample)
 *   ending in the phase stays within ±10% of the phase's steady throughput; minus the phase start.
 */
import type { SeriesSample } from '../harness/simulator.js';
import type { ChildSample, RunRecord, Scenario } from './types.js';

export interface PhaseMetrics {
  readonly capacity: number;
  readonly throughput?: number;
  readonly limit?: number;
  readonly inFlight?: number;
  /** HTTP requests outstanding (mean over the steady part). */
  readonly outstanding?: number;
  readonly queueMean?: number;
  readonly queueMax?: number;
  readonly rejected?: number;
  readonly onlineP50?: number;
  readonly onlineP99?: number;
  readonly onlineP99Transient?: number;
  /** Online requests that failed (503, timeouts, errors), transient and steady. */
  readonly onlineErrors?: number;
  readonly recoveryMs?: number;
}

/** The value of `key` at time t, interpolated between the samples around it. */
export function at<S extends { readonly t: number }>(series: readonly S[], t: number, key: (s: S) => number): number | undefined {
  if (series.length === 0) return undefined;
  const i = series.findIndex((s) => s.t >= t);
  if (i === -1) return key(series[series.length - 1]!);
  if (i === 0) return key(series[0]!);
  const [a, b] = [series[i - 1]!, series[i]!];
  const f = (t - a.t) / (b.t - a.t);
  return key(a) + (key(b) - key(a)) * f;
}

const mean = (xs: readonly number[]): number | undefined => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

/** Completions per second over [from, to]. */
export function rate(series: readonly ChildSample[], from: number, to: number): number | undefined {
  const a = at(series, from, (s) => s.completed);
  const b = at(series, to, (s) => s.completed);
  return a === undefined || b === undefined || to <= from ? undefined : ((b - a) * 1000) / (to - from);
}

/** The 1 s rolling throughput at every sample from t = 1 s. */
export function rolling(series: readonly ChildSample[]): { t: number; v: number }[] {
  return series.filter((s) => s.t >= 1000).map((s) => ({ t: s.t, v: rate(series, s.t - 1000, s.t) ?? 0 }));
}

export function recoveryMs(series: readonly ChildSample[], start: number, end: number, steady: number): number | undefined {
  if (!(steady > 0)) return undefined;
  const windows = rolling(series).filter((w) => w.t > start && w.t <= end);
  if (windows.length === 0) return undefined;
  let lastBad = -1;
  windows.forEach((w, i) => {
    if (Math.abs(w.v - steady) > 0.1 * steady) lastBad = i;
  });
  const first = windows[lastBad + 1];
  return first === undefined ? undefined : first.t - start;
}

function simPhase(sim: readonly SeriesSample[], start: number, steadyFrom: number, end: number) {
  const inPhase = sim.filter((s) => s.t > start && s.t <= end);
  const steady = inPhase.filter((s) => s.t > steadyFrom);
  const rejected = (at(sim, end, (s) => s.rejectedTotal) ?? 0) - (at(sim, start, (s) => s.rejectedTotal) ?? 0);
  return {
    ...(steady.length ? { queueMean: mean(steady.map((s) => s.queueLength))! } : {}),
    ...(inPhase.length ? { queueMax: Math.max(...inPhase.map((s) => s.maxQueueLength)), rejected: Math.round(rejected) } : {}),
  };
}

export function phaseMetrics(rec: RunRecord, sc: Scenario): PhaseMetrics[] {
  return sc.capacities.map((capacity, i) => {
    const start = i * sc.phaseMs;
    const end = start + sc.phaseMs;
    const steadyFrom = start + sc.transientShare * sc.phaseMs;
    const online = rec.online[i];
    const series = rec.child?.series ?? [];
    const steadySamples = series.filter((s) => s.t > steadyFrom && s.t <= end);
    const throughput = rec.child ? rate(series, steadyFrom, end) : undefined;
    const recovery = throughput !== undefined ? recoveryMs(series, start, end, throughput) : undefined;
    const opt = (key: string, v: number | null | undefined) => (v === undefined || v === null ? {} : { [key]: v });
    return {
      capacity,
      ...opt('throughput', throughput),
      ...opt('limit', mean(steadySamples.map((s) => s.limit))),
      ...opt('inFlight', mean(steadySamples.map((s) => s.inFlight))),
      ...opt('outstanding', mean(steadySamples.map((s) => s.outstanding))),
      ...simPhase(rec.sim, start, steadyFrom, end),
      ...opt('onlineP50', online?.steady.p50),
      ...opt('onlineP99', online?.steady.p99),
      ...opt('onlineP99Transient', online?.transient.p99),
      ...opt('onlineErrors', online ? online.transient.errors + online.steady.errors : undefined),
      ...opt('recoveryMs', recovery),
    } as PhaseMetrics;
  });
}
