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
  SluiceDataCloneError,
  SluiceError,
  SluiceInputError,
  SluiceOptionError,
  SluiceStateError,
  SluiceWorkerError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { SluiceReentrantCallError, SluiceResponseError, SluiceTimeoutError } from './errors.js';
export {
  SluiceBridgeError,
  SluiceConfigError,
  SluiceInputRecordError,
  SluiceJobError,
  SluiceUsageError,
  describe as describeValue,
  formatSource,
} from './errors.js';
export type { ConfigSource } from './errors.js';
export { service } from './services/service.js';
export type { Attempt, AttemptEvent, Service, ServiceStats } from './services/service.js';
export type { ServiceOptions } from './services/options.js';
export { SERVICE_DEFAULTS } from './services/options.js';
export { defaultClassify } from './services/classify.js';
export type { CallOutcome, Classifier } from './services/classify.js';
export type { RetryPolicy } from './services/backoff.js';
export type { Limit, LimitBounds, LimitSpec, Sample } from './limits/limit.js';
export { ADAPTIVE_DEFAULT, createLimit } from './limits/index.js';
export { SluiceTaskError } from './run.js';
export { defineJob, isJob } from './job.js';
export { importJob } from './job-import.js';
export type { Job, JobContext, JobDefinition, JobInput, JobOptions, JobSetupContext, JobStages } from './job.js';
export type {
  Exposed,
  ExposedFunction,
  Host,
  HostCallContext,
  TaskProgress,
  WorkerContext,
  WorkerFunction,
} from './bridge/types.js';
