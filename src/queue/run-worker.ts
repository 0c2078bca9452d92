/**
 * `runWorker(job, options)`: a job's pipeline as a queue worker, for a service that embeds sluice.
 * Builds the job as `sluice worker` does (its services, `setup`, `stages`), runs a worker on the
 * queue until it drains (`exitWhenDrained`) or a signal stops it, then closes the pools and calls
 * the job's `close` with what `setup` returned, whatever happened.
 */
import { createExecutor } from '../executor.js';
import type { Job } from '../job.js';
import { service, type Service } from '../services/service.js';
import type { Stage } from '../stages/types.js';
import { startQueueWorker, type QueueWorkerOptions, type QueueWorkerResult } from './worker.js';

export interface RunWorkerOptions extends Omit<QueueWorkerOptions, 'executor' | 'job'> {
  /** A fingerprint of the job's module, compared with the queue's (see `enqueue`'s `module`). */
  readonly module?: string | undefined;
  /** Worker threads of every cpu stage. @default each stage's own */
  readonly threads?: number | undefined;
}

export async function runWorker<T, R, Resources>(job: Job<T, R, Resources>, options: RunWorkerOptions): Promise<QueueWorkerResult> {
  const services: Record<string, Service> = {};
  for (const [name, declared] of Object.entries(job.services ?? {})) services[name] = service(name, declared);
  let resources: Resources | undefined;
  try {
    if (job.setup !== undefined) resources = await job.setup({ services });
    const declared = typeof job.stages === 'function' ? await job.stages({ services, resources: resources as Resources }) : job.stages;
    const stages = declared.map(
      (stage): Stage => (stage.kind === 'cpu' && options.threads !== undefined ? { ...stage, threads: options.threads } : stage),
    );
    const executor = createExecutor({ ...job.options, stages, ordered: false });
    try {
      const worker = await startQueueWorker({
        ...options,
        executor: executor as never,
        job: { name: job.name ?? 'job', module: options.module },
      });
      return await worker.done;
    } finally {
      await executor.close();
    }
  } finally {
    await job.close?.(resources);
  }
}
