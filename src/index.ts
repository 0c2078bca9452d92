/**
 * sluice: the public API, listed name by name and grouped by concern. Nothing here is for the CLI
 * alone (its own errors and helpers live under src/cli/); test/package.test.ts asserts the
 * exact list of exported values.
 */

// Executor and stages
export { createExecutor } from './executor.js';
export type { Executor, PipelineInput, PipelineOutput, RunOptions } from './executor.js';
export { DEFAULTS } from './options.js';
export type { ExecutorOptions } from './options.js';
export { io, cpu } from './stages/types.js';
export type { CpuOptions, CpuStage, IoFunction, IoOptions, IoStage, Stage, StageInput, StageOutput, TaskContext } from './stages/types.js';
export type { Exposed, ExposedFunction, HostCallContext, TaskProgress } from './bridge/types.js';
export type { Host, WorkerContext, WorkerFunction } from './worker/types.js';

// Services and limits
export { service } from './services/service.js';
export type { Attempt, AttemptEvent, Service, ServiceStats } from './services/service.js';
export { SERVICE_DEFAULTS } from './services/options.js';
export type { ServiceOptions } from './services/options.js';
export { defaultClassify } from './services/classify.js';
export type { CallOutcome, Classifier } from './services/classify.js';
export type { RetryPolicy } from './services/backoff.js';
export {
  ADAPTIVE_DEFAULT,
  AIMD_DEFAULTS,
  AlgorithmLimit,
  BOUND_DEFAULTS,
  GRADIENT2_DEFAULTS,
  LIMIT_ALGORITHMS,
  VEGAS_DEFAULTS,
  WINDOW_DEFAULTS,
  aimdLimit,
  createLimit,
  fixedLimit,
  gradient2Limit,
  vegasLimit,
  windowedLimit,
} from './limits/index.js';
export type {
  AimdOptions,
  Gradient2Options,
  Gradient2State,
  Limit,
  LimitAlgorithm,
  LimitBounds,
  LimitOptions,
  LimitParameters,
  LimitSpec,
  LimitState,
  ResolvedBounds,
  Sample,
  Update,
  VegasOptions,
  VegasState,
  WindowOptions,
} from './limits/index.js';

// Jobs
export { defineJob, isJob } from './job.js';
export { importJob } from './job-import.js';
export type { Job, JobContext, JobDefinition, JobInput, JobOptions, JobSetupContext, JobStages } from './job.js';

// Durable runs
export { openJournal } from './journal/journal.js';
export { readJournalStatus } from './journal/status.js';
export { compareFingerprints, fingerprintInput } from './journal/fingerprint.js';
export type {
  Fingerprint,
  FingerprintChange,
  Journal,
  JournalStatus,
  LineCut,
  LockHolder,
  OpenJournalOptions,
  RetryPhase,
  RetryStatus,
  Suspect,
  TaskLedger,
  TaskRecord,
  TaskState,
} from './journal/types.js';

// Errors
export {
  ErrorCodes,
  SluiceAbortError,
  SluiceBridgeError,
  SluiceDataCloneError,
  SluiceError,
  SluiceInputError,
  SluiceJobError,
  SluiceJournalError,
  SluiceOptionError,
  SluiceReentrantCallError,
  SluiceResponseError,
  SluiceStateError,
  SluiceTimeoutError,
  SluiceWorkerError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { SluiceTaskError } from './errors.js';

// Outcomes and stats
export type { Completed, Failed, Outcome } from './outcome.js';
export type { BufferStats, ExecutorStats, StageStats, TaskStats } from './stats.js';
