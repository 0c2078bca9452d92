/**
 * One run of the adaptive bench: a fresh simulator (its own child process), the online users
 * (open loop, in this orchestrator process, which does nothing else meanwhile), and one strategy
 * child. Method: the child and the simulator are started side by side and report ready; the online
 * traffic runs `warmupMs` to open its sockets; then the simulator's counters and series are reset, the online tally is reset and
 * the child is told to start, all at t = 0. At each phase boundary this process sets the
 * simulator's capacity (`control`), and takes the online users' latency summary for the phase's
 * transient (its first third) and its steady part (the rest). After the last phase the child is
 * told to stop, the simulator's 100 ms series is read, and the child's report is awaited.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Simulator } from '../../src/simulator/client.js';
import { startOnlineTraffic } from '../../src/simulator/online.js';
import { kindOf } from './strategies.js';
import type { ChildReport, FromChild, OnlinePhase, RunRecord, Scenario } from './types.js';
import { startSimulator } from '../suite/simulator.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const DRAIN_MS = 15_000;


const sleepUntil = (at: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

function nextMessage<T extends FromChild['type']>(child: ChildProcess, type: T, timeoutMs: number, stderr: () => string): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (error?: Error, m?: Extract<FromChild, { type: T }>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit);
      if (error) reject(error);
      else resolve(m!);
    };
    const onMessage = (m: FromChild): void => {
      if (m.type === type) done(undefined, m as Extract<FromChild, { type: T }>);
    };
    // 'exit' can come before the last IPC message is read: give the channel a moment to deliver it.
    const onExit = (code: number | null, signal: string | null): void =>
      void setTimeout(() => done(new Error(`child exited (${code ?? signal}) before "${type}": ${lastError(stderr())}`)), 1000);
    const timer = setTimeout(() => done(Object.assign(new Error(`no "${type}" within ${timeoutMs} ms`), { timeout: true })), timeoutMs);
    child.on('message', onMessage).on('exit', onExit);
  });
}

function lastError(text: string): string {
  const lines = text.trim().split('\n');
  return (lines.filter((l) => /Error|error/.test(l)).pop() ?? lines.pop() ?? '').trim().slice(0, 200);
}

export async function runOnce(strategy: string, round: number, sc: Scenario, rate?: number): Promise<RunRecord> {
  const base = { round, strategy, ...(rate !== undefined ? { rate } : {}) };
  let child: ChildProcess | undefined;
  let stderr = '';
  if (kindOf(strategy) !== 'none') {
    const args = ['--strategy', strategy, '--sample-ms', String(sc.sampleMs), '--drain-ms', String(DRAIN_MS)];
    if (rate !== undefined) args.push('--rate', String(rate));
    child = fork(CHILD, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  }
  const ready = child ? nextMessage(child, 'ready', 30_000, () => stderr) : Promise.resolve(undefined);
  ready.catch(() => undefined);
  let sim: Simulator;
  try {
    sim = await startSimulator({
      capacity: sc.capacities[0]!,
      latencyMs: sc.latencyMs,
      queueBound: sc.queueBound,
      retryAfterS: sc.retryAfterS,
      overloadPenalty: sc.overloadPenalty,
      reject: 503,
      sampleMs: sc.sampleMs,
    });
  } catch (error) {
    child?.kill('SIGKILL');
    return { ...base, status: 'crash', note: (error as Error).message.split('\n')[0]!, sim: [], online: [] };
  }
  try {
    await ready;
    const online = startOnlineTraffic({ url: sim.url, ratePerSecond: sc.onlineRate });
    await sleepUntil(performance.now() + sc.warmupMs);
    await sim.reset();
    online.reset();
    child?.send({ type: 'start', url: sim.url });
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
    const result = child ? nextMessage(child, 'result', DRAIN_MS + 15_000, () => stderr) : undefined;
    result?.catch(() => undefined);
    child?.send({ type: 'stop' });
    const series = await sim.series();
    await online.stop();
    if (!child || !result) return { ...base, status: 'ok', sim: series, online: phases };
    let report: ChildReport;
    try {
      report = (await result).report;
    } catch (error) {
      const status = (error as { timeout?: boolean }).timeout ? 'timeout' : 'crash';
      return { ...base, status, note: (error as Error).message, sim: series, online: phases };
    }
    const lost = report.pulled - report.completed - report.failed - report.aborted;
    const notes = [
      ...(lost !== 0 ? [`${lost} task(s) pulled without an outcome`] : []),
      ...(report.aborted > 0 ? [`drain took over ${DRAIN_MS} ms: ${report.aborted} aborted`] : []),
    ];
    return { ...base, status: lost !== 0 ? 'lost' : 'ok', ...(notes.length ? { note: notes.join('; ') } : {}), child: report, sim: series, online: phases };
  } catch (error) {
    return { ...base, status: 'crash', note: (error as Error).message, sim: [], online: [] };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      const force = setTimeout(() => child!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
    }
    await sim.close();
  }
}
