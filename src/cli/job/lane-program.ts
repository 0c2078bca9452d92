/**
 * The lane program of `sluice run --lanes P` (see BuildLane in the library): each lane loads the
 * job module, builds its services as the lane's copies (their limits shared with every lane),
 * runs the job's `setup` and `stages` with the command's settings, exactly as a run without
 * lanes does (./session.ts), and closes the job (its `close(resources)`) when the lane closes.
 */
import { importJob, type BuildLane } from '../../index.js';
import type { ConfigSource } from '../errors.js';
import type { BuildSettings } from './build.js';
import { jobSession } from './session.js';

/** What `sluice run` gives its lanes (cloned to each). */
export interface CliLaneParams {
  readonly jobPath: string;
  /** The job as the command line named it, for errors. */
  readonly shownAs: string;
  readonly settings: BuildSettings;
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** The `buffer` setting; undefined: the job's. */
  readonly buffer?: number | undefined;
}

export const buildLane: BuildLane = async ({ params, service }) => {
  const p = params as CliLaneParams;
  const job = await importJob(p.jobPath, p.shownAs);
  const session = jobSession(job, p.shownAs);
  try {
    const built = await session.build(p.settings, p.sources, service);
    const buffer = p.buffer ?? job.options?.buffer;
    return { stages: built.stages, options: buffer !== undefined ? { buffer } : {}, close: () => session.close() };
  } catch (error) {
    await session.close();
    throw error;
  }
};
