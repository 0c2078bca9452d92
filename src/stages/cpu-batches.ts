/**
 * A batching cpu stage's hand-off: tasks wait here until a thread is free, and a free thread
 * receives up to B of them (./batch-size.ts) in one message, answered in one message. The
 * pipeline admits at most (threads + 1) x B tasks into the stage: one batch more than the threads
 * run, so that when a thread answers the next batch is ready and goes at once, before the
 * answer's results are handed out (the thread would otherwise wait for the main thread to take
 * them and admit new tasks). That batch waits here, not on a thread: whichever thread frees first
 * takes it.
 *
 * - It never waits for a batch to fill: B ready tasks go at once; fewer go at the next turn of the
 *   event loop (`setImmediate`), after the tasks being admitted in this turn have arrived.
 * - Work is pulled: a batch goes to whichever thread frees first (Piscina's own queue is never
 *   used), so no thread holds a private queue of more than one batch.
 * - Outcomes stay per task: each task's envelope settles it alone (./cpu-answer.ts). When a
 *   batch's thread dies, its tasks run again one per message, so the task that kills its thread
 *   fails alone with WORKER_CRASHED and the others complete (each at least once, never reported
 *   twice). For that, a batch of more than one task copies its inputs' binary payloads rather
 *   than moving them (a moved buffer would die with the thread); a lone task's still move, and
 *   results move back either way. When the post fails, the inputs that cannot be cloned fail and
 *   the others run again.
 * - An aborted run's waiting tasks reject at once; its running batches are aborted by Piscina.
 */
import type { Piscina } from 'piscina';
import type { OpenTask, StageBridge } from '../bridge/main.js';
import { SluiceDataCloneError, SluiceStateError, ErrorCodes } from '../errors.js';
import { findUncloneable, isCloneError } from '../wire/clone-path.js';
import type { BatchMessage, BatchReply, Envelope } from '../wire/envelope.js';
import { collectTransferables } from '../wire/transfer.js';
import type { BatchSize } from './batch-size.js';
import { crashError, inputCloneFailure, openEnvelope } from './cpu-answer.js';
import type { ResolvedCpuStage } from './cpu-options.js';
import type { TaskRef } from './runner.js';

interface Waiting {
  readonly input: unknown;
  readonly ref: TaskRef;
  readonly signal: AbortSignal;
  /** Sent alone: it was in a batch whose thread died (or whose post failed). */
  solo: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class Batches {
  readonly #stage: ResolvedCpuStage;
  readonly #pool: () => Piscina;
  readonly #size: BatchSize;
  readonly #bridge: StageBridge | undefined;
  #queue: Waiting[] = [];
  /** Threads running a batch of this stage. */
  #busy = 0;
  #immediate: NodeJS.Immediate | undefined;
  readonly #watched = new WeakSet<AbortSignal>();
  #closed = false;
  /** Tasks sent again alone after their batch's thread died. */
  rerun = 0;

  constructor(stage: ResolvedCpuStage, pool: () => Piscina, size: BatchSize, bridge: StageBridge | undefined) {
    this.#stage = stage;
    this.#pool = pool;
    this.#size = size;
    this.#bridge = bridge;
  }

  run(input: unknown, ref: TaskRef, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new SluiceStateError(ErrorCodes.CLOSED, 'The executor is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, ref, signal, solo: false, resolve, reject });
      this.#watch(signal);
      this.#schedule();
    });
  }

  /** Rejects what still waits (nothing does once a run has settled). */
  close(): void {
    this.#closed = true;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    const error = new SluiceStateError(ErrorCodes.CLOSED, 'The executor is closed');
    for (const w of this.#queue.splice(0)) w.reject(error);
  }

  #schedule(): void {
    const queue = this.#queue;
    if (this.#busy >= this.#stage.threads || queue.length === 0) return;
    if (queue.length >= this.#size.size || queue[0]!.solo) {
      this.#dispatch();
      return;
    }
    this.#immediate ??= setImmediate(() => {
      this.#immediate = undefined;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#busy < this.#stage.threads && this.#queue.length > 0) {
      this.#busy += 1;
      void this.#send(this.#take());
    }
  }

  /** The next batch: a task to run alone, or up to B tasks of one run from the front of the queue. */
  #take(): Waiting[] {
    const queue = this.#queue;
    const head = queue[0]!;
    if (head.solo) return queue.splice(0, 1);
    const max = Math.min(this.#size.size, queue.length);
    let n = 1;
    while (n < max && !queue[n]!.solo && queue[n]!.signal === head.signal) n += 1;
    return queue.splice(0, n);
  }

