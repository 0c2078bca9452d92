/**
 * The names of a queue's things in Redis. BullMQ keeps a queue under `PREFIX:NAME:*`; sluice adds
 * two hashes there: `PREFIX:NAME:sluice` (the queue's job and run id, written at the first
 * enqueue) and `PREFIX:NAME:sluice-workers` (each worker's figures, refreshed while it runs).
 *
 * A task's job id is `RUN.KEY64`: the queue's run id and the base64url of the task's key, so the
 * same task enqueued again has the same id and is not added twice (BullMQ refuses ids that are
 * integers or hold ':'; base64url has neither, and the '.' keeps it from being an integer).
 */
import { SluiceOptionError } from '../errors.js';

/** The key prefix of sluice's queues unless one is given. */
export const DEFAULT_PREFIX = 'sluice';

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** Throws SluiceOptionError unless `name` is a queue name sluice accepts. */
export function checkQueueName(name: unknown, field = 'queue'): string {
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    throw new SluiceOptionError(field, 'a queue name: 1 to 100 letters, digits, _ . - (not starting with _ . -)', name);
  }
  return name;
}

/** Throws SluiceOptionError unless `prefix` is a key prefix sluice accepts. */
export function checkPrefix(prefix: unknown, field = 'prefix'): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.{}-]{1,100}$/.test(prefix)) {
    throw new SluiceOptionError(field, 'a key prefix: 1 to 100 letters, digits, _ . - { }', prefix);
  }
  return prefix;
}

export function metaKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:sluice`;
}

export function workersKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:sluice-workers`;
}

/** The job id of the task with `key` in the run `runId`. */
export function jobIdOf(runId: string, key: string): string {
  return `${runId}.${Buffer.from(key, 'utf8').toString('base64url')}`;
}

/** The key of the task behind a job id; undefined for an id sluice did not make. */
export function keyOfJobId(id: string): string | undefined {
  const dot = id.indexOf('.');
  if (dot < 0) return undefined;
  return Buffer.from(id.slice(dot + 1), 'base64url').toString('utf8');
}
