/**
 * A queue worker: runs an executor's pipeline with a queue as its input, on this node. It claims a
 * job only when the pipeline has room (claims.ts), stores each task's outcome exactly as claimed
 * (`moveToCompleted` / `moveToFailed` under the job's token, never fetching a next job with it),
 * renews the locks of the jobs it holds (one timer, at half the lock duration), and runs BullMQ's
 * stalled-job check itself (in manual mode nothing else does), so the jobs of a node that died come
 * back to waiting for the others. A job whose lock was lost may be running on another node: its
 * late outcome is dropped (Redis refuses it anyway), never stored twice.
 *
 * Stopping: `drain` stops claiming and lets held jobs finish and be stored; `abort` (the executor
 * aborts what runs) hands every held job without an outcome back to waiting (`moveToWait`).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ConnectionOptions, Worker } from 'bullmq';
import type { Executor } from '../executor.js';
import { errorJson, toJson } from '../json.js';
import type { Outcome } from '../outcome.js';
import { messageOf, SluiceOptionError, SluiceQueueError } from '../errors.js';
import { Claims, type Held } from './claims.js';
import { loadBullmq } from './load.js';
import { positive, within } from './waits.js';
import type { FailedReason, StoredValue } from './job-data.js';
import { checkIdentity, readMeta, type QueueJobIdentity } from './meta.js';
import { workersKey } from './names.js';
import { openQueue, resolveTarget, type OpenedQueue, type QueueTarget } from './target.js';

export interface QueueWorkerOptions extends QueueTarget {
  /** The pipeline; its `ordered` option does not matter here (each outcome is stored on its own). */
  readonly executor: Executor;
  /** This worker's job: it must be the queue's (name, module fingerprint), or the worker refuses to start. */
  readonly job: QueueJobIdentity;
  /** Stop claiming; held jobs finish and are stored, then the worker ends. */
  readonly drain?: AbortSignal | undefined;
  /** Abort what runs; held jobs without an outcome go back to waiting, then the worker ends. */
  readonly signal?: AbortSignal | undefined;
  /** End once nothing is waiting or delayed and the only active jobs are this worker's. @default false */
  readonly exitWhenDrained?: boolean | undefined;
  /** How long a claimed job's lock lasts unless renewed (renewed at half of it). @default 30000 */
  readonly lockDurationMs?: number | undefined;
  /** How often this worker looks for stalled jobs (a dead node's). @default 30000 */
  readonly stalledIntervalMs?: number | undefined;
  /** How many stalls a job survives; at the next it fails for good. @default 1 */
  readonly maxStalledCount?: number | undefined;
  /** A queue-wide cap on active jobs over every node (BullMQ's global concurrency). */
  readonly globalConcurrency?: number | undefined;
  /** A queue-wide cap on jobs started per window (BullMQ's global rate limit). */
  readonly globalRate?: { readonly max: number; readonly durationMs: number } | undefined;
  /** Each outcome, once stored. */
  readonly onOutcome?: ((outcome: Outcome, task: QueuedTask) => void) | undefined;
  /** What happened to the worker's Redis and jobs (connection lost and back, locks lost, stalled jobs failed). */
  readonly onEvent?: ((event: QueueWorkerEvent) => void) | undefined;
  /** This worker's name in `queueStatus`. @default host:pid:random */
  readonly name?: string | undefined;
}

/** Where an outcome's task came from (its job's data). */
export interface QueuedTask {
  readonly key: string;
  readonly index: number;
  readonly line?: number | undefined;
  readonly task: unknown;
}

export type QueueWorkerEvent =
  | { readonly type: 'redis-error'; readonly message: string }
  | { readonly type: 'redis-back' }
  | { readonly type: 'lock-lost'; readonly key: string }
  | { readonly type: 'late-outcome'; readonly key: string }
  | { readonly type: 'stalled-failed'; readonly key: string; readonly attempts: number };

export interface QueueWorkerStats {
  readonly id: string;
  /** Jobs claimed and not yet stored or handed back. */
  readonly held: number;
  readonly peakHeld: number;
  readonly claimed: number;
  readonly completed: number;
  readonly failed: number;
  /** Jobs handed back to waiting (a stop). */
  readonly handedBack: number;
  /** Outcomes dropped because the job's lock was lost (another node redoes it). */
  readonly dropped: number;
  /** Jobs failed for good after too many stalls. */
  readonly stalledFailed: number;
  /** The queue's counts, as of the last heartbeat (every 2 s). */
  readonly queue: QueueCounts | undefined;
}

export interface QueueCounts {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
}

export interface QueueWorkerResult {
  /** Why it ended: the queue was drained, a drain or abort signal, or the run failed (`error`). */
  readonly reason: 'drained' | 'drain' | 'abort' | 'error';
  readonly error?: unknown;
  readonly stats: QueueWorkerStats;
}

export interface QueueWorker {
  readonly id: string;
  /** The Redis as shown to people (no password). */
  readonly shownAs: string;
  stats(): QueueWorkerStats;
  /** Settles when the worker has stopped and released its connections. */
  readonly done: Promise<QueueWorkerResult>;
}

