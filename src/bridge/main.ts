/**
 * The main-thread half of the bridge, one per cpu stage that declares `expose` or `onProgress`.
 *
 * Each worker thread of the stage gets one link home for its whole life: a BroadcastChannel named
 * after the stage and the thread (`sluice-bridge:<stage key>:<threadId>`), so exactly two ends
 * share it, this one and the thread's. Both ends know the name without anything being sent: the
 * main side reads thread ids from Piscina (`pool.threads`, then `workerCreate`), the worker reads
 * its own. A task message only adds a task id to a plain stage's; every message on a link
 * carries that id, which routes progress to the task and gives an exposed function its task's
 * context. Why not a MessageChannel per task: creating one costs about 30 µs of main-thread CPU,
 * as much as a whole no-op task (bench/bridge/measure.ts measured the difference), and Piscina gives no way
 * to hand a port to a given thread. The price: a BroadcastChannel has no transfer list, so host
 * call arguments and results are always copied.
 *
 * On a link, progress messages go to `onProgress`; anything else is comlink's, which calls the
 * exposed functions (set up on a link's first call, so links that never call cost nothing more).
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { expose, type Endpoint } from 'comlink';
import { SluiceBridgeError } from '../errors.js';
import { serializeError } from '../wire/envelope.js';
import { isProgress, linkName, REMOTE_ERROR_KEY, type BridgeData, type BridgedTask } from '../wire/link.js';
import type { Exposed, HostCallContext, TaskProgress } from './types.js';

/** A bridged stage, as the cpu runner resolved it. */
export interface BridgeSpec {
  readonly stage: string;
  /** The exposed functions (null prototype, frozen), or undefined when none. */
  readonly expose: Exposed | undefined;
  readonly onProgress: ((event: TaskProgress) => void) | undefined;
  /** Called when `onProgress` throws or rejects; the task goes on regardless. */
  readonly onListenerError: (error: unknown) => void;
}

/** The task a bridge serves. */
export interface TaskInfo {
  readonly index: number;
  /** The run's key for the task; undefined: `String(index)`. */
  readonly key: string | undefined;
  readonly task: unknown;
  /** The run's signal for the task. */
  readonly signal: AbortSignal;
}

/** The events of Piscina's that the bridge follows (a structural view of a Piscina pool). */
export interface ThreadSource {
  readonly threads: readonly { readonly threadId: number }[];
  on(event: 'workerCreate' | 'workerDestroy', listener: (worker: { readonly id: number }) => void): unknown;
}

/** One task in flight on a bridged stage. Call `close()` when it settles, however it settles. */
export interface OpenTask {
  /** The task's id on its thread's link (what a batch sends for it). */
  readonly id: number;
  /** The task message: the input, its index and key, and the task id. */
  message(input: unknown): BridgedTask;
  /** Delivers the task's last progress, then forgets the task: later calls and progress are dropped. */
  close(): void;
}

interface Link {
  readonly channel: BroadcastChannel;
  listener: ((event: { data: unknown }) => void) | undefined;
  exposed: boolean;
  closed: boolean;
}

interface TaskState extends TaskInfo {
  readonly id: number;
  controller?: AbortController;
  context?: HostCallContext;
  onAbort?: () => void;
}

type ApiFunction = (id: number, ...args: unknown[]) => unknown;

const counts = { links: 0, tasks: 0 };

/** Links and tasks the bridges hold now, across stages: both 0 when nothing runs and pools are closed. */
export function bridgeCounts(): { readonly links: number; readonly tasks: number } {
  return { ...counts };
}

export class StageBridge {
  /** What the stage's workers need to know (Piscina's `workerData.bridge`). */
  readonly data: BridgeData;
  readonly #spec: BridgeSpec;
  readonly #links = new Map<number, Link>();
  readonly #tasks = new Map<number, TaskState>();
  readonly #api: Record<string, ApiFunction>;
  #pool: ThreadSource | undefined;
  #nextId = 0;

  constructor(spec: BridgeSpec) {
    this.#spec = spec;
    const names = Object.keys(spec.expose ?? {});
    this.data = { key: randomUUID(), names, progress: spec.onProgress !== undefined };
    this.#api = Object.create(null) as Record<string, ApiFunction>;
    for (const name of names) this.#api[name] = (id, ...args) => this.#call(name, id, args);
  }

