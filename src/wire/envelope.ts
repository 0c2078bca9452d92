/**
 * What the cpu stage and its worker entry say to each other through Piscina: the `workerData` a
 * stage gives its threads, and the envelope the entry sends back for each task. A user's error
 * travels as data, so that a rejection from Piscina itself can only mean the thread died (or the
 * task was aborted), and a thrown error keeps its `code` and other own properties, which
 * structured clone would drop. A result that cannot be cloned comes back as a `clone` failure (see
 * ../worker/result-guard.ts). The bridge's links reuse `serializeError` for exposed functions' errors.
 */
import type { BridgeData } from './link.js';

export type FailureKind = 'throw' | 'load' | 'export';

export interface SerializedError {
  readonly isError: boolean;
  /** The thrown value itself when it was not an Error (and could be cloned). */
  readonly value?: unknown;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string | undefined;
  readonly props?: Record<string, unknown>;
  readonly cause?: SerializedError;
}

export type Envelope =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly kind: FailureKind; readonly error: SerializedError }
  | CloneFailure;

/** The result could not be posted back: where its first uncloneable member is, and the clone error. */
export interface CloneFailure {
  readonly ok: false;
  readonly kind: 'clone';
  readonly error: SerializedError;
  /** Undefined when the member could not be found. */
  readonly found: { readonly path: string; readonly received: string } | undefined;
}

/**
 * What the cpu stage posts for each task: the input, with the task's index and key for the
 * worker's context (a bridged stage adds a task id: ./link.ts's `BridgedTask`).
 */
export interface TaskMessage {
  readonly input: unknown;
  readonly index: number;
  /** What the run's `key` function returned; undefined without one (the worker says `String(index)`). */
  readonly key: string | undefined;
}

/**
 * What a batching cpu stage posts: up to B tasks, run one after another on the thread that takes
 * it, column by column (one array per field, not an object per task: a batch of tiny tasks is
 * mostly the cost of copying it). The reply is one `BatchReply`.
 */
export interface BatchMessage {
  /** Each task's input, in order. */
  readonly inputs: readonly unknown[];
  readonly indexes: readonly number[];
  /** Each task's key; undefined when no task of the batch has one. */
  readonly keys: readonly (string | undefined)[] | undefined;
  /** On a bridged stage, each task's id (./link.ts's `BridgedTask`). */
  readonly ids: readonly number[] | undefined;
}

/** A failed task of a batch: its position in the batch and its envelope. */
export interface BatchFailure {
  readonly at: number;
  readonly envelope: Envelope;
}

/**
 * A batch's answer: each task's value in the batch's order (undefined where it failed), the
 * failures (usually none), and the time the thread spent on the batch (ms).
 */
export interface BatchReply {
  readonly values: readonly unknown[];
  readonly failures: readonly BatchFailure[];
  readonly ms: number;
}

export function isBatchMessage(message: TaskMessage | BatchMessage): message is BatchMessage {
  return Array.isArray((message as { inputs?: unknown }).inputs);
}

/** Data the cpu stage gives each worker (Piscina's `workerData`). */
export interface EntryData {
  readonly file: string;
  readonly exportName: string;
  readonly transfer: boolean;
  /** Present only on stages that declare `expose` or `onProgress`: each task message is then a `BridgedTask`. */
  readonly bridge?: BridgeData;
}

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { isError: false, value: cloneable(error) ? error : String(error) };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'cause') continue;
    const v = (error as unknown as Record<string, unknown>)[key];
    if (cloneable(v)) props[key] = v;
  }
  const serialized: SerializedError = {
    isError: true,
    // Coerced: a user's error may carry anything here, and this envelope must always clone.
    name: String(error.name),
    message: String(error.message),
    stack: typeof error.stack === 'string' ? error.stack : undefined,
    props,
    ...(error.cause !== undefined && depth < 3 ? { cause: serializeError(error.cause, depth + 1) } : {}),
  };
  return serialized;
}

export function deserializeError(serialized: SerializedError): unknown {
  if (!serialized.isError) return serialized.value;
  const error = new Error(serialized.message ?? '', serialized.cause ? { cause: deserializeError(serialized.cause) } : undefined);
  Object.defineProperty(error, 'name', { value: serialized.name ?? 'Error', configurable: true, writable: true });
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  Object.assign(error, serialized.props);
  return error;
}

function cloneable(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint') return true;
  if (t === 'function' || t === 'symbol') return false;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}
