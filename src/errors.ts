/**
 * Error classes with stable codes. Tests and users match on `code` (and class), never on message
 * text. Every error sluice raises is a `SluiceError`.
 */
import type { Failed } from './outcome.js';

/** Stable codes carried by every error sluice raises. */
export const ErrorCodes = Object.freeze({
  INVALID_OPTION: 'ERR_SLUICE_INVALID_OPTION',
  ABORTED: 'ERR_SLUICE_ABORTED',
  TASK_FAILED: 'ERR_SLUICE_TASK_FAILED',
  INPUT_FAILED: 'ERR_SLUICE_INPUT_FAILED',
  WORKER_CRASHED: 'ERR_SLUICE_WORKER_CRASHED',
  WORKER_LOAD: 'ERR_SLUICE_WORKER_LOAD',
  WORKER_EXPORT: 'ERR_SLUICE_WORKER_EXPORT',
  RUN_ACTIVE: 'ERR_SLUICE_RUN_ACTIVE',
  CLOSED: 'ERR_SLUICE_CLOSED',
  TIMEOUT: 'ERR_SLUICE_TIMEOUT',
  SERVICE_REENTRANT: 'ERR_SLUICE_SERVICE_REENTRANT',
  CONFIG: 'ERR_SLUICE_CONFIG',
  USAGE: 'ERR_SLUICE_USAGE',
  JOB_INVALID: 'ERR_SLUICE_JOB_INVALID',
  INPUT_RECORD: 'ERR_SLUICE_INPUT_RECORD',
  BRIDGE: 'ERR_SLUICE_BRIDGE',
  /** A service call's last attempt ended in a failure response (HTTP status >= 400, or a value classified dropped). */
  RESPONSE: 'ERR_SLUICE_RESPONSE',
  /** A value crossing between the main thread and a worker thread cannot be cloned. */
  DATA_CLONE: 'ERR_SLUICE_DATA_CLONE',
  /** A journal's lock is held by another run (`.holder` names it). */
  JOURNAL_LOCKED: 'ERR_SLUICE_JOURNAL_LOCKED',
  /** A new run was asked for where a journal of an earlier run exists (`.finished` says whether it ended). */
  JOURNAL_EXISTS: 'ERR_SLUICE_JOURNAL_EXISTS',
  /** A resume was asked for where there is no journal. */
  JOURNAL_MISSING: 'ERR_SLUICE_JOURNAL_MISSING',
  /** A resume against another input or job than the journal's (`.changes` lists what changed). */
  JOURNAL_CHANGED: 'ERR_SLUICE_JOURNAL_CHANGED',
  /** A retry of the failed tasks was asked for where the journal's run did not finish (resume it first). */
  JOURNAL_UNFINISHED: 'ERR_SLUICE_JOURNAL_UNFINISHED',
  /** A journal is unreadable or corrupt, a write to it failed, or its run was fenced by a newer one. */
  JOURNAL: 'ERR_SLUICE_JOURNAL',
  /**
   * A queue refused: its Redis cannot be reached, nothing was enqueued on it, its job is not this
   * one (`.changes`), or a stored job or result cannot be read.
   */
  QUEUE: 'ERR_SLUICE_QUEUE',
  /** A lane (a worker thread running a copy of the job's pipeline) stopped, or refused to start. */
  LANE: 'ERR_SLUICE_LANE',
} as const);

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error sluice raises. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  override get name(): string {
    return this.constructor.name;
  }
  /**
   * Renders a received value the way sluice's messages do: its value, shortened, and its type
   * (`` `"x"` (string) ``, `` `{"a":1}` (object) ``). For errors of your own that extend
   * `SluiceError` and should read like sluice's ("expected …, got …").
   */
  static describe(value: unknown): string {
    return describe(value);
  }
}

