/**
 * Putting a job's tasks on a queue: each task becomes one BullMQ job whose id is made of the
 * queue's run id and the task's key (names.ts), added in chunks (`addBulk`). A chunk first asks
 * Redis which of its ids exist (one EXISTS each, pipelined): those are counted as already there
 * and not added, so enqueueing the same input again adds nothing twice (BullMQ's addBulk would
 * skip them too, silently, and add a removed job again). Jobs are kept when they complete or fail:
 * their outcome is the run's result, read by `queueResults`, and a kept id is what makes a
 * re-enqueue add nothing.
 */
import type { Job } from '../job.js';
import { SluiceOptionError, messageOf } from '../errors.js';
import { claimMeta, type QueueJobIdentity } from './meta.js';
import { jobIdOf } from './names.js';
import { openQueue, type QueueTarget } from './target.js';
import type { JobData } from './job-data.js';

/** One task to enqueue: its key (the job id), its place in the input, and the task itself (JSON). */
export interface QueueEntry {
  readonly key: string;
  /** Its record's position in the input, from 0. */
  readonly position: number;
  /** Its place among the input's tasks, from 0: the `index` of its result line. */
  readonly index: number;
  /** Its line in the input file, when it came from one. */
  readonly line?: number | undefined;
  readonly task: unknown;
}

export interface EnqueueOptions extends QueueTarget {
  /** Tasks per `addBulk`. @default 500 */
  readonly chunkSize?: number;
  /** Stops between chunks: what was added stays, the rest is not enqueued (the result says how far it got). */
  readonly signal?: AbortSignal;
  /** After each chunk: the counts so far. */
  readonly onChunk?: (counts: EnqueueCounts) => void;
  /** A task that cannot be enqueued (its key failed, or it is not JSON): reported, the rest goes on. */
  readonly onRejected?: (rejected: { readonly position: number; readonly error: Error }) => void;
}

export interface EnqueueCounts {
  /** Jobs added by this enqueue. */
  readonly added: number;
  /** Tasks whose job was on the queue already (waiting, active, completed or failed). */
  readonly existing: number;
  /** Tasks that could not be enqueued (`onRejected`). */
  readonly rejected: number;
}

export interface EnqueueResult extends EnqueueCounts {
  /** The queue's run id (every job id starts with it). */
  readonly runId: string;
  /** Whether the whole input was enqueued (false when `signal` stopped it). */
  readonly complete: boolean;
}

const DEFAULT_CHUNK = 500;

/**
 * Enqueues `entries` for the job `identity` onto the queue (the queue records the job at its first
 * enqueue; another job's enqueue onto it is refused with SluiceQueueError).
 */
export async function enqueueEntries(
  identity: QueueJobIdentity,
  entries: Iterable<QueueEntry> | AsyncIterable<QueueEntry>,
  options: EnqueueOptions,
): Promise<EnqueueResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 10_000) {
    throw new SluiceOptionError('chunkSize', 'an integer from 1 to 10000', chunkSize);
  }
  const opened = await openQueue(options);
  try {
    const meta = await claimMeta(opened.client, opened.prefix, opened.name, identity);
    let added = 0;
    let existing = 0;
    let rejected = 0;
    let chunk: Array<{ id: string; data: JobData }> = [];
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const pipeline = opened.client.pipeline();
      for (const { id } of chunk) pipeline.exists(opened.queue.toKey(id));
      const found = (await pipeline.exec()) ?? [];
      const fresh = chunk.filter((_, i) => found[i]?.[1] !== 1);
      if (fresh.length > 0) {
        await opened.queue.addBulk(
          fresh.map(({ id, data }) => ({
            name: 'task',
            data,
            opts: { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false },
          })),
        );
      }
      added += fresh.length;
      existing += chunk.length - fresh.length;
      chunk = [];
      options.onChunk?.({ added, existing, rejected });
    };
    let complete = true;
    for await (const entry of entries) {
      const data = jobData(entry);
      if (data instanceof Error) {
        rejected += 1;
        options.onRejected?.({ position: entry.position, error: data });
        continue;
      }
      chunk.push({ id: jobIdOf(meta.runId, entry.key), data });
      if (chunk.length >= chunkSize) {
        await flush();
        if (options.signal?.aborted === true) {
          complete = false;
          break;
        }
      }
    }
    await flush();
    return { added, existing, rejected, runId: meta.runId, complete };
  } finally {
    await opened.close();
  }
}

/** The job's tasks (`input`, else the job's own input) onto the queue; each keyed by `job.key(task)`, else its position. */
export async function enqueue<T>(
  job: Job<T>,
  input: Iterable<T> | AsyncIterable<T> | undefined,
  options: EnqueueOptions & { readonly module?: string },
): Promise<EnqueueResult> {
  const source = input ?? (typeof job.input === 'function' ? job.input() : job.input);
  if (source === undefined) throw new SluiceOptionError('input', 'the tasks to enqueue (the job has no input of its own)', input);
  const keyOf = job.key as ((task: T) => unknown) | undefined;
  const rejects: Array<{ position: number; error: Error }> = [];
  async function* entries(): AsyncGenerator<QueueEntry> {
    let position = 0;
    for await (const task of source as AsyncIterable<T>) {
      const at = position++;
      let key: unknown = String(at);
      if (keyOf !== undefined) {
        try {
          key = keyOf(task);
        } catch (error) {
          rejects.push({
            position: at,
            error: new SluiceOptionError('key', `a key for task #${at} (key() threw: ${messageOf(error)})`, task),
          });
          continue;
        }
      }
      if (typeof key !== 'string' || key.length === 0) {
        rejects.push({
          position: at,
          error: new SluiceOptionError('key', `a non-empty string, what key(task) returns (task #${at})`, key),
        });
        continue;
      }
      yield { key, position: at, index: at, task };
    }
  }
  const result = await enqueueEntries({ name: job.name ?? 'job', module: options.module }, entries(), options);
  for (const rejected of rejects) options.onRejected?.(rejected);
  return { ...result, rejected: result.rejected + rejects.length };
}

/** What a job holds: the task and where it came from; an Error when the task is not JSON. */
function jobData(entry: QueueEntry): JobData | Error {
  let text: string | undefined;
  try {
    text = JSON.stringify(entry.task);
  } catch (error) {
    return new SluiceOptionError('task', `a JSON value (task #${entry.position}: ${messageOf(error)})`, entry.task);
  }
  if (text === undefined) return new SluiceOptionError('task', `a JSON value (task #${entry.position})`, entry.task);
  return { k: entry.key, p: entry.position, i: entry.index, ...(entry.line !== undefined ? { l: entry.line } : {}), t: entry.task };
}
