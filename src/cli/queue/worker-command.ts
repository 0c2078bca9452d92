/**
 * `sluice worker JOB --queue NAME [flags]`: runs a job's pipeline with a queue as its input, on
 * this node, until a signal stops it or (`--exit-when-drained`) the queue is drained. Built like
 * `sluice run` (the layered config, the job's services, `setup` and `stages`, the executor with
 * `ordered: false`), then the library's `startQueueWorker`: a task is claimed only when the first
 * stage has room, and each outcome is stored on the queue as its job's result.
 *
 * Life cycle: every check that can refuse (flags, config, the job, its settings, the metrics port,
 * the queue: Redis unreachable, nothing enqueued, another job's queue) exits 2 before a task is
 * claimed. Once the job has loaded, every exit path closes the executor and the metrics server and
 * calls the job's `close()` (each bounded, see run/shutdown.ts); once the worker has started, it
 * has stopped (held jobs stored or handed back, its connections closed) before they close.
 *
 * First SIGINT/SIGTERM: the worker stops claiming and finishes what it holds (stored as usual);
 * a second: what runs is aborted and the held jobs go back to waiting for other workers (if the
 * tasks ignore the abort, the command stops waiting after a bounded time and their jobs come back
 * when their locks expire); a third exits at once (the bin's). Exit codes: 0 drained, 1 the run
 * failed, 2 bad usage/config/job or a queue refusal, 130 stopped by a signal.
 *
 * Progress, `--log json` lines and metrics are `sluice run`'s with the worker's figures added (the
 * jobs it holds, the queue's depth by state); each event of the queue (Redis lost and back, a lock
 * lost, a late outcome dropped, a job failed after too many stalls) is a notice on stderr. Every
 * line written is redacted: a Redis password never shows.
 */
import { performance } from 'node:perf_hooks';
import {
  describeConnection,
  type Executor,
  type Job,
  type Outcome,
  type QueuedTask,
  type QueueJobIdentity,
  type QueueTarget,
  type QueueWorker,
  type QueueWorkerOptions,
  type QueueWorkerResult,
  redact,
  type Service,
  SluiceAbortError,
  SluiceError,
  SluiceQueueError,
  startQueueWorker,
} from '../../index.js';
import type { ConfigSource } from '../errors.js';
import { resolveConfig } from '../config/resolve.js';
import type { SluiceConfig } from '../config/schema.js';
import type { CliIo } from '../io.js';
import { loadJob } from '../job/load.js';
import { jobSession, type JobSession } from '../job/session.js';
import { messageOf } from '../message.js';
import { startMetrics, type MetricsServer } from '../observe/metrics.js';
import { createReporter, resolveLogMode } from '../observe/reporter.js';
import type { RunSnapshot } from '../observe/snapshot.js';
import { within } from '../run/bounded.js';
import { RUN_DEFAULTS } from '../run/defaults.js';
import { EXIT } from '../run/exit.js';
import { jobErrorLines, jobErrorOf } from '../run/job-error.js';
import { createShutdown, type Shutdown } from '../run/shutdown.js';
import { buildPipeline } from '../run/pipeline.js';
import { createStopper, FORCED, type Stopper } from '../run/stop.js';
import { usageFailure } from '../run/usage.js';
import { parseQueueArgs, passwordOfUrl, queueJobIdentity, queueTarget } from './args.js';
import { WORKER_SPEC, WORKER_USAGE, workerHelp, workerLanes, workerSettings } from './worker-options.js';
import { eventLine, formatWorkerSummary } from './worker-report.js';

/** How long a worker that must stop (an exit path it did not end on by itself) may take to hand its jobs back. */
const WORKER_STOP_MS = 15_000;

