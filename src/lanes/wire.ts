/**
 * The messages between the main thread (the dispatcher) and a lane (a worker thread running a copy
 * of the job's pipeline), and errors as they cross. Tasks go out in batches when a lane asks for
 * them (`want`), never pushed; replies come back in batches, one per task: a value, or a failure
 * with its stage and attempts. Structured cloning keeps only the name and message of an Error, so
 * errors cross as `WiredError` records and come back as errors whose JSON (src/json.ts) is the same.
 */
import type { Sample } from '../limits/limit.js';
import type { AttemptEvent, ServiceStats } from '../services/service.js';
import type { ExecutorStats } from '../stats.js';

/** What a lane starts with (its `workerData`). */
export interface LaneInit {
  /** The lane's number, from 0. */
  readonly lane: number;
  readonly lanes: number;
  /** The module (URL) that builds the lane's pipeline: its `buildLane` export (./program.ts). */
  readonly program: string;
  /** What the program needs (cloneable): the job's path, the settings. */
  readonly params: unknown;
  /** The shared permits of each service, by name (./shared-permits.ts). */
  readonly permits: Readonly<Record<string, SharedArrayBuffer>>;
  /** How often the lane posts its stats, in ms. */
  readonly statsIntervalMs: number;
}

/** An error as it crosses threads: enough to rebuild one whose JSON is the original's. */
export interface WiredError {
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string | undefined;
  /** Own primitive fields (`code` among them). */
  readonly fields?: Readonly<Record<string, string | number | boolean | null>>;
  readonly cause?: WiredError;
  /** A thrown value that is not an Error, when it clones. */
  readonly value?: unknown;
}

/** One task's reply: `[index, value]` done, or `[index, undefined, stage, error, attempts]` failed. */
export type Reply =
  | readonly [index: number, value: unknown]
  | readonly [index: number, value: undefined, stage: string, error: WiredError, attempts: number];

/** Samples and attempts of one service, for its limit and observers on the main thread. */
export interface ServiceReport {
  readonly samples: Sample[];
  readonly events: Omit<AttemptEvent, 'service'>[];
}

export type ToLane =
  | { readonly t: 'tasks'; readonly indexes: number[]; readonly keys: (string | undefined)[]; readonly tasks: unknown[] }
  /** Abort what the lane holds: its run ends, and its `ended` names the tasks it did not answer. */
  | { readonly t: 'abort' }
  /** A shared limit moved. */
  | { readonly t: 'limits' }
  /** Finish, close the pipeline and the job's resources, then exit. */
  | { readonly t: 'close' };

export type FromLane =
  | {
      readonly t: 'ready';
      readonly stats: ExecutorStats;
      readonly window: number;
      /** Tasks the lane asks to hold ahead of its pipeline now. */
      readonly ahead: number;
      /** The lane's `performance.timeOrigin`, to put its samples on the main thread's clock. */
      readonly timeOrigin: number;
    }
  | { readonly t: 'refused'; readonly error: WiredError }
  /**
   * Replies, with the services' samples, and `want`: the lane can take that many more tasks (on
   * top of what it asked for already). An ask goes at once, taking the replies gathered so far.
   */
  | { readonly t: 'replies'; readonly replies: Reply[]; readonly services?: Record<string, ServiceReport>; readonly want?: number }
  | {
      readonly t: 'stats';
      readonly stats: ExecutorStats;
      readonly services: Record<string, ServiceStats>;
      readonly window: number;
      readonly ahead: number;
    }
  /** The lane's run ended (an abort, or a fatal error): `held` are the tasks it leaves unanswered. */
  | { readonly t: 'ended'; readonly held: number[]; readonly fatal?: WiredError }
  /** The lane closed its pipeline and the job's resources (`error`: what closing them threw). */
  | { readonly t: 'closed'; readonly error?: WiredError };

/** An error (or any thrown value) as it crosses threads. */
export function wireError(error: unknown, depth = 0): WiredError {
  if (!(error instanceof Error)) return { value: cloneable(error) ? error : String(error) };
  const fields: Record<string, string | number | boolean | null> = {};
  const code = (error as { code?: unknown }).code;
  if (isPrimitive(code)) fields.code = code;
  for (const key of Object.keys(error)) {
    if (key === 'cause' || key === 'stack' || key === 'message' || key === 'name') continue;
    const v = (error as unknown as Record<string, unknown>)[key];
    if (isPrimitive(v)) fields[key] = v;
    else if (typeof v === 'bigint') fields[key] = v.toString();
  }
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    fields,
    ...(error.cause !== undefined && depth < 5 ? { cause: wireError(error.cause, depth + 1) } : {}),
  };
}

/** The error a `WiredError` stands for: an Error with the same name, message, fields and causes. */
export function unwireError(wired: WiredError): unknown {
  if (wired.name === undefined) return wired.value;
  const error = new Error(wired.message ?? '', wired.cause !== undefined ? { cause: unwireError(wired.cause) } : undefined);
  Object.defineProperty(error, 'name', { value: wired.name, writable: true, configurable: true, enumerable: false });
  if (wired.stack !== undefined) error.stack = wired.stack;
  Object.assign(error, wired.fields);
  return error;
}

function isPrimitive(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function cloneable(v: unknown): boolean {
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}
