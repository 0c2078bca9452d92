/**
 * An executor whose pipeline runs in lanes: P worker threads, each with a copy of the pipeline
 * (./lane-entry.ts) that a lane program builds (./program.ts), fed by the dispatcher
 * (./lanes-runner.ts) that the main thread's run treats as its one stage. The main thread reads
 * the input, keys the tasks, hands them out in batches, reorders outcomes when `ordered`, and
 * yields them; it never touches a payload. The services named here are built on the main thread,
 * which runs their limit algorithms; each lane's copy of a service shares their limits.
 */
import { SluiceOptionError } from '../errors.js';
import { executorOf, type Executor } from '../executor.js';
import { resolveOptions, type ExecutorOptions } from '../options.js';
import type { ServiceOptions } from '../services/options.js';
import type { Service } from '../services/service.js';
import { io } from '../stages/types.js';
import { LanesRunner } from './lanes-runner.js';
import { lanesStats } from './lanes-stats.js';
import { ServiceHub } from './service-hub.js';
import { MAX_LANES } from './threads.js';

export interface LanesExecutorOptions {
  /** How many lanes (worker threads, each with a copy of the pipeline). */
  readonly lanes: number;
  /** The lane program: a module (URL or absolute path) exporting `buildLane` (`BuildLane`). */
  readonly program: string | URL;
  /** What the program is given (structured-cloned to each lane). */
  readonly params?: unknown;
  /** The services the program's `context.service(name, options)` may make, by name: their limits hold across every lane. */
  readonly services?: Readonly<Record<string, ServiceOptions>>;
  /** The options of the run that belong to the main thread. */
  readonly options?: Pick<ExecutorOptions, 'ordered' | 'outputBuffer' | 'window' | 'stopOnError'>;
  /** How long a lane may take to close (finish, close its pipeline and the job's resources) before it is terminated, in ms. @default 10000 */
  readonly closeTimeoutMs?: number;
}

export interface LanesExecutor<T = unknown, R = unknown> extends Executor<T, R> {
  /** The services, as the main thread sees them: over every lane. */
  readonly services: readonly Service[];
}

const STATS_INTERVAL_MS = 250;

/** Starts the lanes and waits until each one built its pipeline; rejects (with every lane closed) when one cannot. */
export async function createLanesExecutor<T = unknown, R = unknown>(o: LanesExecutorOptions): Promise<LanesExecutor<T, R>> {
  if (o === null || typeof o !== 'object') throw new SluiceOptionError('options', 'an object', o);
  if (!Number.isInteger(o.lanes) || o.lanes < 1 || o.lanes > MAX_LANES) {
    throw new SluiceOptionError('lanes', `an integer from 1 to ${MAX_LANES}`, o.lanes);
  }
  const program =
    o.program instanceof URL ? o.program.href : o.program.startsWith('file:') ? o.program : new URL(`file://${o.program}`).href;
  const resolved = resolveOptions({ ...o.options, stages: [io('lanes', () => undefined, { concurrency: 1 })] });
  let runner: LanesRunner | undefined;
  const hub = new ServiceHub(() => runner?.limitsChanged());
  const services = Object.entries(o.services ?? {}).map(([name, options]) => hub.make(name, options));
  runner = new LanesRunner({
    lanes: o.lanes,
    program,
    params: o.params,
    hub,
    statsIntervalMs: STATS_INTERVAL_MS,
    closeTimeoutMs: o.closeTimeoutMs ?? 10_000,
  });
  await runner.start();
  const lanes = runner;
  const inner = executorOf<T, R>(resolved, [lanes]);
  return {
    run: (input, options) => inner.run(input, options),
    stats: () => lanesStats(inner.stats(), lanes.lanes, lanes.counters()),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
    services,
  };
}
