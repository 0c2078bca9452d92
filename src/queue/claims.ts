/**
 * The input of a queue worker: an async iterator that claims one job per `next()` (BullMQ's manual
 * API: `getNextJob(token, { block: true })`, a token of its own per job). The executor calls
 * `next()` only when its first stage has room, so a node holds at most its pipeline's window of
 * jobs (plus the few whose outcome is being stored: `maxSettling`).
 *
 * Held jobs are known by the index the executor gives their task (the n-th task yielded is index
 * n). A pull still blocked when the run stops (`return()`) gives back what it claims (moveToWait).
 * An empty pull is not the end: the queue may be rate-limited (sleep its TTL), paused, or other
 * nodes' jobs may come back after a stall; with `exitWhenDrained` it ends once nothing is waiting
 * or delayed and the only active jobs are this node's own.
 */
import type { Job as BullJob, Queue, Worker } from 'bullmq';
import { isJobData, type FailedReason, type JobData } from './job-data.js';
import { loadBullmq } from './load.js';

export interface Held {
  readonly job: BullJob;
  readonly token: string;
  readonly data: JobData;
  /** Its lock was not renewed: another node may run it now, so its outcome is not stored. */
  lost: boolean;
}

export interface ClaimsOptions {
  readonly worker: Worker;
  readonly queue: Queue;
  readonly id: string;
  readonly exitWhenDrained: boolean;
  /** Outcomes being stored at most before a claim waits. */
  readonly maxSettling: number;
  /** Stops claiming (the run drains or aborts). */
  readonly stop: AbortSignal;
  /** A Redis call failed (the connection is away); the claim goes on after a backoff. */
  readonly onError: (error: unknown) => void;
  /** A Redis call succeeded. */
  readonly onOk: () => void;
  /** A job that stalled too often was failed (it killed or hung its workers each time). */
  readonly onStalledFailed: (held: { readonly key: string; readonly attempts: number }) => void;
}

/** Pause after an empty pull that came back at once (a paused queue): no spinning. */
const EMPTY_PULL_PAUSE_MS = 250;
const MAX_BACKOFF_MS = 2000;

export class Claims implements AsyncIterableIterator<unknown> {
  readonly held = new Map<number, Held>();
  peakHeld = 0;
  claimed = 0;
  handedBack = 0;
  stalledFailed = 0;
  /** Outcomes being stored now (their jobs are still held). */
  settling = 0;
  /** The claims ended because the queue was drained (`exitWhenDrained`). */
  drained = false;
  readonly #o: ClaimsOptions;
  #closed = false;
  #index = 0;
  #seq = 0;
  #pending: Promise<unknown> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: ClaimsOptions) {
    this.#o = options;
    options.stop.addEventListener('abort', () => this.#wakeUp(), { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    const pull = this.#claim();
    this.#pending = pull.catch(() => undefined);
    return pull;
  }

  return(): Promise<IteratorResult<unknown>> {
    this.#closed = true;
    this.#wakeUp();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Stops claiming and waits for a pull under way (what it claims goes back to waiting). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeUp();
    await this.#pending;
  }

  /** An outcome was stored (or dropped): the job is no longer held. */
  release(index: number): void {
    this.held.delete(index);
    this.#wakeUp();
  }

  get #stopped(): boolean {
    return this.#closed || this.#o.stop.aborted;
  }

  async #claim(): Promise<IteratorResult<unknown>> {
    const { worker, queue, id } = this.#o;
    let backoff = 100;
    for (;;) {
      while (!this.#stopped && this.settling >= this.#o.maxSettling) await this.#sleep(1000);
      if (this.#stopped) return { done: true, value: undefined };
      const token = `${id}:${++this.#seq}`;
      const started = Date.now();
      let job: BullJob | undefined;
      try {
        job = await worker.getNextJob(token, { block: true });
        this.#o.onOk();
        backoff = 100;
      } catch (error) {
        this.#o.onError(error);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      if (job === undefined) {
        if (this.#stopped) return { done: true, value: undefined };
        try {
          const ttl = await queue.getRateLimitTtl();
          if (ttl > 0) {
            await this.#sleep(ttl + 10);
            continue;
          }
          if (this.#o.exitWhenDrained && (await this.#isDrained())) {
            this.drained = true;
            return { done: true, value: undefined };
          }
        } catch (error) {
          this.#o.onError(error);
        }
        if (Date.now() - started < 50) await this.#sleep(EMPTY_PULL_PAUSE_MS);
        continue;
      }
      if (job.deferredFailure) {
        await this.#failStalled(job, token);
        continue;
      }
      if (this.#stopped) {
        await job.moveToWait(token).then(
          () => {
            this.handedBack += 1;
          },
          (error: unknown) => this.#o.onError(error),
        );
        return { done: true, value: undefined };
      }
      if (!isJobData(job.data)) {
        const reason: FailedReason = {
          stage: 'queue',
          attempts: 0,
          error: {
            name: 'SluiceQueueError',
            code: 'ERR_SLUICE_QUEUE',
            message: `job ${job.id} holds no sluice task (was it added by sluice enqueue?)`,
          },
        };
        const { UnrecoverableError } = await loadBullmq();
        await job
          .moveToFailed(new UnrecoverableError(JSON.stringify(reason)), token, false)
          .catch((error: unknown) => this.#o.onError(error));
        continue;
      }
      const index = this.#index++;
      this.held.set(index, { job, token, data: job.data, lost: false });
      this.claimed += 1;
      if (this.held.size > this.peakHeld) this.peakHeld = this.held.size;
      return { done: false, value: job.data.t };
    }
  }

  /** A job that stalled more than maxStalledCount times: failed for good, or it would come back forever. */
  async #failStalled(job: BullJob, token: string): Promise<void> {
    const key = isJobData(job.data) ? job.data.k : String(job.id);
    const reason: FailedReason = {
      stage: 'worker',
      attempts: job.attemptsStarted,
      error: {
        name: 'SluiceQueueError',
        code: 'ERR_SLUICE_QUEUE',
        message: `the task's job stalled more than the allowed times (${job.deferredFailure}): each worker that held it died or stopped renewing its lock`,
      },
    };
    try {
      const { UnrecoverableError } = await loadBullmq();
      await job.moveToFailed(new UnrecoverableError(JSON.stringify(reason)), token, false);
      this.stalledFailed += 1;
      this.#o.onStalledFailed({ key, attempts: job.attemptsStarted });
    } catch (error) {
      this.#o.onError(error);
    }
  }

  async #isDrained(): Promise<boolean> {
    const counts = await this.#o.queue.getJobCounts('waiting', 'delayed', 'prioritized', 'waiting-children', 'active');
    const waiting = (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0);
    return waiting === 0 && (counts.active ?? 0) <= this.held.size;
  }

  /** Sleeps `ms`, or less when the claims stop or a held job is released. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.#wake === done) self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }
}