export async function workerCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  // The passwords every line is cleaned of: the environment's at once, the config file's once read.
  const secrets = passwordsOf([env.SLUICE_REDIS_URL]);
  const err = (line: string): void => io.err(redact(line, secrets));

  let jobFile: string;
  let config: SluiceConfig;
  let sources: Readonly<Record<string, ConfigSource>>;
  let target: QueueTarget;
  let settings: ReturnType<typeof workerSettings>;
  let exitWhenDrained: boolean;
  try {
    const parsed = parseQueueArgs(argv, WORKER_SPEC);
    if (parsed.help) {
      for (const line of workerHelp()) io.out(line);
      return EXIT.ok;
    }
    if (parsed.positionals.length !== 1) {
      return usageFailure({ err }, 'worker', `expected one job module, got ${parsed.positionals.length}`, WORKER_USAGE);
    }
    jobFile = parsed.positionals[0]!;
    exitWhenDrained = parsed.booleans['exit-when-drained'] === true;
    const resolved = await resolveConfig({ flags: parsed.flags, env, cwd });
    ({ config, sources } = resolved);
    secrets.push(...passwordsOf([config.redis]));
    // Lanes are `sluice run`'s: --lanes N is refused, a shared file's or SLUICE_LANES' value ignored with a notice.
    const lanesNotice = workerLanes(config, sources);
    if (lanesNotice !== undefined) {
      err(lanesNotice);
      config = Object.freeze({ ...config, lanes: 1 });
    }
    target = queueTarget(config);
    settings = workerSettings(config);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure({ err }, 'worker', error.message, WORKER_USAGE);
    throw error;
  }

  let job: Job;
  let identity: QueueJobIdentity;
  try {
    const loaded = await loadJob(jobFile, cwd);
    job = loaded.job;
    identity = await queueJobIdentity(job, loaded.path);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure({ err }, 'worker', error.message);
    throw error;
  }
  // From here on the job's close() is owed, whatever happens.
  const session = jobSession(job, jobFile);
  const shutdown = createShutdown({ closeJob: () => session.close(), err, timeoutMs: RUN_DEFAULTS.closeTimeoutMs, command: 'worker' });
  let note = err;
  const stopper = createStopper({
    note: (line) => note(line),
    settleMs: RUN_DEFAULTS.abortSettleMs,
    running: () => shutdown.resources.executor?.stats().tasks.open,
  });
  const unsubscribe = io.onSignal?.((signal) => stopper.handle(signal));
  try {
    return await work({
      io,
      err,
      secrets,
      job,
      jobFile,
      identity,
      session,
      config,
      sources,
      target,
      settings,
      exitWhenDrained,
      shutdown,
      stopper,
      setNote: (write) => {
        note = write;
      },
    });
  } finally {
    stopper.ended();
    await shutdown.close();
    unsubscribe?.();
  }
}

interface WorkerContext {
  readonly io: CliIo;
  /** One line to stderr, redacted. */
  readonly err: (line: string) => void;
  readonly secrets: readonly string[];
  readonly job: Job;
  readonly jobFile: string;
  readonly identity: QueueJobIdentity;
  readonly session: JobSession;
  readonly config: SluiceConfig;
  readonly sources: Readonly<Record<string, ConfigSource>>;
  readonly target: QueueTarget;
  readonly settings: ReturnType<typeof workerSettings>;
  readonly exitWhenDrained: boolean;
  readonly shutdown: Shutdown;
  readonly stopper: Stopper;
  /** Where notices go once the progress display is up. */
  readonly setNote: (write: (line: string) => void) => void;
}

