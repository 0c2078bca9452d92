/**
 * The lane program of `createJobExecutor`: loads the job module, builds its services (as the lane's
 * shared copies), runs its `setup` and `stages`,, with `threads` on every cpu stage when given (the lane shares them out: ./threads.ts).
 * `close` calls the job's `close(resources)`.
 */
import { importJob } from '../job-import.js';
import type { Service } from '../services/service.js';
import type { Stage } from '../stages/types.js';
import { SluiceOptionError } from '../errors.js';
import type { BuildLane } from './program.js';

/** What `createJobExecutor` gives its lanes. */
export interface JobProgramParams {
  /** The job module's path. */
  readonly path: string;
  /** The threads of every cpu stage, over all lanes; undefined: each stage's own. */
  readonly threads?: number | undefined;
}

export const buildLane: BuildLane = async ({ params, service }) => {
  const { path, threads } = params as JobProgramParams;
  const job = await importJob(path);
  const services: Record<string, Service> = {};
  for (const [name, options] of Object.entries(job.services ?? {})) services[name] = service(name, options);
  let resources: unknown;
  try {
    if (job.setup !== undefined) resources = await job.setup({ services });
    const made: unknown = typeof job.stages === 'function' ? await job.stages({ services, resources }) : job.stages;
    if (!Array.isArray(made)) throw new SluiceOptionError('job.stages', 'an array of stages (or a function returning one)', made);
    const stages = (made as readonly Stage[]).map((stage) =>
      stage?.kind === 'cpu' && threads !== undefined ? { ...stage, threads } : stage,
    );
    return {
      stages,
      options: job.options?.buffer !== undefined ? { buffer: job.options.buffer } : {},
      close: async () => {
        await job.close?.(resources);
      },
    };
  } catch (error) {
    await job.close?.(resources);
    throw error;
  }
};
