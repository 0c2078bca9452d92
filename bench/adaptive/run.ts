/**
 * One run of the adaptive bench: a fresh simulator (its own child process), the online users
 * (open loop, in this orchestrator process, which does nothing else meanwhile), and one strategy
 * child (bench/adaptive/child.ts, through the bench's child harness). Method: the child and the
 * simulator are started side by side and report ready; the online traffic runs `warmupMs` to open
 * its sockets; then the simulator's counters and series are reset, the online tally is reset and
 * the child is told to start, all at t = 0. At each phase boundary this process sets the
 * simulator's capacity (`control`), and takes the online users' latency summary for the phase's
 * transient (its first third) and its steady part (the rest). After the last phase the child is
 * told to stop, the simulator's 100 ms series is read, and the child's report is awaited.
 */
import { fileURLToPath } from 'node:url';
import { ChildLineError, startChild, type Child } from '../harness/child.js';
import { startOnlineTraffic, startSimulator, type Simulator } from '../harness/simulator.js';
import { drainVerdict } from './drain.js';
import { kindOf } from './strategies.js';
import type { ChildReport, OnlinePhase, RunRecord, Scenario } from './types.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const DRAIN_MS = 15_000;

const sleepUntil = (at: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/** The scenario's service: the simulator at its first phase's capacity, answering 503 past its queue. */
export function startScenarioSimulator(sc: Scenario): Promise<Simulator> {
  return startSimulator({
    capacity: sc.capacities[0]!,
    latencyMs: sc.latencyMs,
    queueBound: sc.queueBound,
    retryAfterS: sc.retryAfterS,
    overloadPenalty: sc.overloadPenalty,
    reject: 503,
    sampleMs: sc.sampleMs,
  });
}

export async function runOnce(strategy: string, round: number, sc: Scenario, rate?: number): Promise<RunRecord> {
  const base = { round, strategy, ...(rate !== undefined ? { rate } : {}) };
  let child: Child | undefined;
  if (kindOf(strategy) !== 'none') {
    const args = ['--strategy', strategy, '--sample-ms', String(sc.sampleMs), '--drain-ms', String(DRAIN_MS)];
    if (rate !== undefined) args.push('--rate', String(rate));
    child = startChild({ args: ['--import', 'tsx', CHILD, ...args] });
  }
  const ready = child ? child.next('READY', 30_000) : Promise.resolve(undefined);
  ready.catch(() => undefined);
  let sim: Simulator;
  try {
    sim = await startScenarioSimulator(sc);
  } catch (error) {
    await child?.stop(0);
    return { ...base, status: 'crash', note: (error as Error).message.split('\n')[0]!, sim: [], online: [] };
  }
  try {
    await ready;
    const online = startOnlineTraffic({ url: sim.url, ratePerSecond: sc.onlineRate });
    await sleepUntil(performance.now() + sc.warmupMs);
    await sim.reset();
    online.reset();
    child?.send(`START ${sim.url}`);
    const t0 = performance.now();
    const phases: OnlinePhase[] = [];
    for (const [i, capacity] of sc.capacities.entries()) {
      const start = t0 + i * sc.phaseMs;
      if (i > 0) await sim.control({ capacity });
      await sleepUntil(start + sc.transientShare * sc.phaseMs);
      const transient = online.snapshot();
      online.reset();
      await sleepUntil(start + sc.phaseMs);
      const steady = online.snapshot();
      online.reset();
      phases.push({ transient, steady });
    }
    // Listen for the report before anything else is awaited: the child may drain in milliseconds.
    const result = child?.next('RESULT', DRAIN_MS + 15_000);
    result?.catch(() => undefined);
    child?.send('STOP');
    const series = await sim.series();
    await online.stop();
    if (!child || !result) return { ...base, status: 'ok', sim: series, online: phases };
    let report: ChildReport;
    try {
      report = JSON.parse(await result) as ChildReport;
    } catch (error) {
      const status = error instanceof ChildLineError && error.reason === 'timeout' ? 'timeout' : 'crash';
      return { ...base, status, note: (error as Error).message, sim: series, online: phases };
    }
    return {
      ...base,
      ...drainVerdict(report, DRAIN_MS),
      child: report,
      sim: series,
      online: phases,
    };
  } catch (error) {
    return { ...base, status: 'crash', note: (error as Error).message, sim: [], online: [] };
  } finally {
    // The child exits once it has reported; if it has not, it gets 5 s after its stdin ends.
    await child?.stop(5000);
    await sim.close();
  }
}
