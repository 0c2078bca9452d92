/**
 * The run of `sluice demo`: the demo job (src/demo/job.ts) through `sluice run`'s machinery. A job
 * session builds it with the run's settings (threads on the synthesize stage, a fixed limit on
 * service docs), `execute` writes one line per synthesized document (in batches), and the
 * shutdown closes the pools, the output and the job (its document service) on every path, each
 * with a bounded wait. Signals as in `sluice run`: the first drains, the second aborts.
 */
import { performance } from 'node:perf_hooks';
import { createExecutor, SluiceAbortError, type Job } from '../../index.js';
import { demoJob, type DemoResources } from '../../demo/job.js';
import type { CliIo } from '../io.js';
import { checkOutput, openOutput } from '../io/output.js';
import { jobSession } from '../job/session.js';
import { messageOf } from '../message.js';
import { RUN_DEFAULTS } from '../run/defaults.js';
import { execute, type RunCounts } from '../run/execute.js';
import { createShutdown } from '../run/shutdown.js';
import { createStopper } from '../run/stop.js';
import { interruptedTasks } from '../run/summary.js';
import { resolveDemoOptions, type DemoOptions } from './options.js';
import type { DemoFailure, DemoSummary } from './summary.js';

export interface DemoRun {
  readonly summary: DemoSummary;
  /** What ended the run early, other than a signal: a worker module that did not load, a failed write. */
  readonly error?: unknown;
  /** The first signal's name, when one interrupted the run. */
  readonly interruptedBy?: string;
  /** Tasks started and then stopped with no outcome (by a second signal, or an error). */
  readonly interrupted: number;
}

/** Failures kept in the summary, for stderr; the others are only counted. */
const FAILURES_SHOWN = 5;

/**
 * Runs the demo job and returns what it did. Rejects before anything starts or the output is
 * touched with `SluiceOptionError` for a bad option and `SluiceUsageError` for an output that
 * cannot be written; with a `SluiceError` when the job cannot be built.
 * `io.out` takes the output lines when `options.out` is `-`; `io.err` the notices of signals and
 * closes; `io.onSignal` subscribes to SIGINT/SIGTERM.
 */
export async function runDemo(options: DemoOptions = {}, io: Partial<Pick<CliIo, 'out' | 'err' | 'onSignal'>> = {}): Promise<DemoRun> {
  const o = resolveDemoOptions(options);
  checkOutput(o.out);
  const err = (line: string): void => io.err?.(line);
  let resources: DemoResources | undefined;
  const job = demoJob(o, {
    onSetup(opened) {
      resources = opened;
    },
  });
  const session = jobSession(job);
  const shutdown = createShutdown({ closeJob: () => session.close(), err, timeoutMs: RUN_DEFAULTS.closeTimeoutMs });
  const stopper = createStopper({
    note: err,
    settleMs: RUN_DEFAULTS.abortSettleMs,
    running: () => shutdown.resources.executor?.stats().tasks.open,
  });
  const unsubscribe = io.onSignal?.((signal) => stopper.handle(signal));
  try {
    // timeoutMs 0: no per-request timeout on service docs, which sets none (the service may be slow on purpose).
    const built = await session.build({ threads: o.threads, io: { docs: o.concurrency }, timeoutMs: 0 });
    const executor = createExecutor({ ...job.options, stages: built.stages });
    shutdown.resources.executor = executor;
    // Every check has passed and the service is up: only now is the output created or truncated.
    const sink = openOutput(o.out, (line) => io.out?.(line));
    shutdown.resources.sink = sink;

    const counts: RunCounts = { completed: 0, failed: 0, rejected: 0 };
    const failures: DemoFailure[] = [];
    const started = performance.now();
    const result = await execute({
      job: job as unknown as Job, // as `sluice run` has it: a loaded job, its types unknown
      executor,
      input: { format: 'auto' },
      sink,
      stopper,
      counts,
      onRejected: () => undefined, // the job's own input: no records to reject
      // One synthesis per line, as the demo has always written; a failure is reported, not written.
      line(outcome) {
        if (outcome.ok) return JSON.stringify(outcome.value);
        if (failures.length < FAILURES_SHOWN)
          failures.push({ index: outcome.index, stage: outcome.stage, message: messageOf(outcome.error) });
        return undefined;
      },
    });
    stopper.ended();
    // The last batch of lines before anything closes: a write that fails then ends the demo with it.
    let unwritten: unknown;
    try {
      sink.flush();
    } catch (e) {
      unwritten = e;
    }
    await shutdown.close({ stuck: result.stuck });
    const wallMs = performance.now() - started;

    const stats = executor.stats();
    const stages = stats.stages.slice(0, -1);
    const buffers = stats.buffers.slice(0, -1); // the last one is the output buffer
    const service = resources!.server.counters();
    const error = result.error instanceof SluiceAbortError ? unwritten : (result.error ?? unwritten);
    const summary: DemoSummary = {
      options: o,
      tasks: o.tasks,
      completed: counts.completed,
      failed: counts.failed,
      failures,
      wallMs,
      tasksPerSecond: (counts.completed + counts.failed) / (wallMs / 1000),
      peakOpen: stats.tasks.peakOpen,
      peakBuffered: stats.buffered.peak,
      // The largest bounds of the run: a batching stage's capacity and the buffer in front of it move with its B.
      bufferedBound: stages.reduce((n, s) => n + s.peakCapacity, 0) + buffers.reduce((n, b) => n + b.peakBound, 0),
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      service: { requests: service.requests, peakInFlight: service.peakInFlight },
      output: o.out,
      stats,
    };
    return {
      summary,
      interrupted: interruptedTasks(stats, counts.completed, counts.failed),
      ...(error !== undefined ? { error } : {}),
      ...(stopper.interruptedBy !== undefined ? { interruptedBy: stopper.interruptedBy } : {}),
    };
  } finally {
    stopper.ended();
    await shutdown.close();
    unsubscribe?.();
  }
}
