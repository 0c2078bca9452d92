/** Small checks and bounded waits the queue worker shares. */
import { SluiceOptionError } from '../errors.js';

/** Waits for `work` at most `ms` (its failure ignored): a close must not hang on a Redis that is away. */
export async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** `value`, or a SluiceOptionError naming `field` unless it is an integer >= `min`. */
export function positive(value: number, field: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new SluiceOptionError(field, `an integer >= ${min}`, value);
  return value;
}