  /** Follows the pool's threads: a link for each, now and as Piscina replaces them. */
  attach(pool: ThreadSource): void {
    this.#pool = pool;
    for (const worker of pool.threads) this.#link(worker.threadId);
    // A replacement can still report in while the pool is being destroyed: ignore a detached pool.
    pool.on('workerCreate', (worker) => this.#pool === pool && this.#link(worker.id));
    // A thread that has exited reports its id as -1, so drop the links of whatever threads the
    // pool no longer has, once Piscina has removed this one (right after the event).
    pool.on('workerDestroy', () => queueMicrotask(() => this.#prune(pool)));
  }

  #prune(pool: ThreadSource): void {
    if (this.#pool !== pool) return;
    const live = new Set(pool.threads.map((worker) => worker.threadId));
    for (const threadId of [...this.#links.keys()]) if (!live.has(threadId)) this.#unlink(threadId);
  }

  /** Closes every link (once the pool is destroyed). */
  detach(): void {
    this.#pool = undefined;
    for (const threadId of [...this.#links.keys()]) this.#unlink(threadId);
  }

  open(info: TaskInfo): OpenTask {
    const state: TaskState = { index: info.index, key: info.key, task: info.task, signal: info.signal, id: this.#nextId++ };
    this.#tasks.set(state.id, state);
    counts.tasks += 1;
    return {
      id: state.id,
      message: (input) => ({ input, index: state.index, key: state.key, id: state.id }),
      close: () => this.#close(state),
    };
  }

  #close(state: TaskState): void {
    if (this.#tasks.get(state.id) !== state) return;
    // The task's answer came on Piscina's channel; progress it posted before answering may still
    // be queued on its link (it is in the queue already: posting enqueues). Take in everything
    // queued, in order, so the task's progress reaches onProgress before its outcome.
    if (this.#spec.onProgress !== undefined) {
      for (const link of this.#links.values()) {
        // Node documents a BroadcastChannel as a valid argument; @types/node only has MessagePort.
        const port = link.channel as unknown as MessagePort;
        for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) this.#receive(link, m.message);
      }
    }
    this.#tasks.delete(state.id);
    counts.tasks -= 1;
    if (state.controller) {
      state.signal.removeEventListener('abort', state.onAbort!);
      state.controller.abort(new SluiceBridgeError(`Task #${state.index} of cpu stage "${this.#spec.stage}" ended`));
    }
  }

  #link(threadId: number): void {
    if (this.#links.has(threadId)) return;
    const channel = new BroadcastChannel(linkName(this.data.key, threadId));
    const link: Link = { channel, listener: undefined, exposed: false, closed: false };
    channel.onmessage = (event) => this.#receive(link, (event as { data: unknown }).data);
    // A link must not keep the process alive: a task in flight does (Piscina refs its thread).
    channel.unref();
    this.#links.set(threadId, link);
    counts.links += 1;
  }

  #unlink(threadId: number): void {
    const link = this.#links.get(threadId);
    if (link === undefined) return;
    this.#links.delete(threadId);
    link.closed = true;
    link.channel.close();
    counts.links -= 1;
  }

  #receive(link: Link, data: unknown): void {
    if (isProgress(data)) {
      const state = this.#tasks.get(data.id);
      if (state !== undefined) this.#progress(state, data.value);
      return;
    }
    if (!link.exposed) {
      link.exposed = true;
      expose(this.#api, endpoint(link));
    }
    link.listener?.({ data });
  }

  #progress(state: TaskState, value: unknown): void {
    const listener = this.#spec.onProgress;
    if (listener === undefined) return;
    try {
      const r = listener({ stage: this.#spec.stage, index: state.index, task: state.task, value }) as unknown;
      if (isThenable(r)) r.then(undefined, this.#spec.onListenerError);
    } catch (error) {
      this.#spec.onListenerError(error);
    }
  }

  /** Returns what the function returns (comlink awaits it); its errors leave as plain data. */
  #call(name: string, id: number, args: unknown[]): unknown {
    try {
      const state = this.#tasks.get(id);
      // The worker half drops the answer to a task that has ended; this only keeps it short.
      if (state === undefined) throw new SluiceBridgeError(`host().${name}(): the task has ended`);
      const result = this.#spec.expose![name]!.apply(this.#hostContext(state), args);
      return isThenable(result) ? Promise.resolve(result).catch(toRemoteError) : result;
    } catch (error) {
      return toRemoteError(error);
    }
  }

  #hostContext(state: TaskState): HostCallContext {
    if (state.context) return state.context;
    const controller = new AbortController();
    state.controller = controller;
    if (state.signal.aborted) controller.abort(state.signal.reason);
    else {
      state.onAbort = () => controller.abort(state.signal.reason);
      state.signal.addEventListener('abort', state.onAbort, { once: true });
    }
    state.context = Object.freeze({
      stage: this.#spec.stage,
      index: state.index,
      key: state.key ?? String(state.index),
      task: state.task,
      signal: controller.signal,
    });
    return state.context;
  }
}

/** comlink's view of a link: it hears what `#receive` passes on, and says nothing once closed. */
function endpoint(link: Link): Endpoint {
  return {
    // An exposed function may answer after its thread is gone; a closed channel would throw.
    postMessage: (message: unknown) => {
      if (!link.closed) link.channel.postMessage(message);
    },
    addEventListener: (_type: string, listener: unknown) => {
      link.listener = listener as (event: { data: unknown }) => void;
    },
    removeEventListener: () => {
      link.listener = undefined;
    },
  } as Endpoint;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Plain data, so that comlink passes it on as is; the worker half turns it back into an Error. */
function toRemoteError(error: unknown): never {
  throw { [REMOTE_ERROR_KEY]: serializeError(error) };
}
