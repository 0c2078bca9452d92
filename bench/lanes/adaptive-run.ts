/**
 * One run of the lanes scenario's adaptive part: a fresh simulator (its own process), a counting
 * pass-through in front of it (./proxy.ts, in this process), and one strategy child
 * (./adaptive-child.ts) in its lanes. As bench/adaptive/run.ts, less the online users: the child
 * and the simulator start side by side; once the child's executor is built (`READY`), the
 * simulator and the pass-through are reset and the child is told to start, all at t = 0; at each
 * phase boundary the simulator's capacity is set; after the last phase the child is told to stop,
 * the simulator's series is read, and the child's report awaited.
 */
import { drainVerdict } from '../adaptive/drain.js';
import { startScenarioSimulator } from '../adaptive/run.js';
import type { Scenario } from '../adaptive/types.js';
import { ChildLineError, lastError, startChild, type Child } from '../harness/child.js';
import type { SeriesSample, Simulator } from '../harness/simulator.js';
import { startCountingProxy, type CountingProxy } from './proxy.js';
import type { AdaptiveChildReport } from './types.js';

const DRAIN_MS = 15_000;

export interface LanesRunRecord {
  readonly round: number;
  readonly strategy: string;
  readonly status: 'ok' | 'crash' | 'timeout' | 'lost';
  readonly note?: string;
  readonly child?: AdaptiveChildReport;
  readonly sim: readonly SeriesSample[];
  /** No online users here (bench/adaptive's metrics take them when there are). */
  readonly online: readonly [];
  /** The most requests from the job the service had in flight at once, from t = 0 (the pass-through's count). */
  readonly serverPeak?: number;
  readonly serverRequests?: number;
}

const sleepUntil = (at: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

export interface RunOptions {
  readonly strategy: string;
  readonly lanes: number;
  readonly round: number;
  readonly sc: Scenario;
  /** `node` arguments that run ./adaptive-child.ts (its compiled copy, or the source under tsx), and its job module's URL. */
  readonly entry: readonly string[];
  readonly job: string;
}

export async function runOnce({ strategy, lanes, round, sc, entry, job }: RunOptions): Promise<LanesRunRecord> {
  const base = { round, strategy, online: [] as const };
  const child: Child = startChild({
    args: [...entry, '--lanes', String(lanes), '--job', job, '--sample-ms', String(sc.sampleMs), '--drain-ms', String(DRAIN_MS)],
    env: { ...process.env, SLUICE_BENCH_LANES_STRATEGY: strategy },
    timeoutMs: 120_000,
  });
  const ready = child.next('READY', 60_000);
  ready.catch(() => undefined);
  let sim: Simulator | undefined;
  let proxy: CountingProxy | undefined;
  try {
    sim = await startScenarioSimulator(sc);
    proxy = await startCountingProxy(sim.url);
    await ready;
    await sim.reset();
    proxy.reset();
    child.send(`START ${proxy.url}`);
    const t0 = performance.now();
    for (const [i, capacity] of sc.capacities.entries()) {
      if (i > 0) await sim.control({ capacity });
      await sleepUntil(t0 + (i + 1) * sc.phaseMs);
    }
    // Listen for the report before anything else is awaited: the child may drain in milliseconds.
    const result = child.next('RESULT', DRAIN_MS + 15_000);
    result.catch(() => undefined);
    child.send('STOP');
    const series = await sim.series();
    let report: AdaptiveChildReport;
    try {
      report = JSON.parse(await result) as AdaptiveChildReport;
    } catch (error) {
      const status = error instanceof ChildLineError && error.reason === 'timeout' ? 'timeout' : 'crash';
      return { ...base, status, note: (error as Error).message, sim: series };
    }
    const { peak, requests } = proxy.counters();
    return {
      ...base,
      ...drainVerdict(report, DRAIN_MS),
      child: report,
      sim: series,
      serverPeak: peak,
      serverRequests: requests,
    };
  } catch (error) {
    const e = await Promise.race([child.exited, new Promise<undefined>((r) => setTimeout(r, 100, undefined))]);
    const why = e !== undefined ? lastError(e.stderr, (error as Error).message) : (error as Error).message;
    return { ...base, status: 'crash', note: why, sim: [] };
  } finally {
    // The child exits once it has reported; if it has not, it gets 5 s after its stdin ends.
    await child.stop(5000);
    await proxy?.close();
    await sim?.close();
  }
}
