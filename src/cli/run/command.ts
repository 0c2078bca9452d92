/**
 * `sluice run JOB [flags]`: loads a job module, applies the layered config, runs the job, writes
 * one JSON line per outcome (or rejected input record), and ends with a summary on stderr.
 * Exit codes: 0 every task completed, 1 some failed, 2 bad usage/config/job, 130 interrupted.
 *
 * First SIGINT/SIGTERM drains (nothing new is pulled, what runs finishes and is written); a second
 * one aborts what is in flight. Each outcome line is written synchronously as it arrives, so
 * whatever completed is on disk in both cases.
 */
import { performance } from 'node:perf_hooks';
import {
  createExecutor,
  SluiceAbortError,
  SluiceError,
  type Executor,
  type ExecutorOptions,
  type Outcome,
  type Service,
} from '../../index.js';
import { parseRunArgs, runFlagsHelp } from '../config/flags.js';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { CliIo } from '../io.js';
import { countRecords } from '../io/open-input.js';
import { inputErrorLine, outcomeLine } from '../io/outcome-line.js';
import { openOutput, type OutcomeSink } from '../io/output.js';
import { loadJob } from '../job/load.js';
import { jobSession, type JobSession } from '../job/session.js';
import { startMetrics, type MetricsServer } from '../observe/metrics.js';
import { createReporter, resolveLogMode, type Reporter } from '../observe/reporter.js';
import type { RunSnapshot } from '../observe/snapshot.js';
import { formatSummary, type RunSummary } from './summary.js';
import { knownJobInputSize, taskSource } from './tasks.js';
import { usageFailure } from './usage.js';

export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, interrupted: 130 });

const USAGE_LINE = 'Usage: sluice run JOB [options]   (JOB: a .js or .ts module whose default export is defineJob({...}))';

export async function runCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  let resolved: ResolvedConfig;
  let jobFile: string;
  try {
    const parsed = parseRunArgs(argv);
    if (parsed.help) {
      io.out(USAGE_LINE);
      io.out('');
      for (const line of runFlagsHelp()) io.out(line);
      return EXIT.ok;
    }
    if (parsed.positionals.length !== 1) {
      return usageFailure(io, 'run', `expected one job module, got ${parsed.positionals.length}`, USAGE_LINE);
    }
    jobFile = parsed.positionals[0]!;
    resolved = await resolveConfig({ flags: parsed.flags, env, cwd });
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'run', error.message, USAGE_LINE);
    throw error;
  }
  const { config, sources } = resolved;

  let executor: Executor;
  let services: readonly Service[];
  let jobName: string;
  let job: Awaited<ReturnType<typeof loadJob>>['job'];
  let session: JobSession;
  try {
    const loaded = await loadJob(jobFile, cwd);
    job = loaded.job;
    session = jobSession(job);
    jobName = job.name ?? jobFile;
    const built = await session.build(config, sources);
    services = Object.values(built.services);
    const fromConfig = (key: string): boolean => sources[key] !== undefined && sources[key].kind !== 'default';
    const options: ExecutorOptions = {
      ...job.options,
      stages: built.stages,
      ...(config.buffer !== undefined ? { buffer: config.buffer } : {}),
      ...(fromConfig('ordered') || job.options?.ordered === undefined ? { ordered: config.ordered } : {}),
    };
    executor = createExecutor(options);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'run', error.message);
    throw error;
  }

  let sink: OutcomeSink;
  try {
    sink = openOutput(config.output, (line) => io.out(line));
  } catch (error) {
    await executor.close();
    if (error instanceof SluiceError) return usageFailure(io, 'run', error.message);
    throw error;
  }

  const started = performance.now();
  let completed = 0;
  let failed = 0;
  let rejected = 0;
  let total: number | undefined = knownJobInputSize(job, config.limit);
  let interruptedBy: string | undefined;
  const drain = new AbortController();
  const abort = new AbortController();
  // The file line of each open task: the executor numbers tasks in pull order, from 0.
  const lineOf = new Map<number, number>();
  let pulled = 0;

  if (config.input !== undefined) {
    // Count in the background: the progress total appears when known; the run does not wait.
    countRecords(config.input, config.inputFormat).then(
      (n) => {
        total = config.limit === undefined ? n : Math.min(n, config.limit);
      },
      () => undefined, // the run itself reports an unreadable file
    );
  }

  const snapshot = (): RunSnapshot => ({
    elapsedMs: performance.now() - started,
    ...(total !== undefined ? { total } : {}),
    done: completed + failed + rejected,
    completed,
    failed: failed + rejected,
    stats: executor.stats(),
    services: services.map((s) => s.stats()),
    draining: drain.signal.aborted,
  });

  let metrics: MetricsServer | undefined;
  const logMode = resolveLogMode(config.log, io.stderr);
  const reporter: Reporter = createReporter(logMode, {
    snapshot,
    intervalMs: config.logIntervalMs,
    ...(io.stderr ? { stream: io.stderr } : {}),
    write: (line) => io.err(line),
  });

  const onSignal = (signal: string): void => {
    if (!drain.signal.aborted) {
      interruptedBy = signal;
      io.err(`sluice: ${signal}: no new tasks; finishing the ones in flight (${signal} again to abort them)`);
      drain.abort();
    } else if (!abort.signal.aborted) {
      io.err(`sluice: ${signal} again: aborting the tasks in flight`);
      abort.abort(new Error(`interrupted by a second ${signal}`));
    }
  };
  const unsubscribe = io.onSignal?.(onSignal);

  let runError: unknown;
  try {
    if (config.metricsPort !== undefined) {
      metrics = await startMetrics({ port: config.metricsPort, snapshot, services });
      io.err(`sluice: metrics on ${metrics.url}`);
    }
    reporter.start();
    const tasks = taskSource({
      job,
      file: config.input,
      format: config.inputFormat,
      limit: config.limit,
      onRejected(record) {
        rejected += 1;
        sink.write(inputErrorLine(record));
        metrics?.recordOutcome({ ok: false, stage: 'input' });
      },
      onTask(line) {
        if (line !== undefined) lineOf.set(pulled, line);
        pulled += 1;
      },
    });
    const run = executor.run(tasks, { signal: abort.signal, drain: drain.signal });
    for await (const outcome of run) {
      const line = lineOf.get(outcome.index);
      lineOf.delete(outcome.index);
      sink.write(outcomeLine(outcome, line !== undefined ? { line } : undefined));
      if (outcome.ok) completed += 1;
      else failed += 1;
      metrics?.recordOutcome(outcome.ok ? { ok: true } : { ok: false, stage: outcome.stage });
      await job.onOutcome?.(outcome as Outcome);
    }
  } catch (error) {
    runError = error;
  } finally {
    unsubscribe?.();
    reporter.stop();
    await sink.close();
    await metrics?.close();
    await executor.close();
    try {
      await session.close();
    } catch (error) {
      io.err(`sluice run: the job's close() failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const summary: RunSummary = {
    job: jobName,
    elapsedMs: performance.now() - started,
    completed,
    failed,
    rejected,
    stats: executor.stats(),
    output: config.output,
    lines: sink.lines,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(interruptedBy !== undefined ? { interruptedBy } : {}),
    ...(runError !== undefined && !(runError instanceof SluiceAbortError) ? { error: runError } : {}),
  };
  for (const line of formatSummary(summary, logMode === 'json')) io.err(line);
  if (runError !== undefined && !(runError instanceof SluiceError)) throw runError;
  if (interruptedBy !== undefined) return EXIT.interrupted;
  return failed + rejected > 0 || runError !== undefined ? EXIT.failed : EXIT.ok;
}
