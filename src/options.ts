/**
 * The executor's options: one frozen defaults object, one resolver, one validator. The README's
 * options table and the JSDoc `@default`s agree with `DEFAULTS`.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SluiceOptionError } from './errors.js';
import { isService, type Service } from './services/service.js';
import type { IoFunction, Stage } from './stages/types.js';
import type { Exposed, ExposedFunction, TaskProgress } from './bridge/types.js';

export interface ExecutorOptions {
  /** The stages every task runs through, in order. At least one. */
  readonly stages: readonly Stage[];
  /**
   * Bound of each buffer between two stages (finished upstream, not yet admitted downstream).
   * @default the downstream stage's capacity
   */
  readonly buffer?: number;
  /**
   * Outcomes held for a consumer that is not pulling; when full, the pipeline stops admitting.
   * @default the last stage's capacity
   */
  readonly outputBuffer?: number;
  /**
   * Yield outcomes in input order instead of as they finish.
   * @default false
   */
  readonly ordered?: boolean;
  /**
   * Tasks pulled but not yet yielded, at most (with `ordered`, the reorder window).
   * @default the pipeline's window: stage capacities (as they are now: a service's limit moves)
   * + buffer bounds + output buffer
   */
  readonly window?: number;
  /**
   * Stop at the first failed task: admit nothing more, settle what is in flight, yield what
   * finished, then reject with a `SluiceError` (code `ERR_SLUICE_TASK_FAILED`) carrying the outcome.
   * @default false
   */
  readonly stopOnError?: boolean;
}

export const DEFAULTS = Object.freeze({
  ordered: false,
  stopOnError: false,
  exportName: 'default',
  transfer: true,
  /** io `timeoutMs` of a stage without a service: 0, no timeout (a service has its own). */
  ioTimeoutMs: 0,
  /** cpu `threads` default, read when options are resolved. */
  threads: (): number => availableParallelism(),
});

export interface ResolvedIoStage {
  readonly kind: 'io';
  readonly name: string;
  readonly fn: IoFunction;
  /** Fixed concurrency, or the service's limit when the stage was created. */
  readonly capacity: number;
  readonly service: Service | undefined;
  /** Per-attempt timeout of a stage without a service, in ms; 0 is none (a service times its own calls). */
  readonly timeoutMs: number;
}

export interface ResolvedCpuStage {
  readonly kind: 'cpu';
  readonly name: string;
  /** `file:` URL href of the worker module. */
  readonly file: string;
  readonly capacity: number;
  readonly exportName: string;
  readonly transfer: boolean;
  readonly resourceLimits: Record<string, number> | undefined;
  /** A frozen, null-prototype copy of the exposed functions; undefined when there are none. */
  readonly expose: Exposed | undefined;
  readonly onProgress: ((event: TaskProgress) => void) | undefined;
}

export type ResolvedStage = ResolvedIoStage | ResolvedCpuStage;

export interface ResolvedOptions {
  readonly stages: readonly ResolvedStage[];
  /** bounds[i]: the buffer after stage i (stages.length - 1 of them). */
  readonly bounds: readonly number[];
  readonly outputBound: number;
  readonly ordered: boolean;
  /** The `window` option; undefined: the pipeline's own window, computed as capacities move. */
  readonly window: number | undefined;
  readonly stopOnError: boolean;
}

const IO_KEYS = new Set(['kind', 'name', 'fn', 'concurrency', 'service', 'timeoutMs']);
const CPU_KEYS = new Set(['kind', 'name', 'file', 'threads', 'exportName', 'transfer', 'resourceLimits', 'expose', 'onProgress']);
const KNOWN_OPTIONS = new Set(['stages', 'buffer', 'outputBuffer', 'ordered', 'window', 'stopOnError']);

export function resolveOptions(raw: ExecutorOptions): ResolvedOptions {
  if (raw === null || typeof raw !== 'object') throw new SluiceOptionError('options', 'an object', raw);
  for (const key of Object.keys(raw)) {
    if (!KNOWN_OPTIONS.has(key)) throw new SluiceOptionError(key, `one of the options ${[...KNOWN_OPTIONS].join(', ')}`, key);
  }
  const list: unknown = raw.stages;
  if (!Array.isArray(list) || list.length === 0) {
    throw new SluiceOptionError('stages', 'a non-empty array of stages (io(...) or cpu(...))', list);
  }
  const names = new Set<string>();
  const stages = list.map((s: unknown, i) => {
    const stage = resolveStage(s, `stages[${i}]`);
    if (names.has(stage.name)) throw new SluiceOptionError(`stages[${i}].name`, 'a name no other stage has', stage.name);
    names.add(stage.name);
    return stage;
  });
  const buffer = optionalInt(raw.buffer, 'buffer', 1);
  const bounds = stages.slice(1).map((s) => buffer ?? s.capacity);
  const outputBound = optionalInt(raw.outputBuffer, 'outputBuffer', 1) ?? stages[stages.length - 1]!.capacity;
  const ordered = optionalBool(raw.ordered, 'ordered') ?? DEFAULTS.ordered;
  const window = optionalInt(raw.window, 'window', 1);
  const stopOnError = optionalBool(raw.stopOnError, 'stopOnError') ?? DEFAULTS.stopOnError;
  return { stages, bounds, outputBound, ordered, window, stopOnError };
}