/** An option has the wrong type or value. Names the option, the expected and the received value. */
export class SluiceOptionError extends SluiceError {
  readonly option: string;
  readonly expected: string;
  readonly received: unknown;
  constructor(option: string, expected: string, received: unknown) {
    super(ErrorCodes.INVALID_OPTION, `Expected \`${option}\` to be ${expected}, got ${describe(received)}`);
    this.option = option;
    this.expected = expected;
    this.received = received;
  }
}

/** The run was aborted through its `signal`; `reason` (and `cause`) is the signal's reason. */
export class SluiceAbortError extends SluiceError {
  readonly reason: unknown;
  constructor(reason: unknown) {
    super(ErrorCodes.ABORTED, `The run was aborted: ${messageOf(reason)}`, { cause: reason });
    this.reason = reason;
  }
}

/** A worker thread crashed, failed to load its module, or lacks the export a cpu stage names. */
export class SluiceWorkerError extends SluiceError {
  readonly stage: string;
  constructor(
    code: typeof ErrorCodes.WORKER_CRASHED | typeof ErrorCodes.WORKER_LOAD | typeof ErrorCodes.WORKER_EXPORT,
    stage: string,
    message: string,
    cause?: unknown,
  ) {
    super(code, `cpu stage "${stage}": ${message}`, { cause });
    this.stage = stage;
  }
}

/**
 * A value crossing between the main thread and a cpu stage's worker thread cannot be cloned: the
 * task's input (`direction: 'input'`, it never reached the thread) or the worker's result
 * (`direction: 'result'`; the thread goes on). `.path` is where the first such member is
 * (`result.f`, `input.body.stream`) and `.received` what it is (`a function (f)`,
 * `a ReadableStream`); both are undefined when it could not be found. `cause` is the clone error.
 */
export class SluiceDataCloneError extends SluiceError {
  readonly stage: string;
  readonly direction: 'input' | 'result';
  readonly path: string | undefined;
  readonly received: string | undefined;
  constructor(
    stage: string,
    direction: 'input' | 'result',
    found: { readonly path: string; readonly received: string } | undefined,
    cause: unknown,
  ) {
    const what =
      direction === 'input'
        ? "the task's input cannot be sent to its worker thread"
        : "the worker's result cannot be sent back to the main thread";
    const where = found
      ? `${found.path} is ${found.received}, which structured clone cannot copy`
      : `structured clone failed (${messageOf(cause)})`;
    super(
      ErrorCodes.DATA_CLONE,
      `cpu stage "${stage}": ${what}: ${where} ` +
        '(expected plain data: objects, arrays, strings, numbers, booleans, null, binary buffers, Map, Set, Date, Error)',
      { cause },
    );
    this.stage = stage;
    this.direction = direction;
    this.path = found?.path;
    this.received = found?.received;
  }
}

/**
 * A lane stopped while it held the task (it crashed, or its thread exited), twice: a task held by a
 * lane that stops runs again once on another lane. Also a lane that could not build its pipeline.
 * `.lane` is the lane's number (from 0).
 */
export class SluiceLaneError extends SluiceError {
  readonly lane: number;
  constructor(lane: number, message: string, cause?: unknown) {
    super(ErrorCodes.LANE, `lane ${lane}: ${message}`, { cause });
    this.lane = lane;
  }
}

/** The executor cannot run now: it is closed, or another run is active. */
export class SluiceStateError extends SluiceError {}

/** The input iterable threw while sluice pulled from it; what was in flight was settled first. */
export class SluiceInputError extends SluiceError {
  constructor(pulled: number, cause: unknown) {
    super(ErrorCodes.INPUT_FAILED, `The input threw after ${pulled} task(s) were pulled: ${messageOf(cause)}`, {
      cause,
    });
  }
}

/** Raised (as the iteration's rejection) by `stopOnError` runs; `outcome` is the first failure. */
export class SluiceTaskError extends SluiceError {
  readonly outcome: Failed;
  constructor(outcome: Failed) {
    const cause = outcome.error;
    super(ErrorCodes.TASK_FAILED, `Task #${outcome.index} failed in stage "${outcome.stage}": ${messageOf(cause)}`, { cause });
    this.outcome = outcome;
  }
}

