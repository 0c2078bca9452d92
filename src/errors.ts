/**
 * Error classes with stable codes. Tests and users match on `code` (and class), never on message
 * text. Every error sluice raises is a `SluiceError`.
 */

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
}

/** An option has the wrong type or value. Names the option, the expected and the received value. */
export class SluiceOptionError extends SluiceError {
  readonly option: string;
  readonly expected: string;
  readonly received: unknown;
  constructor(option: string, expected: string, received: unknown) {
    super(
      ErrorCodes.INVALID_OPTION,
      `Expected \`${option}\` to be ${expected}, got ${describe(received)}`,
    );
    this.option = option;
    this.expected = expected;
    this.received = received;
  }
}

/** The run was aborted through its `signal`; `reason` (and `cause`) is the signal's reason. */
export class SluiceAbortError extends SluiceError {
  readonly reason: unknown;
  constructor(reason: unknown) {
    super(ErrorCodes.ABORTED, `The run was aborted: ${reasonText(reason)}`, { cause: reason });
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

/** The executor cannot run now: it is closed, or another run is active. */
export class SluiceStateError extends SluiceError {}

/** The input iterable threw while sluice pulled from it; what was in flight was settled first. */
export class SluiceInputError extends SluiceError {
  constructor(pulled: number, cause: unknown) {
    super(ErrorCodes.INPUT_FAILED, `The input threw after ${pulled} task(s) were pulled: ${reasonText(cause)}`, {
      cause,
    });
  }
}

/** A call to a service took longer than its `timeoutMs`; counts as dropped (a loss signal). */
export class SluiceTimeoutError extends SluiceError {
  readonly service: string;
  readonly timeoutMs: number;
  constructor(service: string, timeoutMs: number) {
    super(ErrorCodes.TIMEOUT, `A call to service "${service}" timed out after ${timeoutMs} ms`);
    this.service = service;
    this.timeoutMs = timeoutMs;
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

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return String(reason);
}
