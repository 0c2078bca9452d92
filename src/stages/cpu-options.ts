/**
 * A cpu stage's options, resolved and checked: `cpu(name, file, { threads, batch, exportName, transfer,
 * resourceLimits, timeoutMs, expose, onProgress })`. src/options.ts calls this for each stage of kind 'cpu',
 * once the stage's name is checked.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Exposed, ExposedFunction, TaskProgress } from '../bridge/types.js';
import { SluiceOptionError } from '../errors.js';
import { knownKeys, optionalBool, optionalInt } from '../validate.js';

export const CPU_DEFAULTS = Object.freeze({
  exportName: 'default',
  transfer: true,
  /** cpu `timeoutMs`: 0, no timeout. */
  timeoutMs: 0,
  /** cpu `threads` default, read when options are resolved. */
  threads: (): number => availableParallelism(),
  /** cpu `batch`: sized from the measured task time (1 for a stage with `timeoutMs`). */
  batch: 'auto' as const,
});

export interface ResolvedCpuStage {
  readonly kind: 'cpu';
  readonly name: string;
  /** `file:` URL href of the worker module. */
  readonly file: string;
  /** Worker threads of the pool. */
  readonly threads: number;
  /** The stage's capacity before any batching: its threads (the default bound of the buffer in front of it). */
  readonly capacity: number;
  /** Tasks per message: 'auto' (sized from the measured task time) or a fixed B (1: one task per message). */
  readonly batch: 'auto' | number;
  readonly exportName: string;
  readonly transfer: boolean;
  readonly resourceLimits: Record<string, number> | undefined;
  /** The longest a task may take on its thread, in ms; 0 is none. */
  readonly timeoutMs: number;
  /** A frozen, null-prototype copy of the exposed functions; undefined when there are none. */
  readonly expose: Exposed | undefined;
  readonly onProgress: ((event: TaskProgress) => void) | undefined;
}

/** The options of `cpu(name, file, options)`, as an unknown key's error lists them. */
const CPU_OPTIONS = ['threads', 'batch', 'exportName', 'transfer', 'resourceLimits', 'timeoutMs', 'expose', 'onProgress'];
const CPU_KEYS: ReadonlySet<string> = new Set(['kind', 'name', 'file', ...CPU_OPTIONS]);
const UNKNOWN_KEY = `one of the cpu stage options ${CPU_OPTIONS.join(', ')}`;

/** `s` is a stage object of kind 'cpu' whose `name` is a non-empty string; `path` is where it sits (`stages[0]`). */
export function resolveCpuStage(s: Readonly<Record<string, unknown>>, name: string, path: string): ResolvedCpuStage {
  knownKeys(s, CPU_KEYS, path, UNKNOWN_KEY);
  const file = resolveWorkerFile(s.file, `${path}.file`);
  const capacity = optionalInt(s.threads, `${path}.threads`, 1) ?? CPU_DEFAULTS.threads();
  const exportName = s.exportName ?? CPU_DEFAULTS.exportName;
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw new SluiceOptionError(`${path}.exportName`, 'a non-empty string', exportName);
  }
  const transfer = optionalBool(s.transfer, `${path}.transfer`) ?? CPU_DEFAULTS.transfer;
  const limits = s.resourceLimits;
  if (limits !== undefined && (limits === null || typeof limits !== 'object')) {
    throw new SluiceOptionError(`${path}.resourceLimits`, 'an object of worker resource limits', limits);
  }
  const timeoutMs = s.timeoutMs === undefined ? CPU_DEFAULTS.timeoutMs : s.timeoutMs;
  // setTimeout fires at once for a delay above 2^31 - 1 ms (about 24.8 days).
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= 2_147_483_647)) {
    throw new SluiceOptionError(`${path}.timeoutMs`, 'a number of ms from 0 (no timeout) to 2147483647', timeoutMs);
  }
  const batch = resolveBatch(s.batch, timeoutMs, `${path}.batch`);
  const expose = resolveExpose(s.expose, `${path}.expose`);
  if (s.onProgress !== undefined && typeof s.onProgress !== 'function') {
    throw new SluiceOptionError(`${path}.onProgress`, 'a function ({ stage, index, task, value }) => void', s.onProgress);
  }
  return {
    kind: 'cpu',
    name,
    file,
    threads: capacity,
    capacity,
    batch,
    exportName,
    transfer,
    resourceLimits: limits as Record<string, number> | undefined,
    timeoutMs,
    expose,
    onProgress: s.onProgress as ((event: TaskProgress) => void) | undefined,
  };
}

/** The largest fixed batch: a batch is one message, and every task of it waits for the last. */
const MAX_BATCH = 65_536;

/** `batch`: 'auto', false (1) or a positive integer; a timed stage runs one task per message. */
function resolveBatch(raw: unknown, timeoutMs: number, path: string): 'auto' | number {
  const expected = `'auto', false, or an integer from 1 to ${MAX_BATCH} (tasks per message)`;
  if (raw === undefined || raw === 'auto') return timeoutMs > 0 ? 1 : CPU_DEFAULTS.batch;
  if (raw === false) return 1;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > MAX_BATCH) throw new SluiceOptionError(path, expected, raw);
  if (raw > 1 && timeoutMs > 0) {
    throw new SluiceOptionError(
      path,
      `1 or false with timeoutMs (a task that times out stops its thread, and would take its batch-mates with it), or no timeoutMs`,
      raw,
    );
  }
  return raw;
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
