/** sluice: the public names, listed one by one. */
export { createExecutor } from './executor.js';
export type { Executor, RunOptions } from './executor.js';
export { io, cpu } from './stages/types.js';
export type { CpuOptions, CpuStage, IoFunction, IoOptions, IoStage, Stage, TaskContext } from './stages/types.js';
export type { ExecutorOptions } from './options.js';
export { DEFAULTS } from './options.js';
export type { Completed, Failed, Outcome } from './outcome.js';
export type { BufferStats, ExecutorStats, StageStats, TaskStats } from './stats.js';
export {
  ErrorCodes,
  SluiceAbortError,
  SluiceError,
  SluiceInputError,
  SluiceOptionError,
  SluiceStateError,
  SluiceWorkerError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { SluiceTaskError } from './run.js';