const HEARTBEAT_MS = 2000;
/** The span a worker's rate is measured over. */
const RATE_WINDOW_MS = 10_000;
/** Outcomes being stored at once, at most, before claims wait. */
const MAX_SETTLING = 16;
const HAND_BACK_TIMEOUT_MS = 10_000;

/**
 * Starts a worker on the queue; rejects with SluiceQueueError when Redis cannot be reached, nothing
 * was enqueued on the queue, or its job is not `options.job`.
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const resolved = resolveTarget(options);
  const lockDuration = positive(options.lockDurationMs ?? 30_000, 'lockDurationMs', 1000);
  const stalledInterval = positive(options.stalledIntervalMs ?? 30_000, 'stalledIntervalMs', 100);
  const maxStalledCount = options.maxStalledCount ?? 1;
  if (!Number.isInteger(maxStalledCount) || maxStalledCount < 0)
    throw new SluiceOptionError('maxStalledCount', 'an integer >= 0', maxStalledCount);
  const onEvent = options.onEvent ?? (() => undefined);
  let redisDown = false;
  const onError = (error: unknown): void => {
    const message = resolved.redact(messageOf(error));
    if (!redisDown) onEvent({ type: 'redis-error', message });
    redisDown = true;
  };
  const onOk = (): void => {
    if (!redisDown) return;
    redisDown = false;
    onEvent({ type: 'redis-back' });
  };

  const opened = await openQueue(options, (message) => onError(new Error(message)));
  let worker: Worker | undefined;
  try {
    const meta = await readMeta(opened.client, opened.prefix, opened.name);
    if (meta === undefined) {
      throw new SluiceQueueError(
        opened.name,
        `queue ${opened.name} on ${opened.shownAs} has no tasks of sluice's (nothing was enqueued on it): run sluice enqueue first`,
      );
    }
    checkIdentity(opened.name, meta, options.job, 'work on');
    if (options.globalConcurrency !== undefined)
      await opened.queue.setGlobalConcurrency(positive(options.globalConcurrency, 'globalConcurrency', 1));
    if (options.globalRate !== undefined) {
      await opened.queue.setGlobalRateLimit(
        positive(options.globalRate.max, 'globalRate.max', 1),
        positive(options.globalRate.durationMs, 'globalRate.durationMs', 1),
      );
    }
    const id = options.name ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const { Worker: BullWorker } = await loadBullmq();
    worker = new BullWorker(opened.name, null, {
      connection: resolved.connection as ConnectionOptions,
      prefix: opened.prefix,
      autorun: false,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      drainDelay: 1,
      name: id,
    });
    worker.on('error', (error: Error) => onError(error));
    await worker.startStalledCheckTimer();
    return run(options, opened, worker, id, lockDuration, { onEvent, onError, onOk });
  } catch (error) {
    await worker?.close(true).catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw error;
  }
}

interface Hooks {
  readonly onEvent: (event: QueueWorkerEvent) => void;
  readonly onError: (error: unknown) => void;
  readonly onOk: () => void;
}

function run(
  options: QueueWorkerOptions,
  opened: OpenedQueue,
  worker: Worker,
  id: string,
  lockDuration: number,
  hooks: Hooks,
): QueueWorker {
  const { executor } = options;
  const stop = new AbortController();
  const stopOn = (signal: AbortSignal | undefined): void => {
    if (signal === undefined) return;
    if (signal.aborted) stop.abort();
    else signal.addEventListener('abort', () => stop.abort(), { once: true });
  };
  stopOn(options.drain);
  stopOn(options.signal);
  const claims = new Claims({
    worker,
    queue: opened.queue,
    id,
    exitWhenDrained: options.exitWhenDrained === true,
    maxSettling: MAX_SETTLING,
    stop: stop.signal,
    onError: hooks.onError,
    onOk: hooks.onOk,
    onStalledFailed: ({ key, attempts }) => hooks.onEvent({ type: 'stalled-failed', key, attempts }),
  });
  let completed = 0;
  let failed = 0;
  let dropped = 0;
  let counts: QueueCounts | undefined;
  const started = new Date().toISOString();
  const stats = (): QueueWorkerStats => ({
    id,
    held: claims.held.size,
    peakHeld: claims.peakHeld,
    claimed: claims.claimed,
    completed,
    failed: failed + claims.stalledFailed,
    handedBack: claims.handedBack,
    dropped,
    stalledFailed: claims.stalledFailed,
    queue: counts,
  });

  const renew = async (): Promise<void> => {
    const held = [...claims.held.values()].filter((h) => !h.lost);
    if (held.length === 0) return;
    try {
      const missed = new Set(
        await worker.extendJobLocks(
          held.map((h) => h.job.id!),
          held.map((h) => h.token),
          lockDuration,
        ),
      );
      hooks.onOk();
      for (const h of held) {
        if (!missed.has(h.job.id!) || h.lost) continue;
        // Stored meanwhile (no longer held): not a loss.
        if (![...claims.held.values()].includes(h)) continue;
        h.lost = true;
        hooks.onEvent({ type: 'lock-lost', key: h.data.k });
      }
    } catch (error) {
      hooks.onError(error);
    }
  };
  const renewTimer = setInterval(() => void renew(), Math.max(250, Math.floor(lockDuration / 2)));
  const samples: Array<[number, number]> = [];
  const refreshCounts = async (): Promise<void> => {
    const c = await opened.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    counts = {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    };
  };
  const heartbeat = async (): Promise<void> => {
    try {
      await refreshCounts();
      const s = stats();
      const now = Date.now();
      samples.push([now, s.completed + s.failed]);
      while (samples.length > 1 && now - samples[0]![0] > RATE_WINDOW_MS) samples.shift();
      const [t0, n0] = samples[0]!;
      const rate = now > t0 ? ((s.completed + s.failed - n0) * 1000) / (now - t0) : 0;
      await opened.client.hset(
        workersKey(opened.prefix, opened.name),
        id,
        JSON.stringify({
          id,
          pid: process.pid,
          host: hostname(),
          started,
          updated: now,
          rate,
          held: s.held,
          claimed: s.claimed,
          completed: s.completed,
          failed: s.failed,
        }),
      );
      hooks.onOk();
    } catch (error) {
      hooks.onError(error);
    }
  };
  const heartbeatTimer = setInterval(() => void heartbeat(), HEARTBEAT_MS);
  void heartbeat();

  const settling = new Set<Promise<void>>();
  const store = (outcome: Outcome, held: Held): Promise<void> => {
    const { job, token, data } = held;
    const task: QueuedTask = { key: data.k, index: data.i, ...(data.l !== undefined ? { line: data.l } : {}), task: data.t };
    if (held.lost) {
      dropped += 1;
      hooks.onEvent({ type: 'late-outcome', key: data.k });
      claims.release(outcome.index);
      return Promise.resolve();
    }
    claims.settling += 1;
    const write = outcome.ok
      ? job.moveToCompleted({ v: toJson(outcome.value) } satisfies StoredValue, token, false)
      : job.moveToFailed(
          new Error(
            JSON.stringify({ stage: outcome.stage, attempts: outcome.attempts, error: errorJson(outcome.error) } satisfies FailedReason),
          ),
          token,
          false,
        );
    return write.then(
      () => {
        hooks.onOk();
        if (outcome.ok) completed += 1;
        else failed += 1;
        claims.settling -= 1;
        claims.release(outcome.index);
        options.onOutcome?.(outcome, task);
      },
      (error: unknown) => {
        claims.settling -= 1;
        claims.release(outcome.index);
        // -2: the job is gone, -6: its lock is another's: another node has it; the outcome is dropped.
        const code = (error as { code?: unknown } | null)?.code;
        if (code === -2 || code === -6 || held.lost) {
          dropped += 1;
          hooks.onEvent({ type: 'late-outcome', key: data.k });
        } else hooks.onError(error);
      },
    );
  };

  const done = (async (): Promise<QueueWorkerResult> => {
    let error: unknown;
    try {
      const outcomes = executor.run(claims, {
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        drain: stop.signal,
        key: (_task, index) => claims.held.get(index)?.data.k ?? String(index),
      });
      for await (const outcome of outcomes) {
        const held = claims.held.get(outcome.index);
        if (held === undefined) continue;
        const p = store(outcome, held);
        settling.add(p);
        void p.finally(() => settling.delete(p));
      }
    } catch (e) {
      error = e;
    }
    await within(claims.close(), HAND_BACK_TIMEOUT_MS);
    await within(Promise.allSettled([...settling]), HAND_BACK_TIMEOUT_MS);
    // Held jobs without an outcome (an abort, a failed run): back to waiting for another node.
    const unfinished = [...claims.held.values()].filter((h) => !h.lost);
    await within(
      Promise.allSettled(
        unfinished.map((h) =>
          h.job.moveToWait(h.token).then(() => {
            claims.handedBack += 1;
          }),
        ),
      ),
      HAND_BACK_TIMEOUT_MS,
    );
    claims.held.clear();
    clearInterval(renewTimer);
    clearInterval(heartbeatTimer);
    // The queue as this worker leaves it, for its last report.
    await within(refreshCounts(), 2000);
    await within(opened.client.hdel(workersKey(opened.prefix, opened.name), id), 2000);
    await within(worker.close(true), HAND_BACK_TIMEOUT_MS);
    await within(opened.close(), HAND_BACK_TIMEOUT_MS);
    const reason =
      error !== undefined && !options.signal?.aborted ? 'error' : options.signal?.aborted ? 'abort' : claims.drained ? 'drained' : 'drain';
    return { reason, ...(error !== undefined ? { error } : {}), stats: stats() };
  })();
  return { id, shownAs: opened.shownAs, stats, done };
}
