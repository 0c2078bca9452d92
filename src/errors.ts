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
  CONFIG: 'ERR_SLUICE_CONFIG',
  USAGE: 'ERR_SLUICE_USAGE',
  JOB_INVALID: 'ERR_SLUICE_JOB_INVALID',
  INPUT_RECORD: 'ERR_SLUICE_INPUT_RECORD',
  BRIDGE: 'ERR_SLUICE_BRIDGE',
  /** A service call's last attempt ended in a failure response (HTTP status >= 400, or a value classified dropped). */
  RESPONSE: 'ERR_SLUICE_RESPONSE',
  /** A value crossing between the main thread and a worker thread cannot be cloned. */
  DATA_CLONE: 'ERR_SLUICE_DATA_CLONE',
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

/** Where a config value came from. */
export type ConfigSource =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string };

/** Say where a config value came from: `default`, `file sluice.config.json`, `env SLUICE_THREADS`, `flag --threads`. */
export function formatSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `file ${source.path}`;
    case 'env':
      return `env ${source.name}`;
    case 'flag':
      return `flag ${source.name}`;
  }
}

/** A config value (from a file, the environment or a flag) has the wrong type or value. */
export class SluiceConfigError extends SluiceError {
  readonly key: string;
  readonly source: ConfigSource;
  readonly expected: string;
  readonly received: unknown;
  constructor(key: string, source: ConfigSource, expected: string, received: unknown) {
    super(ErrorCodes.CONFIG, `Expected config \`${key}\` (from ${formatSource(source)}) to be ${expected}, got ${describe(received)}`);
    this.key = key;
    this.source = source;
    this.expected = expected;
    this.received = received;
  }
}

/** The command line is malformed: an unknown command or flag, a missing argument. */
export class SluiceUsageError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.USAGE, message, options);
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

/** One record of an input file (a JSONL or CSV line) cannot be read; the other records still run. */
export class SluiceInputRecordError extends SluiceError {
  readonly file: string;
  readonly line: number;
  readonly expected: string;
  readonly received: unknown;
  constructor(file: string, line: number, expected: string, received: unknown, cause?: unknown) {
    super(ErrorCodes.INPUT_RECORD, `${file}:${line}: expected ${expected}, got ${describe(received)}`, { cause });
    this.file = file;
    this.line = line;
    this.expected = expected;
    this.received = received;
  }
}

/** A worker's call home failed: no function of that name is exposed, or the bridge is closed. */
export class SluiceBridgeError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.BRIDGE, message, options);
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
