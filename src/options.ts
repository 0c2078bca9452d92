/**
 * The executor's options: one frozen defaults object, one resolver, one validator. The README's
 * options table and the JSDoc `@default`s agree with `DEFAULTS`. Each stage kind resolves its own
 * options (./stages/io-options.ts, ./stages/cpu-options.ts); this composes them.
 */
import { SluiceOptionError } from './errors.js';
import { CPU_DEFAULTS, resolveCpuStage, type ResolvedCpuStage } from './stages/cpu-options.js';
import { IO_DEFAULTS, resolveIoStage, type ResolvedIoStage } from './stages/io-options.js';
import type { Stage } from './stages/types.js';
import { optionalBool, optionalInt } from './validate.js';

export interface ExecutorOptions {
  /** The stages every task runs through, in order. At least one. */
  readonly stages: readonly Stage[];
  /**
   * Bound of each buffer between two stages (finished upstream, not yet admitted downstream).
   * @default the downstream stage's capacity (for a batching cpu stage, (threads + 1) x B as B moves)
   */
  readonly buffer?: number;
  /**
   * Outcomes held for a consumer that is not pulling; when full, the pipeline stops admitting.
   * @default the last stage's capacity (for a batching cpu stage, (threads + 1) x B as B moves)
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
  exportName: CPU_DEFAULTS.exportName,
  transfer: CPU_DEFAULTS.transfer,
  /** io `timeoutMs` of a stage without a service: 0, no timeout (a service has its own). */
  ioTimeoutMs: IO_DEFAULTS.timeoutMs,
  /** cpu `timeoutMs`: 0, no timeout. */
  cpuTimeoutMs: CPU_DEFAULTS.timeoutMs,
  /** cpu `threads` default, read when options are resolved. */
  threads: CPU_DEFAULTS.threads,
  /** cpu `batch`: sized from the measured task time and hand-off (1 for a stage with `timeoutMs`). */
  batch: CPU_DEFAULTS.batch,
});

export type ResolvedStage = ResolvedIoStage | ResolvedCpuStage;

export interface ResolvedOptions {
  readonly stages: readonly ResolvedStage[];
  /**
   * bounds[i]: the buffer after stage i (stages.length - 1 of them). Unless `bufferSet`, the
   * buffer in front of a batching cpu stage grows with the stage's capacity ((threads + 1) x B).
   */
  readonly bounds: readonly number[];
  /** The executor's `buffer` was given: every bound is fixed. */
  readonly bufferSet: boolean;
  readonly outputBound: number;
  /** The executor's `outputBuffer` was given: the output's bound is fixed (else it follows a batching last stage's capacity). */
  readonly outputSet: boolean;
  readonly ordered: boolean;
  /** The `window` option; undefined: the pipeline's own window, computed as capacities move. */
  readonly window: number | undefined;
  readonly stopOnError: boolean;
}

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
  const outputBuffer = optionalInt(raw.outputBuffer, 'outputBuffer', 1);
  const outputBound = outputBuffer ?? stages[stages.length - 1]!.capacity;
  const ordered = optionalBool(raw.ordered, 'ordered') ?? DEFAULTS.ordered;
  const window = optionalInt(raw.window, 'window', 1);
  const stopOnError = optionalBool(raw.stopOnError, 'stopOnError') ?? DEFAULTS.stopOnError;
  return {
    stages,
    bounds,
    bufferSet: buffer !== undefined,
    outputBound,
    outputSet: outputBuffer !== undefined,
    ordered,
    window,
    stopOnError,
  };
}

/** Checks what every stage has (an object, a name, a known kind), then lets its kind resolve the rest. */
function resolveStage(raw: unknown, path: string): ResolvedStage {
  if (raw === null || typeof raw !== 'object') throw new SluiceOptionError(path, 'a stage made by io(...) or cpu(...)', raw);
  const s = raw as Record<string, unknown>;
  if (typeof s.name !== 'string' || s.name.length === 0) {
    throw new SluiceOptionError(`${path}.name`, 'a non-empty string', s.name);
  }
  if (s.kind === 'io') return resolveIoStage(s, s.name, path);
  if (s.kind === 'cpu') return resolveCpuStage(s, s.name, path);
  throw new SluiceOptionError(`${path}.kind`, '"io" or "cpu"', s.kind);
}
