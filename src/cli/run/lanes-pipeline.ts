/**
 * The pipeline of `sluice run --lanes P` (P > 1): the job's services built on the main thread
 * (their limit algorithms run here, their permits are shared), and P lanes, each building the
 * job's pipeline with the command's settings (../job/lane-program.ts). A lane that cannot build it
 * (a bad setting, a failing `setup`) refuses the run before any output is touched. A signal may come
 * while the lanes start: after the second, the command stops waiting (FORCED) and they are closed.
 */
import { existsSync } from 'node:fs';
import { createLanesExecutor, type ExecutorOptions, type Job } from '../../index.js';
import type { ConfigSource } from '../errors.js';
import type { SluiceConfig } from '../config/schema.js';
import { buildServices } from '../job/build.js';
import type { CliLaneParams } from '../job/lane-program.js';
import type { Pipeline } from './pipeline.js';
import { RUN_DEFAULTS } from './defaults.js';
import { FORCED, type Forced, type Stopper } from './stop.js';

export interface LanesPipelineInit {
  readonly job: Job;
  readonly jobPath: string;
  readonly jobFile: string;
  readonly lanes: number;
  readonly config: SluiceConfig;
  readonly sources: Readonly<Record<string, ConfigSource>>;
  readonly stopper: Stopper;
  readonly options: Pick<ExecutorOptions, 'ordered' | 'outputBuffer' | 'window'>;
}

export async function buildLanesPipeline(init: LanesPipelineInit): Promise<Pipeline | Forced> {
  const { job, config, sources } = init;
  const settings = { threads: config.threads, io: config.io, timeoutMs: config.timeoutMs };
  const { serviceOptions } = buildServices(job, settings);
  const params: CliLaneParams = { jobPath: init.jobPath, shownAs: init.jobFile, settings, sources, buffer: config.buffer };
  const starting = createLanesExecutor({
    lanes: init.lanes,
    program: programUrl(),
    params,
    services: serviceOptions,
    options: init.options,
    closeTimeoutMs: RUN_DEFAULTS.closeTimeoutMs,
  });
  const started = await init.stopper.race(starting);
  if (started === FORCED) {
    starting.then(
      (executor) => executor.close(),
      () => undefined,
    );
    return FORCED;
  }
  return { executor: started, services: started.services };
}

function programUrl(): URL {
  const compiled = new URL('../job/lane-program.js', import.meta.url);
  return existsSync(compiled) ? compiled : new URL('../job/lane-program.ts', import.meta.url);
}
