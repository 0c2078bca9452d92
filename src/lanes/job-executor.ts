/**
 * `createJobExecutor(job, { lanes })`: a job module's pipeline as an executor, in-process (one
 * lane: the main thread runs the io stages, as `createExecutor` does) or in P lanes (P worker
 * threads, each with its own copy of the pipeline and its own event loop, the main thread only
 * dispatching). Either way the job's services are built once on the main thread and their limits
 * hold across every lane; `services` are those, for stats and metrics.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SluiceOptionError } from '../errors.js';
import { createExecutor, type Executor } from '../executor.js';
import { importJob } from '../job-import.js';
import type { Job } from '../job.js';
import { service, type Service } from '../services/service.js';
import { buildLane, type JobProgramParams } from './job-program.js';
import { createLanesExecutor } from './lanes-executor.js';
import { resolveLanes } from './threads.js';

export interface JobExecutorOptions {
  /**
   * Copies of the pipeline, each in a worker thread of its own: 1 runs it on the main thread as
   * `createExecutor` does; 'auto' is one per four cores, at least 2.
   * @default 1
   */
  readonly lanes?: number | 'auto';
  /** Threads of every cpu stage, over all lanes (each lane gets max(1, floor(threads / lanes))). @default each stage's own */
  readonly threads?: number;
}

export interface JobExecutor<T = unknown, R = unknown> extends Executor<T, R> {
  readonly job: Job<T, R>;
  /** The lanes it runs (1: in-process). */
  readonly lanes: number;
  /** The job's services, as the main thread sees them (over every lane). */
  readonly services: readonly Service[];
}

/** Loads the job module at `job` (a path or a file URL) and starts its pipeline (and lanes). */
export async function createJobExecutor<T = unknown, R = unknown>(
  job: string | URL,
  options: JobExecutorOptions = {},
): Promise<JobExecutor<T, R>> {
  if (options === null || typeof options !== 'object') throw new SluiceOptionError('options', 'an object', options);
  const lanes = resolveLanes(options.lanes);
  const threads = options.threads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1))
    throw new SluiceOptionError('threads', 'an integer >= 1', threads);
  const path = job instanceof URL || job.startsWith('file:') ? fileURLToPath(job) : job;
  const loaded = (await importJob(path)) as Job<T, R>;
  const params: JobProgramParams = { path, threads };
  if (lanes === 1) {
    const services: Service[] = [];
    const build = await buildLane({
      lane: 0,
      lanes: 1,
      params,
      service: (name, o) => {
        const s = service(name, o);
        services.push(s);
        return s;
      },
    });
    const executor = createExecutor<T, R>({ ...loaded.options, ...build.options, stages: build.stages });
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= executor.close().finally(() => build.close());
      return closing;
    };
    return { run: executor.run, stats: executor.stats, close, [Symbol.asyncDispose]: close, job: loaded, lanes, services };
  }
  const { ordered, outputBuffer, window } = loaded.options ?? {};
  const executor = await createLanesExecutor<T, R>({
    lanes,
    program: programUrl(),
    params,
    services: loaded.services ?? {},
    options: { ordered, outputBuffer, window },
  });
  // The main thread loaded the module too (a module may open things as it loads): its close() is owed, with no resources.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= executor.close().finally(() => loaded.close?.(undefined));
    return closing;
  };
  return { ...executor, close, [Symbol.asyncDispose]: close, job: loaded, lanes };
}

/** The lane program's URL: the compiled module, or the source under a TypeScript loader. */
function programUrl(): string {
  const compiled = new URL('./job-program.js', import.meta.url);
  return existsSync(compiled) ? compiled.href : new URL('./job-program.ts', import.meta.url).href;
}
