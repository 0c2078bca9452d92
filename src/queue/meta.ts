/**
 * A queue's job, written at its first enqueue into `PREFIX:NAME:sluice`: the job's name, its
 * module's fingerprint (when known), and the run id every job id of the queue starts with. A
 * worker whose job is another one refuses to start; an enqueue of another job onto the queue too.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SluiceQueueError } from '../errors.js';
import { metaKey } from './names.js';

/** What a queue's tasks are for: the job's name and, when known, its module's fingerprint. */
export interface QueueJobIdentity {
  readonly name: string;
  /** A fingerprint of the job's module (the CLI: SHA-256 of its file); undefined: not compared. */
  readonly module?: string | undefined;
}

export interface QueueMeta extends QueueJobIdentity {
  /** Starts every job id of the queue (names.ts). */
  readonly runId: string;
  /** ISO time of the first enqueue. */
  readonly createdAt: string;
  /** Whether `results` read every result since the last enqueue (so `clean` may remove them). */
  readonly resultsRead: boolean;
}

export async function readMeta(client: Redis, prefix: string, queue: string): Promise<QueueMeta | undefined> {
  const fields = await client.hgetall(metaKey(prefix, queue));
  if (fields.runId === undefined || fields.job === undefined) return undefined;
  return {
    name: fields.job,
    ...(fields.module ? { module: fields.module } : {}),
    runId: fields.runId,
    createdAt: fields.createdAt ?? '',
    resultsRead: fields.resultsRead === '1',
  };
}

/** The queue's meta, written now if the queue has none; refuses another job than the one there. */
export async function claimMeta(client: Redis, prefix: string, queue: string, job: QueueJobIdentity): Promise<QueueMeta> {
  const key = metaKey(prefix, queue);
  const runId = randomBytes(4).toString('hex');
  // HSETNX on runId decides the first enqueue; the other fields follow in the same MULTI.
  await client
    .multi()
    .hsetnx(key, 'runId', runId)
    .hsetnx(key, 'job', job.name)
    .hsetnx(key, 'module', job.module ?? '')
    .hsetnx(key, 'createdAt', new Date().toISOString())
    .exec();
  const meta = await readMeta(client, prefix, queue);
  if (meta === undefined) throw new SluiceQueueError(queue, `queue ${queue}: its job record (${key}) could not be written`);
  checkIdentity(queue, meta, job, 'enqueue onto');
  await client.hset(key, 'resultsRead', '0');
  return meta;
}

/** Throws SluiceQueueError (with `.changes`) when `job` is not the queue's job. */
export function checkIdentity(queue: string, meta: QueueMeta, job: QueueJobIdentity, doing: string): void {
  const changes: Array<{ field: string; was: string | undefined; now: string | undefined }> = [];
  if (meta.name !== job.name) changes.push({ field: 'job.name', was: meta.name, now: job.name });
  if (meta.module !== undefined && job.module !== undefined && meta.module !== job.module) {
    changes.push({ field: 'job.module', was: meta.module, now: job.module });
  }
  if (changes.length === 0) return;
  const what = changes.map(
    (c) =>
      `${c.field === 'job.name' ? "the job's name" : "the job module's fingerprint"} is ${JSON.stringify(c.now)}, the queue's ${JSON.stringify(c.was)}`,
  );
  throw new SluiceQueueError(
    queue,
    `cannot ${doing} queue ${queue}: it holds the tasks of another job (${what.join('; ')}); ` +
      'use the job module the queue was enqueued with, or another queue',
    { changes },
  );
}
