/**
 * An io stage's options, resolved and checked: `io(name, fn, { concurrency | service, timeoutMs })`.
 * src/options.ts calls this for each stage of kind 'io', once the stage's name is checked.
 */
import { SluiceOptionError } from '../errors.js';
import { isService, type Service } from '../services/service.js';
import { knownKeys, requiredInt } from '../validate.js';
import type { IoFunction } from './types.js';

export const IO_DEFAULTS = Object.freeze({
  /** io `timeoutMs` of a stage without a service: 0, no timeout (a service has its own). */
  timeoutMs: 0,
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

/** The options of `io(name, fn, options)`, as an unknown key's error lists them. */
const IO_OPTIONS = ['concurrency', 'service', 'timeoutMs'];
const IO_KEYS: ReadonlySet<string> = new Set(['kind', 'name', 'fn', ...IO_OPTIONS]);
const UNKNOWN_KEY = `one of the io stage options ${IO_OPTIONS.join(', ')}`;

/** `s` is a stage object of kind 'io' whose `name` is a non-empty string; `path` is where it sits (`stages[0]`). */
export function resolveIoStage(s: Readonly<Record<string, unknown>>, name: string, path: string): ResolvedIoStage {
  knownKeys(s, IO_KEYS, path, UNKNOWN_KEY);
  if (typeof s.fn !== 'function') throw new SluiceOptionError(`${path}.fn`, 'a function (input, ctx) => result', s.fn);
  if (s.service !== undefined) {
    if (!isService(s.service)) throw new SluiceOptionError(`${path}.service`, 'a service made by service(name, options)', s.service);
    if (s.concurrency !== undefined) {
      throw new SluiceOptionError(
        `${path}.concurrency`,
        'to be left out when the stage has a service (its limiter sets the concurrency)',
        s.concurrency,
      );
    }
    if (s.timeoutMs !== undefined) {
      throw new SluiceOptionError(
        `${path}.timeoutMs`,
        "to be left out when the stage has a service (set the service's own timeoutMs)",
        s.timeoutMs,
      );
    }
    return { kind: 'io', name, fn: s.fn as IoFunction, capacity: s.service.limit.current, service: s.service, timeoutMs: 0 };
  }
  const capacity = requiredInt(s.concurrency, `${path}.concurrency`, 1);
  const timeoutMs = s.timeoutMs === undefined ? IO_DEFAULTS.timeoutMs : s.timeoutMs;
  // setTimeout fires at once for a delay above 2^31 - 1 ms (about 24.8 days).
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= 2_147_483_647)) {
    throw new SluiceOptionError(`${path}.timeoutMs`, 'a number of ms from 0 (no timeout) to 2147483647', timeoutMs);
  }
  return { kind: 'io', name, fn: s.fn as IoFunction, capacity, service: undefined, timeoutMs };
}
