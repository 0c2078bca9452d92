/**
 * `sluice run JOB [flags]`: loads a job module, applies the layered config, runs the job, writes
 * one JSON line per outcome (or rejected input record), and ends with a summary on stderr.
 * Exit codes: 0 every task completed, 1 some failed, 2 bad usage/config/job, 130 interrupted.
 *
 * Life cycle: every check that can refuse the run (flags, config, the input file, the output
 * path, the job, its settings, the metrics port) passes before the output is opened, so a refused
 * run leaves the user's output file as it was. Once the job has loaded, every exit path closes
 * what was opened and calls the job's `close()` (each with a bounded wait, see shutdown.ts).
 *
 * First SIGINT/SIGTERM drains (nothing new is pulled, what runs finishes and is written); a second
 * one aborts what is in flight (see stop.ts). Outcome lines go out in batches (100 lines or 20 ms,
 * one write each: io/batch.ts); to `--output FILE`, the run is journaled (`FILE.sluice/`, see
 * journal-plan.ts and run-output.ts): each batch is written, then committed, and every exit path
 * writes (and commits) what is pending before the output is closed. `--retry-failed` runs the
 * failed tasks of a finished run again into a new file renamed over the output (io/retry-file.ts).
 */
import { performance } from 'node:perf_hooks';
import { resolveLanes, SluiceError, type Executor, type Job, type Service } from '../../index.js';
import type { ConfigSource } from '../errors.js';
import type { SluiceConfig } from '../config/schema.js';
import type { CliIo } from '../io.js';
import { countRecords } from '../io/open-input.js';
import { loadJob } from '../job/load.js';
import { jobSession, type JobSession } from '../job/session.js';
import { startMetrics, type MetricsServer } from '../observe/metrics.js';
import { createReporter, resolveLogMode } from '../observe/reporter.js';
import type { RunSnapshot } from '../observe/snapshot.js';
import { RUN_DEFAULTS } from './defaults.js';
import { execute, type RunCounts } from './execute.js';
import { EXIT } from './exit.js';
import type { JournalPlan } from './journal-plan.js';
import { prepareRun } from './prepare.js';
import { createRejectLog } from './rejects.js';
import { endOutput, reportReplaced, reportRun } from './report.js';
import { openRunOutput, type RunOutput } from './run-output.js';
import { createShutdown, type Shutdown } from './shutdown.js';
import { buildLanesPipeline } from './lanes-pipeline.js';
import { buildPipeline } from './pipeline.js';
import { createStopper, FORCED, type Stopper } from './stop.js';
import { knownJobInputSize } from './tasks.js';
import { usageFailure } from './usage.js';
import { messageOf } from '../message.js';

export { EXIT };

