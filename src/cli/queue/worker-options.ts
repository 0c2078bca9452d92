/**
 * The command line of `sluice worker`: the flags it takes (some of `sluice run`'s, every queue
 * flag, `--exit-when-drained`), its help text, and the worker options the resolved config gives
 * (lock and stall settings, the queue-wide limits).
 */
import type { QueueWorkerOptions } from '../../index.js';
import type { SluiceConfig } from '../config/schema.js';
import { formatSource, SluiceUsageError, type ConfigSource } from '../errors.js';
import { DEFAULT_REDIS, type QueueCommandSpec, queueFlagsHelp } from './args.js';

export const WORKER_SPEC: QueueCommandSpec = {
  runFlags: ['threads', 'io', 'buffer', 'timeout', 'log', 'log-interval', 'metrics-port', 'lanes', 'config'],
  queueFlags: ['queue', 'redis', 'prefix', 'lock-duration', 'stalled-interval', 'max-stalled', 'global-concurrency', 'global-rate'],
  booleans: {
    'exit-when-drained':
      "end once nothing is waiting or delayed and the only active jobs are this worker's (without it: run until a signal)",
  },
  helpText: {
    lanes:
      "1 only: lanes apply to `sluice run` only, a worker runs the job's pipeline on its main thread " +
      "(run more workers instead); the config file's or SLUICE_LANES' value is ignored, with a notice",
  },
};

export const WORKER_USAGE =
  'Usage: sluice worker JOB --queue NAME [options]   (JOB: the job module the queue was enqueued with, `sluice enqueue`)';

const NOTES = [
  "Runs the job's pipeline with the queue as its input: a task is claimed only when the first stage has room, and each",
  "outcome is stored on the queue as its job's result (read them with `sluice results --queue NAME`).",
  `Redis: --redis URL (no password), or SLUICE_REDIS_URL / the config file's "redis" (with one); default ${DEFAULT_REDIS}.`,
  'Signals: a first SIGINT/SIGTERM stops claiming and finishes the held tasks; a second aborts them and hands their jobs',
  'back to waiting; a third exits at once.',
  'Exit codes: 0 drained (--exit-when-drained), 1 the run failed, 2 bad usage/config/job or the queue refused',
  "(nothing enqueued, another job's queue, Redis unreachable), 130 stopped by a signal.",
];

/** The help text of `sluice worker`. */
export function workerHelp(): string[] {
  return [WORKER_USAGE, ...NOTES, '', ...queueFlagsHelp(WORKER_SPEC)];
}

/** A queue-wide rate as BullMQ takes it: `N/s`, `N/m` or `N/MSms` (checked by the config schema). */
export function parseGlobalRate(text: string): { readonly max: number; readonly durationMs: number } {
  const match = /^([1-9][0-9]*)\/(?:(s)|(m)|([1-9][0-9]*)ms)$/.exec(text);
  if (match === null) throw new SluiceUsageError(`global rate ${JSON.stringify(text)}: expected N/s, N/m or N/MSms (N >= 1)`);
  const durationMs = match[2] !== undefined ? 1000 : match[3] !== undefined ? 60_000 : Number(match[4]);
  return { max: Number(match[1]), durationMs };
}

/** The worker options the config sets. */
export function workerSettings(
  config: SluiceConfig,
): Pick<QueueWorkerOptions, 'lockDurationMs' | 'stalledIntervalMs' | 'maxStalledCount' | 'globalConcurrency' | 'globalRate'> {
  return {
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    maxStalledCount: config.maxStalled,
    ...(config.globalConcurrency !== undefined ? { globalConcurrency: config.globalConcurrency } : {}),
    ...(config.globalRate !== undefined ? { globalRate: parseGlobalRate(config.globalRate) } : {}),
  };
}

/**
 * The worker runs one pipeline on its main thread: lanes apply to `sluice run` only. `--lanes`
 * other than 1 is refused (a SluiceUsageError); a config file or SLUICE_LANES shared with `sluice
 * run` that sets it is ignored, and the notice saying so is returned (undefined when lanes is 1).
 */
export function workerLanes(config: SluiceConfig, sources: Readonly<Record<string, ConfigSource>>): string | undefined {
  if (config.lanes === 1) return undefined;
  const source = sources.lanes ?? { kind: 'default' };
  const value = String(config.lanes);
  if (source.kind === 'flag') {
    throw new SluiceUsageError(
      `${source.name} ${value}: lanes apply to \`sluice run\` only; a worker runs the job's pipeline on its main thread ` +
        '(run more workers for more cores, or leave --lanes out)',
    );
  }
  return `sluice worker: ignoring \`lanes\` ${value} (${formatSource(source)}): lanes apply to \`sluice run\` only; this worker runs one pipeline on its main thread`;
}