/**
 * An attempt took longer than its `timeoutMs`: an attempt of a call to a service (`.service` names
 * it; counts as dropped, a loss signal), of an io stage without a service, or of a cpu stage (whose
 * thread was stopped and replaced); `.stage` names the stage. `new SluiceTimeoutError(service, ms)`
 * names a service; `new SluiceTimeoutError({ stage }, ms)` an io stage, `({ stage, kind: 'cpu' }, ms)` a cpu stage.
 */
export class SluiceTimeoutError extends SluiceError {
  /** The service whose call timed out; undefined for an io stage's own timeout. */
  readonly service: string | undefined;
  /** The stage whose attempt timed out (an io stage without a service, or a cpu stage); undefined for a service. */
  readonly stage: string | undefined;
  readonly timeoutMs: number;
  constructor(target: string | { readonly service?: string; readonly stage?: string; readonly kind?: 'io' | 'cpu' }, timeoutMs: number) {
    const { service, stage, kind = 'io' } = typeof target === 'string' ? { service: target, stage: undefined, kind: undefined } : target;
    const what = service !== undefined ? `A call to service "${service}"` : `An attempt of ${kind} stage "${String(stage)}"`;
    super(ErrorCodes.TIMEOUT, `${what} timed out after ${timeoutMs} ms`);
    this.service = service;
    this.stage = stage;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A call to a service ended in a failure response: its last attempt returned a value classified
 * dropped (retries exhausted), or a response with HTTP status >= 400 that the classifier did not
 * call a success (a 404: not retried). `.status` is undefined for a value that is not a response.
 * `.response` (not enumerable, so it stays out of JSON output) is what the attempt returned; a
 * body sluice could see (a fetch `Response`'s, an undici `request` body) was cancelled.
 */
export class SluiceResponseError extends SluiceError {
  readonly service: string;
  /** The HTTP status of the last attempt's response; undefined when it returned something else. */
  readonly status: number | undefined;
  /** The response's own status text, when it has a non-empty one (absent otherwise). */
  declare readonly statusText?: string;
  /** Attempts made, the first included. */
  readonly attempts: number;
  /** The last attempt's response (or value). Not enumerable. */
  declare readonly response: unknown;
  constructor(init: {
    readonly service: string;
    readonly attempts: number;
    readonly status: number | undefined;
    readonly statusText?: string | undefined;
    /** The reason phrase for the message when the response has no status text (e.g. "Not Found"). */
    readonly phrase?: string | undefined;
    readonly response: unknown;
  }) {
    const { service, attempts, status, statusText, phrase = statusText, response } = init;
    let what: string;
    if (status === undefined) what = `its last attempt returned a value classified dropped: ${describe(response)}`;
    else {
      what = `HTTP ${status}${phrase ? ` ${phrase}` : ''}`;
      if (status < 400) what += ', classified dropped';
    }
    super(ErrorCodes.RESPONSE, `A call to service "${service}" failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${what}`);
    this.service = service;
    this.status = status;
    if (statusText) this.statusText = statusText;
    this.attempts = attempts;
    Object.defineProperty(this, 'response', { value: response, enumerable: false, writable: false, configurable: true });
  }
}

/**
 * A call to a service was made from inside a slot of the same service. With every slot held by a
 * caller that waits for another slot, p-limit would deadlock; sluice refuses the call instead.
 * Release the slot first: return from the call, then issue the follow-up calls.
 */
export class SluiceReentrantCallError extends SluiceError {
  readonly service: string;
  constructor(service: string) {
    super(
      ErrorCodes.SERVICE_REENTRANT,
      `Service "${service}" was called from inside one of its own slots, which can deadlock its limiter: ` +
        'return from the outer call first, then make the follow-up calls',
    );
    this.service = service;
  }
}

/** A job module cannot be used: it failed to load, has no default export, or its definition is invalid. */
export class SluiceJobError extends SluiceError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.JOB_INVALID, `Job module ${file}: ${message}`, options);
    this.file = file;
  }
}

