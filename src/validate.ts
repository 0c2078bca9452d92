/**
 * The small checks option resolvers share (the executor's options and each stage kind's): each
 * returns the value or throws a `SluiceOptionError` naming the option's path.
 */
import { SluiceOptionError } from './errors.js';

export function requiredInt(value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new SluiceOptionError(path, `an integer >= ${min}`, value);
  }
  return value;
}

export function optionalInt(value: unknown, path: string, min: number): number | undefined {
  return value === undefined ? undefined : requiredInt(value, path, min);
}

export function optionalBool(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new SluiceOptionError(path, 'a boolean', value);
  return value;
}

/** Refuses the first key of `raw` that `known` lacks, as `<path>.<key>`; `expected` lists the known ones. */
export function knownKeys(raw: object, known: ReadonlySet<string>, path: string, expected: string): void {
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new SluiceOptionError(`${path}.${key}`, expected, key);
  }
}
