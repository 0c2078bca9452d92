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

// Lanes: the pipeline in several worker threads, the main thread dispatching
export { createJobExecutor } from './lanes/job-executor.js';
export type { JobExecutor, JobExecutorOptions } from './lanes/job-executor.js';
export { createLanesExecutor } from './lanes/lanes-executor.js';
export type { LanesExecutor, LanesExecutorOptions } from './lanes/lanes-executor.js';
export type { BuildLane, LaneBuild, LaneContext } from './lanes/program.js';
export { autoLanes, laneThreads, MAX_LANES, resolveLanes } from './lanes/threads.js';

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

// Queues: the same job on many processes and machines (BullMQ over Redis)
export { enqueue, enqueueEntries } from './queue/enqueue.js';
export type { EnqueueCounts, EnqueueOptions, EnqueueResult, QueueEntry } from './queue/enqueue.js';
export { startQueueWorker } from './queue/worker.js';
export type {
  QueueCounts,
  QueuedTask,
  QueueWorker,
  QueueWorkerEvent,
  QueueWorkerOptions,
  QueueWorkerResult,
  QueueWorkerStats,
} from './queue/worker.js';
export { runWorker } from './queue/run-worker.js';
export type { RunWorkerOptions } from './queue/run-worker.js';
export { queueResults } from './queue/results.js';
export type { QueueResult, QueueResultsOptions } from './queue/results.js';
export { queueStatus } from './queue/status.js';
export type { QueueStatus, QueueWorkerFigures } from './queue/status.js';
export { cleanQueue, pauseQueue, resumeQueue } from './queue/admin.js';
export type { CleanOptions, Cleaned } from './queue/admin.js';
export { describeConnection, redact } from './queue/connection.js';
export type { RedisConnection } from './queue/connection.js';
export type { QueueJobIdentity, QueueMeta } from './queue/meta.js';
export type { QueueTarget } from './queue/target.js';
export { DEFAULT_PREFIX as QUEUE_PREFIX } from './queue/names.js';

// Values and errors as JSON (outcome lines, stored results)
export { errorJson, toJson } from './json.js';

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
  SluiceLaneError,
  SluiceOptionError,
  SluiceQueueError,
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
export type {
  BatchStats,
  BufferStats,
  ExecutorStats,
  LaneStats,
  LanesStats,
  MainThreadStats,
  StageStats,
  TaskStats,
} from './stats.js';