export async function runCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const prepared = await prepareRun(argv, io);
  if (typeof prepared === 'number') return prepared;
  const { resolved, jobFile, countable, plan } = prepared;
  const { config, sources } = resolved;

  // While stdout carries outcome lines, the job's and its workers' own output goes to stderr,
  // from the moment its module loads (a console.log at the top of the module included).
  const restoreStdout = config.output === undefined || config.output === '-' ? io.redirectStdout?.() : undefined;
  try {
    let job: Job;
    let jobPath: string;
    try {
      ({ job, path: jobPath } = await loadJob(jobFile, cwd));
    } catch (error) {
      if (error instanceof SluiceError) return usageFailure(io, 'run', error.message);
      throw error;
    }
    // From here on the job's close() is owed, whatever happens.
    const session = jobSession(job, jobFile);
    const shutdown = createShutdown({
      closeJob: () => session.close(),
      err: (line) => io.err(line),
      timeoutMs: RUN_DEFAULTS.closeTimeoutMs,
    });
    let note = (line: string): void => io.err(line);
    const stopper = createStopper({
      note: (line) => note(line),
      settleMs: RUN_DEFAULTS.abortSettleMs,
      running: () => shutdown.resources.executor?.stats().tasks.open,
    });
    const unsubscribe = io.onSignal?.((signal) => stopper.handle(signal));
    try {
      return await runJob({
        io,
        job,
        jobFile,
        jobPath,
        plan,
        session,
        config,
        sources,
        countable,
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
  } finally {
    restoreStdout?.();
  }
}

interface RunContext {
  readonly io: CliIo;
  readonly job: Job;
  readonly jobFile: string;
  /** The job module's absolute path. */
  readonly jobPath: string;
  /** The journal of a run to an output file. */
  readonly plan: JournalPlan | undefined;
  readonly session: JobSession;
  readonly config: SluiceConfig;
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** The input is a regular file: it can be counted in the background without taking records from the run. */
  readonly countable: boolean;
  readonly shutdown: Shutdown;
  readonly stopper: Stopper;
  /** Where notices go once the progress display is up. */
  readonly setNote: (write: (line: string) => void) => void;
}

async function runJob(c: RunContext): Promise<number> {
  const { io, job, config, sources, shutdown, stopper } = c;
  let executor: Executor;
  let services: readonly Service[];
  try {
    const fromConfig = (key: string): boolean => sources[key] !== undefined && sources[key].kind !== 'default';
    const ordered = fromConfig('ordered') || job.options?.ordered === undefined ? config.ordered : job.options.ordered;
    const lanes = resolveLanes(config.lanes);
    const pipeline =
      lanes > 1
        ? await buildLanesPipeline({
            job,
            jobPath: c.jobPath,
            jobFile: c.jobFile,
            lanes,
            config,
            sources,
            stopper,
            options: { outputBuffer: job.options?.outputBuffer, window: job.options?.window, ordered },
          })
        : await buildPipeline(c.session, config, sources, stopper, (built) => ({
            ...job.options,
            stages: built.stages,
            ...(config.buffer !== undefined ? { buffer: config.buffer } : {}),
            ordered,
          }));
    if (pipeline === FORCED) return EXIT.interrupted;
    ({ executor, services } = pipeline);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'run', error.message);
    throw error;
  }
  shutdown.resources.executor = executor;

  const counts: RunCounts = { completed: 0, failed: 0, rejected: 0 };
  let started = performance.now();
  let total: number | undefined = knownJobInputSize(job, config.limit);
  /** Records a resume passed over as settled: done before this run. */
  let skipped = (): number => 0;
  const snapshot = (): RunSnapshot => ({
    elapsedMs: performance.now() - started,
    ...(total !== undefined ? { total } : {}),
    done: counts.completed + counts.failed + counts.rejected + skipped(),
    completed: counts.completed,
    failed: counts.failed + counts.rejected,
    stats: executor.stats(),
    services: services.map((s) => s.stats()),
    draining: stopper.drain.aborted,
  });

  let metrics: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metrics = await startMetrics({ port: config.metricsPort, snapshot, services });
    } catch (error) {
      return usageFailure(io, 'run', `Cannot serve metrics on 127.0.0.1:${config.metricsPort}: ${messageOf(error)}`);
    }
    shutdown.resources.metrics = metrics;
    io.err(`sluice: metrics on ${metrics.url}`);
  }

  // Every check has passed: only now is the journal opened and the output created, cut or truncated.
  let output: RunOutput;
  try {
    const opened = await openRunOutput({
      config,
      plan: c.plan,
      job,
      jobPath: c.jobPath,
      stdout: (line) => io.out(line),
    });
    if ('replaced' in opened) return reportReplaced(io, config.output!, opened.replaced);
    output = opened;
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'run', error.message);
    throw error;
  }
  const { sink, journal } = output;
  shutdown.resources.sink = sink;
  if (journal !== undefined) skipped = () => journal.skipped;
  const outputName = config.output === undefined || config.output === '-' ? 'the output (stdout)' : config.output;

  if (config.input !== undefined && c.countable) {
    // Count in the background: the progress total appears when known; the run does not wait.
    countRecords(config.input, config.inputFormat).then(
      (n) => {
        total = config.limit === undefined ? n : Math.min(n, config.limit);
      },
      () => undefined, // the run itself reports a file that became unreadable
    );
  }

  const logMode = resolveLogMode(config.log, io.stderr);
  const reporter = await createReporter(logMode, {
    snapshot,
    intervalMs: config.logIntervalMs,
    ...(io.stderr ? { stream: io.stderr } : {}),
    write: (line) => io.err(line),
  });
  shutdown.resources.stopReporter = () => reporter.stop();
  c.setNote((line) => reporter.note(line));
  const rejects = createRejectLog((line) => reporter.note(line), RUN_DEFAULTS.rejectsShown);

  started = performance.now();
  reporter.start();
  const result = await execute({
    job,
    executor,
    input: { file: config.input, format: config.inputFormat, limit: config.limit },
    sink,
    metrics,
    stopper,
    counts,
    onRejected: (error) => rejects.add(error),
    ...(journal !== undefined
      ? {
          journal: {
            places: output.places,
            skip: journal.skip,
            suspects: journal.suspects,
            checkpoint: () => journal.sink.checkpoint(),
            commitSize: journal.sink.batchSize,
          },
        }
      : {}),
  });
  const elapsedMs = performance.now() - started;
  stopper.ended();
  // Write and commit what is pending before anything closes; `finish` only when the whole input went through.
  const ended = endOutput(sink, journal?.sink, result);
  await shutdown.close({ stuck: result.stuck });
  return reportRun({
    io,
    logMode,
    job: job.name ?? c.jobFile,
    config,
    elapsedMs,
    counts,
    stats: executor.stats(),
    sink,
    journal,
    stopper,
    error: ended,
    rest: rejects.rest(outputName),
  });
}