async function work(c: WorkerContext): Promise<number> {
  const { io, err, job, config, shutdown, stopper } = c;
  let executor: Executor;
  let services: readonly Service[];
  try {
    const pipeline = await buildPipeline(c.session, config, c.sources, stopper, (built) => ({
      ...job.options,
      stages: built.stages,
      ...(config.buffer !== undefined ? { buffer: config.buffer } : {}),
      // Each outcome is stored on its own: no order to keep.
      ordered: false,
    }));
    if (pipeline === FORCED) return EXIT.interrupted;
    ({ executor, services } = pipeline);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure({ err }, 'worker', error.message);
    throw error;
  }
  shutdown.resources.executor = executor;
  if (stopper.drain.aborted) {
    err('sluice worker: stopped before it started; no task was claimed');
    return EXIT.interrupted;
  }

  // Notices (signals, the queue's events) go to stderr, then through the progress display once it is up.
  let note = err;
  c.setNote((line) => note(line));
  let worker: QueueWorker | undefined;
  let started = performance.now();
  const snapshot = (): RunSnapshot => {
    const st = worker?.stats();
    const completed = st?.completed ?? 0;
    const failed = st?.failed ?? 0;
    return {
      elapsedMs: performance.now() - started,
      done: completed + failed,
      completed,
      failed,
      stats: executor.stats(),
      services: services.map((s) => s.stats()),
      draining: stopper.drain.aborted,
      queue: {
        held: st?.held ?? 0,
        peakHeld: st?.peakHeld ?? 0,
        claimed: st?.claimed ?? 0,
        handedBack: st?.handedBack ?? 0,
        dropped: st?.dropped ?? 0,
        ...(st?.queue !== undefined ? { jobs: st.queue } : {}),
      },
    };
  };

  let metrics: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metrics = await startMetrics({ port: config.metricsPort, snapshot, services });
    } catch (error) {
      return usageFailure({ err }, 'worker', `Cannot serve metrics on 127.0.0.1:${config.metricsPort}: ${messageOf(error)}`);
    }
    shutdown.resources.metrics = metrics;
    err(`sluice: metrics on ${metrics.url}`);
  }

  // The job's onOutcome failing ends the work as it ends `sluice run`: no new claims, exit 1.
  const failing = new AbortController();
  let hookError: unknown;
  const hookFailed = (error: unknown): void => {
    if (hookError !== undefined) return;
    hookError = error;
    failing.abort();
  };
  const onOutcome = (outcome: Outcome, task: QueuedTask): void => {
    metrics?.recordOutcome(outcome.ok ? { ok: true } : { ok: false, stage: outcome.stage });
    if (job.onOutcome === undefined || hookError !== undefined) return;
    try {
      const hook = job.onOutcome({ ...outcome, index: task.index });
      if (hook !== undefined) Promise.resolve(hook).catch(hookFailed);
    } catch (error) {
      hookFailed(error);
    }
  };

  const shownAs = describeConnection(c.target.connection);
  // An exit path the worker did not end on by itself (a throw below) stops it with an abort.
  const stopping = new AbortController();
  const options: QueueWorkerOptions = {
    ...c.target,
    ...c.settings,
    executor,
    job: c.identity,
    drain: AbortSignal.any([stopper.drain, failing.signal]),
    signal: AbortSignal.any([stopper.abort, stopping.signal]),
    exitWhenDrained: c.exitWhenDrained,
    onOutcome,
    onEvent: (event) => {
      // Before the worker started, a Redis that cannot be reached is the refusal's to report.
      if (worker !== undefined || event.type !== 'redis-error') note(eventLine(event, shownAs));
    },
  };
  try {
    const starting = startQueueWorker(options);
    const startedWorker = await stopper.race(starting);
    if (startedWorker === FORCED) {
      // It ends on its own once started: both of its stop signals are aborted.
      starting.catch(() => undefined);
      return EXIT.interrupted;
    }
    worker = startedWorker;
  } catch (error) {
    if (error instanceof SluiceQueueError) {
      err(`sluice worker: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof SluiceError) return usageFailure({ err }, 'worker', error.message);
    throw error;
  }

  let result: QueueWorkerResult | typeof FORCED | undefined;
  try {
    err(`sluice worker: ${worker.id} on queue ${c.target.queue} at ${shownAs}${c.exitWhenDrained ? ' (until drained)' : ''}`);
    const logMode = resolveLogMode(config.log, io.stderr);
    const reporter = await createReporter(logMode, {
      snapshot,
      intervalMs: config.logIntervalMs,
      ...(io.stderr ? { stream: io.stderr } : {}),
      write: err,
    });
    shutdown.resources.stopReporter = () => reporter.stop();
    note = (line) => reporter.note(redact(line, c.secrets));

    started = performance.now();
    reporter.start();
    result = await stopper.race(worker.done);
    const elapsedMs = performance.now() - started;
    stopper.ended();
    await shutdown.close({ stuck: result === FORCED });

    const ended = result === FORCED ? undefined : result;
    const runError = ended?.error instanceof SluiceAbortError ? undefined : ended?.error;
    const error = runError ?? hookError;
    const jobError = jobErrorOf(error);
    if (jobError !== undefined) for (const line of jobErrorLines(jobError)) err(line.replace(/^sluice run:/, 'sluice worker:'));
    else if (error !== undefined) {
      err(`sluice worker: the run ended early: ${hookError === error ? "the job's onOutcome failed: " : ''}${messageOf(error)}`);
    }
    if (logMode !== 'none') {
      const summary = formatWorkerSummary(
        {
          job: job.name ?? c.jobFile,
          queue: c.target.queue,
          redis: shownAs,
          worker: worker.id,
          reason: ended?.reason ?? 'forced',
          elapsedMs,
          stats: ended?.stats ?? worker.stats(),
          interruptedBy: stopper.interruptedBy,
          error,
        },
        logMode === 'json',
      );
      for (const line of summary) err(line);
    }
    if (jobError !== undefined) return EXIT.usage;
    if (stopper.interruptedBy !== undefined) return EXIT.interrupted;
    if (error !== undefined || ended?.reason !== 'drained') return EXIT.failed;
    return EXIT.ok;
  } finally {
    if (result === undefined) {
      // Left by a throw: stop the worker (held jobs back to waiting) before the executor closes.
      stopping.abort();
      await within(worker.done, WORKER_STOP_MS);
    }
  }
}

/** The passwords of the Redis URLs given, for `redact`. */
function passwordsOf(urls: readonly (string | undefined)[]): string[] {
  return urls.map(passwordOfUrl).filter((p): p is string => p !== undefined);
}