/** A worker's call home failed: no function of that name is exposed, or the bridge is closed. */
export class SluiceBridgeError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.BRIDGE, message, options);
  }
}

/**
 * A journal of a durable run refused to open or to record: another run holds its lock
 * (`ERR_SLUICE_JOURNAL_LOCKED`, `.holder`), a new run where one exists (`ERR_SLUICE_JOURNAL_EXISTS`,
 * `.finished`), a resume where none exists (`ERR_SLUICE_JOURNAL_MISSING`), a resume against a changed
 * input or job (`ERR_SLUICE_JOURNAL_CHANGED`, `.changes`), a retry of the failed tasks of a run that
 * did not finish (`ERR_SLUICE_JOURNAL_UNFINISHED`), or the journal is unreadable, a write
 * failed, or a newer run fenced this one (`ERR_SLUICE_JOURNAL`, `cause`). `.dir` is the journal's folder.
 */
export class SluiceJournalError extends SluiceError {
  readonly dir: string;
  /** The run holding the lock (ERR_SLUICE_JOURNAL_LOCKED); undefined otherwise. */
  readonly holder: { readonly pid: number; readonly host: string; readonly startedAt: string; readonly epoch: number } | undefined;
  /** Whether the existing journal's last run finished (ERR_SLUICE_JOURNAL_EXISTS); undefined otherwise. */
  readonly finished: boolean | undefined;
  /** What changed since the journal was made (ERR_SLUICE_JOURNAL_CHANGED); empty otherwise. */
  readonly changes: ReadonlyArray<{
    readonly field: string;
    readonly was: string | number | undefined;
    readonly now: string | number | undefined;
  }>;
  constructor(
    code:
      | typeof ErrorCodes.JOURNAL_LOCKED
      | typeof ErrorCodes.JOURNAL_EXISTS
      | typeof ErrorCodes.JOURNAL_MISSING
      | typeof ErrorCodes.JOURNAL_CHANGED
      | typeof ErrorCodes.JOURNAL_UNFINISHED
      | typeof ErrorCodes.JOURNAL,
    dir: string,
    message: string,
    details: {
      readonly holder?: SluiceJournalError['holder'];
      readonly finished?: boolean;
      readonly changes?: SluiceJournalError['changes'];
      readonly cause?: unknown;
    } = {},
  ) {
    super(code, message, 'cause' in details ? { cause: details.cause } : undefined);
    this.dir = dir;
    this.holder = details.holder;
    this.finished = details.finished;
    this.changes = details.changes ?? [];
  }
}

/**
 * A queue (BullMQ over Redis) refused or failed: Redis cannot be reached, nothing was ever enqueued
 * on the queue, the queue's job is another one than this (`.changes` lists what differs: the job's
 * name or its module's fingerprint), or what the queue holds cannot be read. `.queue` names it;
 * messages never hold a password.
 */
export class SluiceQueueError extends SluiceError {
  readonly queue: string;
  readonly changes: ReadonlyArray<{ readonly field: string; readonly was: string | undefined; readonly now: string | undefined }>;
  constructor(queue: string, message: string, details: { readonly changes?: SluiceQueueError['changes']; readonly cause?: unknown } = {}) {
    super(ErrorCodes.QUEUE, message, 'cause' in details ? { cause: details.cause } : undefined);
    this.queue = queue;
    this.changes = details.changes ?? [];
  }
}

/** Render a received value for an error message: its value (shortened) and its type. */
export function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = `[Function ${value.name || 'anonymous'}]`;
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (typeof value === 'symbol') shown = value.toString();
  else if (value instanceof URL) shown = value.href;
  else {
    try {
      shown = JSON.stringify(value) ?? String(value);
    } catch {
      shown = Object.prototype.toString.call(value);
    }
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}

/** The message of an error, or the text of any other thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
