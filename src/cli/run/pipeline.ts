/**
 * A command's pipeline (`sluice run`, `sluice worker`): the job's services and stages built with the
 * command's settings (its `setup` and `stages` run), then the executor. A signal may come while
 * `setup` runs: after the second, the command stops waiting for it (FORCED). A bad setting or job
 * throws its SluiceError, as the session does.
 */
import { createExecutor, type Executor, type ExecutorOptions, type Service } from '../../index.js';
import type { ConfigSource } from '../errors.js';
import type { BuildSettings, BuiltJob } from '../job/build.js';
import type { JobSession } from '../job/session.js';
import { FORCED, type Forced, type Stopper } from './stop.js';

export interface Pipeline {
  readonly executor: Executor;
  readonly services: readonly Service[];
}

export async function buildPipeline(
  session: JobSession,
  settings: BuildSettings,
  sources: Readonly<Record<string, ConfigSource>>,
  stopper: Stopper,
  options: (built: BuiltJob) => ExecutorOptions,
): Promise<Pipeline | Forced> {
  const building = session.build(settings, sources);
  const built = await stopper.race(building);
  if (built === FORCED) {
    building.catch(() => undefined);
    return FORCED;
  }
  return { executor: createExecutor(options(built)), services: Object.values(built.services) };
}
