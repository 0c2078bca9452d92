/**
 * A loaded job for the length of one command: builds its pipeline with the command's settings and
 * closes it exactly once, on every exit path, however the command ended (bad settings found after
 * the job loaded, a failed run, a signal). A job may have opened servers or pools when its module
 * loaded, so `close()` is owed from the moment the module is imported.
 */
import type { ConfigSource, Job } from '../../index.js';
import { buildJob, type BuildSettings, type BuiltJob } from './build.js';

export interface JobSession {
  readonly job: Job;
  /** The job's services and stages with the command's settings applied. */
  build(settings: BuildSettings, sources?: Readonly<Record<string, ConfigSource>>): Promise<BuiltJob>;
  /** Calls the job's `close()` once; later calls return the same promise. */
  close(): Promise<void>;
}

export function jobSession(job: Job): JobSession {
  let closing: Promise<void> | undefined;
  return {
    job,
    build: async (settings, sources) => buildJob(job, settings, sources),
    close() {
      closing ??= Promise.resolve().then(() => job.close?.());
      return closing;
    },
  };
}