  async #send(batch: Waiting[]): Promise<void> {
    const stage = this.#stage;
    const signal = batch[0]!.signal;
    const bridge = this.#bridge;
    const tasks = bridge ? batch.map((w) => bridge.open({ task: w.ref.task, index: w.ref.index, key: w.ref.key, signal })) : undefined;
    const message = batchMessage(batch, tasks);
    // A lone task's input buffers move; a batch's are copied, so that if its thread dies each of
    // its tasks can run again (a moved buffer would have died with the thread).
    const transferList = stage.transfer && batch.length === 1 ? collectTransferables(batch[0]!.input) : NONE;
    // Only 'auto' sizes by bytes: a fixed B walks no input for them.
    const bytes = !this.#size.auto ? 0 : batch.length === 1 && transferList !== NONE ? byteLength(transferList) : inputBytes(batch);
    this.#size.sent(batch.length);
    const posted = performance.now();
    let reply: BatchReply;
    try {
      reply = (await this.#pool().run(message, {
        signal,
        ...(transferList.length > 0 ? { transferList: transferList as never } : {}),
      })) as BatchReply;
    } catch (error) {
      this.#busy -= 1;
      this.#size.returned(batch.length);
      if (tasks) for (const t of tasks) t.close();
      this.#failed(batch, signal, error);
      this.#schedule();
      return;
    }
    this.#busy -= 1;
    this.#size.returned(batch.length);
    this.#size.record(batch.length, reply.ms, bytes, performance.now() - posted);
    // The next batch (ready in the queue: the stage holds one batch more than its threads run)
    // goes before these results are handed out, so the thread does not wait for that work.
    this.#schedule();
    const failed = new Map<number, Envelope>();
    for (const f of reply.failures) failed.set(f.at, f.envelope);
    for (let k = 0; k < batch.length; k++) {
      const w = batch[k]!;
      // The task's last progress is delivered before its outcome.
      tasks?.[k]?.close();
      const envelope = failed.get(k);
      if (envelope === undefined) {
        w.resolve(reply.values[k]);
        continue;
      }
      try {
        w.resolve(openEnvelope(stage, envelope));
      } catch (error) {
        w.reject(error);
      }
    }
  }

  /** Piscina rejected the batch: it was aborted, its post failed, or its thread died before it answered. */
  #failed(batch: Waiting[], signal: AbortSignal, error: unknown): void {
    const name = this.#stage.name;
    if (signal.aborted) {
      for (const w of batch) w.reject(error);
      return;
    }
    if (batch.length === 1) {
      const w = batch[0]!;
      w.reject(inputCloneFailure(name, w.input, error) ?? crashError(name, w.ref.index, error));
      return;
    }
    const again: Waiting[] = [];
    for (const w of batch) {
      const found = isCloneError(error) ? findUncloneable(w.input, 'input') : undefined;
      if (found !== undefined) {
        w.reject(new SluiceDataCloneError(name, 'input', found, error));
        continue;
      }
      w.solo = true;
      again.push(w);
    }
    this.rerun += again.length;
    this.#queue.unshift(...again);
  }

  /** An aborted run's waiting tasks reject at once (one listener per run's signal). */
  #watch(signal: AbortSignal): void {
    if (this.#watched.has(signal)) return;
    this.#watched.add(signal);
    signal.addEventListener(
      'abort',
      () => {
        const kept: Waiting[] = [];
        for (const w of this.#queue) {
          if (w.signal === signal) w.reject(signal.reason);
          else kept.push(w);
        }
        this.#queue = kept;
      },
      { once: true },
    );
  }
}

const NONE: readonly ArrayBuffer[] = [];

function byteLength(buffers: readonly ArrayBuffer[]): number {
  let n = 0;
  for (const b of buffers) n += b.byteLength;
  return n;
}

/** The binary payloads a batch's inputs carry, in bytes (what 'auto' keeps a batch under). */
function inputBytes(batch: readonly Waiting[]): number {
  let n = 0;
  for (const w of batch) n += byteLength(collectTransferables(w.input));
  return n;
}

/** A batch as it is posted: one array per field (bridged stages add each task's id). */
function batchMessage(batch: readonly Waiting[], tasks: readonly OpenTask[] | undefined): BatchMessage {
  const n = batch.length;
  const inputs = new Array<unknown>(n);
  const indexes = new Array<number>(n);
  let keys: (string | undefined)[] | undefined;
  for (let k = 0; k < n; k++) {
    const { input, ref } = batch[k]!;
    inputs[k] = input;
    indexes[k] = ref.index;
    if (ref.key !== undefined) {
      keys ??= new Array<string | undefined>(n);
      keys[k] = ref.key;
    }
  }
  const ids = tasks?.map((t) => t.id);
  return { inputs, indexes, keys, ids };
}
