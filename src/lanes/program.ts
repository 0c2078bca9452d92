/**
 * A lane program: the module a lane imports to build its copy of the pipeline. It exports
 * `buildLane(context)`, which loads the job, opens what the job opens (`setup`), and returns the
 * stages and the function that releases them. The same program builds the pipeline in-process (one
 * lane, the main thread) with plain services.
 */
import type { ExecutorOptions } from '../options.js';
import type { ServiceOptions } from '../services/options.js';
import type { Service } from '../services/service.js';
import type { Stage } from '../stages/types.js';

export interface LaneContext {
  /** The lane's number (from 0), and how many lanes the run has (1: in-process). */
  readonly lane: number;
  readonly lanes: number;
  /** What the program was given (cloneable: it crossed to the lane thread). */
  readonly params: unknown;
  /** Makes this lane's copy of a service declared by the job: its limit is shared with every lane. */
  readonly service: (name: string, options: ServiceOptions) => Service;
}

export interface LaneBuild {
  readonly stages: readonly Stage[];
  /** The lane's executor options (its buffers); ordering and stopping belong to the dispatcher. */
  readonly options?: Pick<ExecutorOptions, 'buffer'>;
  /** Releases what the build opened (the job's `close(resources)`); called once. */
  close(): Promise<void>;
}

export type BuildLane = (context: LaneContext) => Promise<LaneBuild>;
