/**
 * The service simulator for bench scenarios (bench/kit/simulator/: the kit, shared with the
 * tests). Its child entry is compiled once per bench process by the bench's own build
 * (bench/harness/build.ts), so each simulator starts in ~0.3 s, against 1.5–2.5 s for the
 * TypeScript child under tsx on a busy 2-core machine; same code either way, and the sources under
 * tsx are the fallback. The compiled copy is removed when the process exits. This is the bench's
 * one door to the kit: scenarios take the simulator, the online users and their types from here.
 */
import { fileURLToPath } from 'node:url';
import { startSimulator as startKitSimulator, type Simulator, type StartSimulatorOptions } from '../kit/simulator/client.js';
import { compile, type Build } from './build.js';

export type { Simulator, StartSimulatorOptions };
export { startOnlineTraffic, type LatencySummary } from '../kit/simulator/online.js';
export type { SeriesSample, SimulatorStats } from '../kit/simulator/protocol.js';

const CHILD = fileURLToPath(new URL('../kit/simulator/child.ts', import.meta.url));

let built: Promise<Build> | undefined;

/** The compiled simulator child (or its source), built on first use. */
export function simulatorBuild(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<Build> {
  built ??= compile({ 'simulator-child': CHILD }, 'simulator', log).then((b) => {
    process.once('exit', () => b.dispose());
    return b;
  });
  return built;
}

export async function startSimulator(o: StartSimulatorOptions): Promise<Simulator> {
  const b = await simulatorBuild();
  return startKitSimulator(b.mode === 'bundle' ? { ...o, entry: b.file('simulator-child') } : o);
}
