/**
 * Task keys: a run's `key` function is called once per task, when it is pulled, and the key travels
 * on its item to every stage (`ctx.key`) and to its outcome. Without a `key` function the key is
 * `String(index)`, made only where it is read (`ctx.key`): making it for every task cost the 1 µs
 * io path about 8%, so the item and the outcome carry no key then.
 *
 * A key function that throws, or returns anything but a non-empty string, is the job's bug with
 * that task, not the run's: the task fails at the first stage without running it (`attempts` 0),
 * with what the function threw or a `SluiceOptionError` naming the `key` option and what it
 * returned; its outcome has no key; the other tasks go on.
 */
import { SluiceOptionError } from '../errors.js';
import { StageFailure } from '../stages/runner.js';
import type { Item } from './stages.js';

/** A run's `key` option: the key of the task at `index`, a non-empty string. */
export type KeyFunction = (task: unknown, index: number) => string;

/** The item of the task pulled at `index`: with its key, or refused with why. */
export function newItem(key: KeyFunction | undefined, index: number, task: unknown): Item {
  if (key === undefined) return { index, task, value: task, key: undefined };
  let result: unknown;
  try {
    result = key(task, index);
  } catch (error) {
    return { index, task, value: task, key: undefined, refused: new StageFailure(error, 0) };
  }
  if (typeof result === 'string' && result.length > 0) return { index, task, value: task, key: result };
  const error = new SluiceOptionError('key', `a non-empty string, what key(task, index) returns for each task (task #${index})`, result);
  return { index, task, value: task, key: undefined, refused: new StageFailure(error, 0) };
}