function resolveStage(raw: unknown, path: string): ResolvedStage {
  if (raw === null || typeof raw !== 'object') throw new SluiceOptionError(path, 'a stage made by io(...) or cpu(...)', raw);
  const s = raw as Record<string, unknown>;
  if (typeof s.name !== 'string' || s.name.length === 0) {
    throw new SluiceOptionError(`${path}.name`, 'a non-empty string', s.name);
  }
  const known = s.kind === 'io' ? IO_KEYS : s.kind === 'cpu' ? CPU_KEYS : undefined;
  for (const key of known ? Object.keys(s) : []) {
    if (!known!.has(key)) throw new SluiceOptionError(`${path}.${key}`, `one of the ${String(s.kind)} stage options ${[...known!].filter((k) => k !== 'kind' && k !== 'name' && k !== 'fn' && k !== 'file').join(', ')}`, key);
  }
  if (s.kind === 'io') {
    if (typeof s.fn !== 'function') throw new SluiceOptionError(`${path}.fn`, 'a function (input, ctx) => result', s.fn);
    if (s.service !== undefined) {
      if (!isService(s.service)) throw new SluiceOptionError(`${path}.service`, 'a service made by service(name, options)', s.service);
      if (s.concurrency !== undefined) {
        throw new SluiceOptionError(`${path}.concurrency`, 'to be left out when the stage has a service (its limiter sets the concurrency)', s.concurrency);
      }
      if (s.timeoutMs !== undefined) {
        throw new SluiceOptionError(`${path}.timeoutMs`, "to be left out when the stage has a service (set the service's own timeoutMs)", s.timeoutMs);
      }
      return { kind: 'io', name: s.name, fn: s.fn as IoFunction, capacity: s.service.limit.current, service: s.service, timeoutMs: 0 };
    }
    const capacity = requiredInt(s.concurrency, `${path}.concurrency`, 1);
    const timeoutMs = s.timeoutMs === undefined ? DEFAULTS.ioTimeoutMs : s.timeoutMs;
    // setTimeout fires at once for a delay above 2^31 - 1 ms (about 24.8 days).
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= 2_147_483_647)) {
      throw new SluiceOptionError(`${path}.timeoutMs`, 'a number of ms from 0 (no timeout) to 2147483647', timeoutMs);
    }
    return { kind: 'io', name: s.name, fn: s.fn as IoFunction, capacity, service: undefined, timeoutMs };
  }
  if (s.kind === 'cpu') {
    const file = resolveWorkerFile(s.file, `${path}.file`);
    const capacity = optionalInt(s.threads, `${path}.threads`, 1) ?? DEFAULTS.threads();
    const exportName = s.exportName ?? DEFAULTS.exportName;
    if (typeof exportName !== 'string' || exportName.length === 0) {
      throw new SluiceOptionError(`${path}.exportName`, 'a non-empty string', exportName);
    }
    const transfer = optionalBool(s.transfer, `${path}.transfer`) ?? DEFAULTS.transfer;
    const limits = s.resourceLimits;
    if (limits !== undefined && (limits === null || typeof limits !== 'object')) {
      throw new SluiceOptionError(`${path}.resourceLimits`, 'an object of worker resource limits', limits);
    }
    const expose = resolveExpose(s.expose, `${path}.expose`);
    if (s.onProgress !== undefined && typeof s.onProgress !== 'function') {
      throw new SluiceOptionError(`${path}.onProgress`, 'a function ({ stage, index, task, value }) => void', s.onProgress);
    }
    return {
      kind: 'cpu',
      name: s.name,
      file,
      capacity,
      exportName,
      transfer,
      resourceLimits: limits as Record<string, number> | undefined,
      expose,
      onProgress: s.onProgress as ((event: TaskProgress) => void) | undefined,
    };
  }
  throw new SluiceOptionError(`${path}.kind`, '"io" or "cpu"', s.kind);
}

/** A cpu stage's `expose`: a plain object of functions, copied so later edits cannot desync the workers' list of names. */
function resolveExpose(raw: unknown, path: string): Exposed | undefined {
  if (raw === undefined) return undefined;
  const proto: unknown = raw !== null && typeof raw === 'object' ? Object.getPrototypeOf(raw) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new SluiceOptionError(path, 'a plain object of functions, e.g. { lookup(id) { ... } }', raw);
  }
  const copy = Object.create(null) as Record<string, ExposedFunction>;
  for (const key of Object.keys(raw as object)) {
    const fn = (raw as Record<string, unknown>)[key];
    if (key === 'then') {
      throw new SluiceOptionError(`${path}.then`, 'another name (a host object with `then` would look like a promise to workers)', fn);
    }
    if (typeof fn !== 'function') throw new SluiceOptionError(`${path}.${key}`, 'a function', fn);
    copy[key] = fn as ExposedFunction;
  }
  return Object.keys(copy).length > 0 ? Object.freeze(copy) : undefined;
}

function resolveWorkerFile(raw: unknown, path: string): string {
  const expected = 'an absolute path or file: URL of an existing worker module';
  let filePath: string;
  if (raw instanceof URL || (typeof raw === 'string' && raw.startsWith('file:'))) {
    const url = raw instanceof URL ? raw : safeUrl(raw);
    if (url === undefined || url.protocol !== 'file:') throw new SluiceOptionError(path, expected, raw);
    filePath = fileURLToPath(url);
  } else if (typeof raw === 'string' && isAbsolute(raw)) {
    filePath = raw;
  } else {
    throw new SluiceOptionError(path, `${expected} (resolve it from your module: new URL('./w.js', import.meta.url))`, raw);
  }
  let isFile = false;
  try {
    isFile = statSync(filePath).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new SluiceOptionError(path, `${expected} (no file at ${filePath})`, raw);
  return pathToFileURL(filePath).href;
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function requiredInt(value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new SluiceOptionError(path, `an integer >= ${min}`, value);
  }
  return value;
}

function optionalInt(value: unknown, path: string, min: number): number | undefined {
  return value === undefined ? undefined : requiredInt(value, path, min);
}

function optionalBool(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new SluiceOptionError(path, 'a boolean', value);
  return value;
}
